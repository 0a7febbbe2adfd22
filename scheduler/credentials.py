"""Channel credentials, encrypted at rest with the settings secret (Fernet: AES-CBC + HMAC-SHA256)."""

from __future__ import annotations

import base64
import hashlib
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from cryptography.fernet import Fernet, InvalidToken
from sqlalchemy import select, text, update

from scheduler.errors import ConfigurationError
from scheduler.publishing.transitions import record_event
from scheduler.redaction import MASK, is_secret_name, redact, redact_secret_url, redact_value, remember_fields
from scheduler.settings import Settings
from scheduler.store import Channel, Database, Event, Publication


def fernet(settings: Settings) -> Fernet:
    """The one cipher for what crosspost keeps secret at rest (credentials, TOTP secrets, kept API
    answers), keyed with the settings secret."""
    key = base64.urlsafe_b64encode(hashlib.sha256(b"crosspost-credentials:" + settings.secret()).digest())
    return Fernet(key)


def encrypt_credentials(credentials: dict[str, Any], settings: Settings) -> bytes:
    return fernet(settings).encrypt(json.dumps(credentials).encode())


def decrypt_credentials(blob: bytes | None, settings: Settings, channel: str) -> dict[str, Any] | None:
    if blob is None:
        return None
    try:
        data: dict[str, Any] = json.loads(fernet(settings).decrypt(blob))
    except InvalidToken:
        raise ConfigurationError(
            f"cannot decrypt the credentials of channel {channel!r}: CROSSPOST_SECRET_KEY is not the one "
            "they were stored with"
        ) from None
    remember_fields(data)  # from now on masked wherever this process writes or logs them
    return data


# -- options that are secrets ------------------------------------------------------------------------
# A webhook's URL is its key (Slack, Teams, Discord and most receivers put the secret in the path,
# others in the userinfo or the query): it is stored encrypted like credentials, in
# Channel.secret_options, never in Channel.options, and shown as its scheme and host only.

SECRET_OPTIONS = frozenset({"url", "lookup_url"})


def is_secret_option(name: str) -> bool:
    return name in SECRET_OPTIONS or is_secret_name(name)


def seal_options(options: dict[str, Any], settings: Settings) -> tuple[dict[str, Any], bytes | None]:
    """Split a channel's options into the plain ones and the secret ones, encrypted."""
    plain = {key: value for key, value in options.items() if not is_secret_option(key)}
    secret = {key: value for key, value in options.items() if is_secret_option(key)}
    return plain, (fernet(settings).encrypt(json.dumps(secret).encode()) if secret else None)


def unseal_options(blob: bytes | None, settings: Settings, channel: str) -> dict[str, Any]:
    if blob is None:
        return {}
    try:
        data: dict[str, Any] = json.loads(fernet(settings).decrypt(blob))
    except InvalidToken:
        raise ConfigurationError(
            f"cannot decrypt the options of channel {channel!r} (its webhook URL): CROSSPOST_SECRET_KEY is not "
            "the one they were stored with"
        ) from None
    remember_fields(data)
    return data


def channel_options(
    options: dict[str, Any] | None, blob: bytes | None, settings: Settings, channel: str
) -> dict[str, Any]:
    """All of a channel's options, the secret ones decrypted: what its adapter is given."""
    return {**(options or {}), **unseal_options(blob, settings, channel)}


def shown_options(
    options: dict[str, Any] | None, blob: bytes | None, settings: Settings, channel: str
) -> dict[str, Any]:
    """A channel's options for people: the secret ones masked (a URL shows where it goes, not its
    path, query or userinfo)."""
    shown: dict[str, Any] = redact_value(dict(options or {}))
    try:
        secret = channel_options(options, blob, settings, channel)
    except ConfigurationError:
        return {**shown, "secret_options": "cannot be decrypted with this CROSSPOST_SECRET_KEY"}
    for key, value in secret.items():
        if is_secret_option(key):
            shown[key] = redact_secret_url(value) if isinstance(value, str) and "://" in value else MASK
    return shown


def seal_plain_options(db: Database, settings: Settings) -> list[str]:
    """Encrypt the secret options still stored in plain text (channels added before they were
    sealed), and redact what their publications' last errors quoted of them. Run after migrating.
    Returns the channels sealed."""
    sealed = []
    with db.transaction() as session:
        for channel in session.scalars(select(Channel)):
            plain, blob = seal_options(dict(channel.options or {}), settings)
            if blob is None:
                continue
            moved = unseal_options(blob, settings, channel.name)  # remembered: masked from here on
            earlier = unseal_options(channel.secret_options, settings, channel.name)
            channel.options = plain
            channel.secret_options = fernet(settings).encrypt(json.dumps({**moved, **earlier}).encode())
            for publication in session.scalars(
                select(Publication).where(Publication.channel_id == channel.id, Publication.last_error.is_not(None))
            ):
                publication.last_error = redact(publication.last_error or "")
            sealed.append(channel.name)
    if sealed and db.dialect == "sqlite":
        # the plain text would stay in the file's free space and the write-ahead log: rewrite both
        raw = db.engine.raw_connection()
        try:
            raw.execute("VACUUM")
            raw.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            raw.close()
    return sealed


