"""Settings: the only place that reads the environment.

Every value can be set as ``CROSSPOST_<NAME>`` in the environment or in a ``.env`` file.
"""

from __future__ import annotations

import os
import secrets
import socket
from datetime import UTC, date, datetime
from pathlib import Path

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from scheduler.errors import ConfigurationError
from scheduler.redaction import MASK, redact_value

# The secret key encrypts channel credentials and webhook URLs at rest. An empty key would make it a
# constant, a short one guessable: at least this many characters (secrets.token_urlsafe(32) gives 43).
MIN_SECRET_LENGTH = 32
MAKE_SECRET = "make one with: python3 -c 'import secrets; print(secrets.token_urlsafe(32))'"  # noqa: S105

# LinkedIn publishes a version of its REST API every month (YYYYMM) and serves each for about a
# year (shared/reference/platforms.md §2.2), so a fixed default goes stale. The default is the
# version of LINKEDIN_VERSION_LAG months before the current month (UTC, when a process reads its
# settings): surely released (LinkedIn releases a month's version during that month, not always on
# the first), and about ten months from its sunset. CROSSPOST_LINKEDIN_VERSION pins one instead.
LINKEDIN_VERSION_LAG = 2


def linkedin_version_for(today: date, lag: int = LINKEDIN_VERSION_LAG) -> str:
    """The LinkedIn-Version of ``lag`` months before ``today``'s month: 2026-12-03 -> "202610"."""
    months = today.year * 12 + today.month - 1 - lag
    return f"{months // 12:04d}{months % 12 + 1:02d}"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CROSSPOST_", env_file=".env", extra="ignore")

    data_dir: Path = Field(Path("var"), description="Where the SQLite file, media store, outbox and key live.")
    database_url: str = Field("", description="SQLAlchemy URL; empty means a SQLite file in data_dir.")
    broker_url: str | None = Field(
        None, description="Celery broker (redis://...). Unset means the embedded in-process executor."
    )
    outbox_dir: Path | None = Field(None, description="Dry-run outbox; default data_dir/outbox.")
    media_dir: Path | None = Field(None, description="Content-addressed media store; default data_dir/media.")
    secret_key: SecretStr | None = Field(
        None, description="Encrypts channel credentials at rest; default: generated once into data_dir."
    )

    # Dispatch timing (see docs/scheduling.md): precision comes from the poll interval,
    # the look-ahead bounds every Celery ETA far below Redis' visibility timeout.
    dispatch_interval: float = 1.0
    lookahead: float = 30.0
    dispatch_batch: int = 500
    # Publications of one channel due at the same instant travel in one message, up to this many;
    # the worker still claims each on its own just before its call (1: a message each).
    publish_batch: int = Field(20, ge=1, le=100)
    # ... and due within this many seconds of each other: the message goes at the latest of their due
    # times, so none is early and none later than this
    publish_batch_window: float = Field(0.25, ge=0.0, le=5.0)
    # A batch's publications are taken in order by this many threads (each still claimed on its own)
    publish_batch_threads: int = Field(4, ge=1, le=16)
    queued_grace: float = 120.0
    # A publish attempt holds its row for this long and renews it every publish_lease / 5 while it
    # runs, so a long upload keeps its row and a dead worker's row is reconciled within the lease.
    publish_lease: float = 30.0
    # The longest one publish task may run (Celery's soft limit; the hard limit is 60 s later).
    publish_time_limit: float = 3600.0
    # Worker nodes beat this often; one silent for worker_timeout is lost, and what it had been
    # sent is sent again (docs/scheduling.md, "When things die").
    worker_heartbeat: float = 2.0
    worker_timeout: float = 10.0
    reconcile_interval: float = 5.0
    # An attempt without an answer is looked up after reconcile_first_wait, then at growing
    # intervals up to reconcile_backoff, for reconcile_window; what is still unsettled then goes
    # to a person.
    reconcile_first_wait: float = 2.0
    reconcile_backoff: float = 30.0
    reconcile_window: float = 900.0
    max_attempts: int = 5
    retry_base: float = 30.0
    retry_cap: float = 3600.0

    heartbeat_file: Path | None = Field(None, description="Touched every dispatcher round, for health checks.")
    http_timeout: float = 30.0
    # Web sessions (scheduler/accounts/sessions.py): signed out after this long without a request,
    # and after this long whatever happens.
    session_idle_timeout: float = Field(1800.0, gt=0, description="Seconds a web session may stay unused.")
    session_absolute_timeout: float = Field(43200.0, gt=0, description="Seconds a web session lasts at most.")
    # Argon2id cost (OWASP's recommendation: 19 MiB, 2 passes, 1 lane); hashes made with other
    # values are redone at the next sign-in. Tests lower them; production should not.
    password_hash_memory_kib: int = Field(19456, ge=8, description="Argon2id memory per password hash (KiB).")
    password_hash_time_cost: int = Field(2, ge=1, description="Argon2id passes per password hash.")
    max_media_bytes: int = 1024 * 1024 * 1024
    media_fetch_timeout: float = 60.0
    # hosts whose media may be fetched even though they resolve to a private or loopback address
    media_allowed_hosts: frozenset[str] = frozenset()
    # Outbound webhooks (docs/webhooks.md): hosts that may resolve to a private or loopback address,
    # the time limit of one delivery (connection to answer), and how many are sent per round
    webhook_allowed_hosts: frozenset[str] = frozenset()
    webhook_timeout: float = Field(10.0, gt=0, le=60)
    webhook_batch: int = Field(50, ge=1, le=1000)
    publish_queue: str = "publish"
    media_queue: str = "media"
    render_lease: float = 600.0  # a rendition request unanswered this long is asked again
    embedded_threads: int = 4
    # 1, as scheduling-design §1.4 recommends. Higher is safe for correctness (every message is
    # guarded by the claim) and raises throughput, at the cost of messages parked on a busy worker.
    worker_prefetch: int = 1
    worker_id: str = Field(default_factory=lambda: f"{socket.gethostname()}:{os.getpid()}")
    # Platform endpoints (shared/reference/platforms.md): settings, so a deployment or a test can
    # point them elsewhere (a proxy, a contract fake on loopback).
    x_api_url: str = "https://api.twitter.com"  # tweepy signs OAuth 1.0a for this host
    x_upload_url: str = "https://api.x.com"
    x_oauth_url: str = "https://x.com/i/oauth2/authorize"
    x_token_url: str = "https://api.x.com/2/oauth2/token"  # noqa: S105 (a URL, not a secret)
    linkedin_api_url: str = "https://api.linkedin.com"
    linkedin_oauth_url: str = "https://www.linkedin.com/oauth/v2"
    linkedin_version: str = Field(
        default_factory=lambda: linkedin_version_for(datetime.now(UTC).date()),
        description=f"LinkedIn-Version (YYYYMM); default: {LINKEDIN_VERSION_LAG} months before the current month.",
    )
    tiktok_api_url: str = "https://open.tiktokapis.com"
    tiktok_auth_url: str = "https://www.tiktok.com/v2/auth/authorize/"
    youtube_api_url: str = "https://www.googleapis.com"
    youtube_upload_url: str = "https://www.googleapis.com/upload"
    google_oauth_url: str = "https://oauth2.googleapis.com"
    google_auth_url: str = "https://accounts.google.com/o/oauth2/v2/auth"
    public_base_url: str | None = Field(None, description="Where crosspost serves renditions (TikTok pulls photos).")
    media_listen: str | None = Field(None, description="host:port on which `crosspost up` serves /media/ (e.g. :8770).")
    x_media_chunk: int = 4 * 1024 * 1024  # APPEND chunk; the v2 limit is unconfirmed, 1-4 MiB is safe
    x_status_poll_limit: float = 600.0  # give up waiting for X's media processing after this long
    # The HTTP API (`crosspost up`, `crosspost web`); port 0 takes any free port (the log names it).
    web_host: str = Field("127.0.0.1", description="Where `crosspost up` and `crosspost web` serve the API.")
    web_port: int = Field(8000, description="The API's port (http://web_host:web_port/docs).")
    # Notifications to people (docs/notifications.md); without smtp_host no email is sent.
    web_base_url: str = Field("http://127.0.0.1:8000", description="Links in notifications: <this>/posts/<id>.")
    smtp_host: str | None = None
    smtp_port: int = 587
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_starttls: bool = True
    smtp_from: str = "crosspost@localhost"
    digest_hour: int = Field(7, ge=0, le=23, description="The hour (UTC) the daily notification digest is sent.")

    @model_validator(mode="after")
    def _derive_paths(self) -> Settings:
        if not self.database_url:
            self.database_url = f"sqlite:///{self.data_dir / 'crosspost.db'}"
        if self.outbox_dir is None:
            self.outbox_dir = self.data_dir / "outbox"
        if self.media_dir is None:
            self.media_dir = self.data_dir / "media"
        return self

    @property
    def outbox(self) -> Path:
        assert self.outbox_dir is not None
        return self.outbox_dir

    @property
    def media_store(self) -> Path:
        assert self.media_dir is not None
        return self.media_dir

    @property
    def embedded(self) -> bool:
        return not self.broker_url

    def secret(self) -> bytes:
        """The credentials key: CROSSPOST_SECRET_KEY, or generated on first use into
        data_dir/secret.key (mode 0600). An empty or short key is refused (``check_secret``)."""
        self.check_secret()
        if self.secret_key is not None:
            return self.secret_key.get_secret_value().encode()
        key_file = self.key_file
        if not key_file.exists():
            key_file.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as out:
                out.write(secrets.token_urlsafe(32))
        return key_file.read_text().strip().encode()

    @property
    def key_file(self) -> Path:
        return self.data_dir / "secret.key"

    def check_secret(self) -> None:
        """Refuse a key that would make the encryption a formality: empty (the key would be a
        constant) or shorter than MIN_SECRET_LENGTH characters. A key file is made private (0600)."""
        if self.secret_key is not None:
            given = self.secret_key.get_secret_value().strip()
            if len(given) < MIN_SECRET_LENGTH:
                raise ConfigurationError(
                    f"CROSSPOST_SECRET_KEY is {'too short' if given else 'empty'}: "
                    f"it must be at least {MIN_SECRET_LENGTH} random characters; {MAKE_SECRET} "
                    "(or unset it, and one is generated into the data directory)"
                )
            return
        key_file = self.key_file
        try:
            stored = key_file.read_text().strip()
        except FileNotFoundError:
            return  # generated on first use
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigurationError(f"cannot read the secret key in {key_file}: {exc}") from None
        if len(stored) < MIN_SECRET_LENGTH:
            raise ConfigurationError(
                f"the secret key in {key_file} is {'empty' if not stored else 'too short'} "
                f"(at least {MIN_SECRET_LENGTH} characters): write a new one there ({MAKE_SECRET}), or "
                "delete the file to have one generated; credentials stored with the old key must then be "
                "given again (crosspost channel reconnect)"
            )
        if key_file.stat().st_mode & 0o077:
            key_file.chmod(0o600)

    def masked(self) -> dict[str, str]:
        """The effective settings for display, secrets hidden (``scheduler.redaction``)."""
        shown: dict[str, str] = {}
        for name in type(self).model_fields:
            value = getattr(self, name)
            if name == "secret_key":
                shown[name] = "(generated in data_dir/secret.key)" if value is None else MASK
            elif value is None:
                shown[name] = ""
            elif isinstance(value, frozenset):
                shown[name] = str(redact_value(sorted(value)))
            else:
                shown[name] = str(redact_value(str(value), name))
        return shown