REFRESH_MARGIN = 300.0  # refresh this long before expiry, so a slow upload never runs out of token


def expiring(credentials: dict[str, Any] | None, *, now: float | None = None) -> bool:
    """An OAuth 2.0 token that runs out within the margin and can be refreshed."""
    if not credentials or "expires_at" not in credentials or "refresh_token" not in credentials:
        return False
    return float(credentials["expires_at"]) - REFRESH_MARGIN <= (time.time() if now is None else now)


_refreshing: dict[int, threading.Lock] = {}
_guard = threading.Lock()


@contextmanager
def refresh_lock(db: Database, channel_id: int) -> Iterator[None]:
    """One refresh of a channel's token at a time: TikTok rotates refresh tokens, so a second,
    concurrent refresh with the old one would fail and disconnect the channel. Threads of this
    process share a lock; processes on PostgreSQL share an advisory lock (SQLite deployments
    with several worker processes keep a small window: stated in docs/scheduling.md)."""
    with _guard:
        local = _refreshing.setdefault(channel_id, threading.Lock())
    with local:
        if db.dialect != "postgresql":
            yield
            return
        with db.engine.connect() as connection:
            connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": 7_000_000 + channel_id})
            try:
                yield
            finally:
                connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": 7_000_000 + channel_id})
                connection.commit()


def current_credentials(db: Database, settings: Settings, channel_id: int, name: str) -> dict[str, Any] | None:
    with db.transaction() as session:
        blob = session.scalar(select(Channel.credentials).where(Channel.id == channel_id))
    return decrypt_credentials(blob, settings, name)


def store_credentials(db: Database, settings: Settings, channel_id: int, credentials: dict[str, Any]) -> None:
    with db.transaction() as session:
        session.execute(
            update(Channel)
            .where(Channel.id == channel_id)
            .values(credentials=encrypt_credentials(credentials, settings))
        )


REAUTH_WARNING_DAYS = 7


def warn_expiring(db: Database, settings: Settings, *, now: float | None = None) -> list[str]:
    """Channels whose sign-in runs out within a week and cannot be refreshed (LinkedIn's 60-day
    tokens without programmatic refresh, TikTok's and Google's refresh tokens): one event each,
    ahead of time. Returns the channels warned about now."""
    moment = time.time() if now is None else now
    horizon = moment + REAUTH_WARNING_DAYS * 86400
    warned = []
    with db.transaction() as session:
        for channel in session.scalars(
            select(Channel).where(Channel.status == "active", Channel.credentials.is_not(None))
        ):
            credentials = decrypt_credentials(channel.credentials, settings, channel.name) or {}
            ends = (
                credentials.get("refresh_expires_at")
                if "refresh_token" in credentials
                else credentials.get("expires_at")
            )
            if ends is None or float(ends) > horizon:
                continue
            marker = f"{channel.name}:{int(float(ends))}"
            if session.scalar(
                select(Event.id).where(Event.kind == "channel.reauth_soon", Event.message.like(f"{marker}%"))
            ):
                continue
            days = max(0.0, (float(ends) - moment) / 86400)
            record_event(
                session,
                "channel.reauth_soon",
                now=datetime.fromtimestamp(moment, UTC),
                channel_id=channel.id,
                message=f"{marker}: the sign-in of {channel.name} ends in {days:.1f} days; "
                f"sign in again with crosspost channel connect --name {channel.name}",
            )
            warned.append(channel.name)
    return warned


@dataclass(frozen=True)
class SignInTimes:
    """When a channel's sign-in runs out, from its stored credentials (epoch seconds in them)."""

    token_expires_at: datetime | None  # the access token's end
    refreshable: bool  # a refresh token is kept: the access token is renewed before it ends
    sign_in_ends_at: datetime | None  # when a person must sign in again: the refresh token's end, else the token's


def sign_in_times(credentials: dict[str, Any]) -> SignInTimes:
    expires = _instant(credentials.get("expires_at"))
    refreshable = "refresh_token" in credentials
    return SignInTimes(
        expires, refreshable, _instant(credentials.get("refresh_expires_at")) if refreshable else expires
    )


def _instant(epoch: Any) -> datetime | None:
    try:
        return None if epoch is None else datetime.fromtimestamp(float(epoch), UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        return None
