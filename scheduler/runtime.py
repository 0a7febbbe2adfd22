"""Wiring for the processes (CLI, workers, dispatcher): settings, database, adapters, clock."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from sqlalchemy.engine import make_url

from scheduler.credentials import seal_plain_options
from scheduler.publishing.content import ChannelInfo
from scheduler.publishing.ports import Publisher, RateLimiter
from scheduler.publishing.ratelimit import MemoryLimiter
from scheduler.redaction import install_log_redaction
from scheduler.settings import Settings
from scheduler.store import Database, open_database
from scheduler.when import utcnow


@dataclass
class Runtime:
    settings: Settings
    db: Database
    clock: Callable[[], datetime] = field(default=utcnow)
    limiter: RateLimiter = field(default_factory=MemoryLimiter)

    def adapters(self, channel: ChannelInfo) -> Publisher:
        from adapters import get_adapter  # the platform SDKs load when a channel is first used, not per command

        return get_adapter(channel, self.settings)


def build_runtime(settings: Settings | None = None, *, migrate: bool = True) -> Runtime:
    settings = settings or Settings()
    install_log_redaction()
    settings.check_secret()  # an empty or short key is refused before anything is stored with it
    make_private(settings)
    broker = settings.broker_url or ""
    # several worker processes share Redis's count; the embedded mode is one process
    limiter: RateLimiter = MemoryLimiter()
    if broker.startswith(("redis://", "rediss://")):
        from scheduler.publishing.ratelimit import RedisLimiter

        limiter = RedisLimiter(broker)
    db = open_database(settings.database_url, migrate=False)
    if migrate and not db.at_head():
        upgrade(db, settings)
    return Runtime(settings=settings, db=db, limiter=limiter)


def upgrade(db: Database, settings: Settings) -> None:
    """Apply pending migrations, then encrypt what older versions stored in plain text (webhook
    URLs: a migration does not hold the secret key)."""
    db.upgrade()
    seal_plain_options(db, settings)


def make_private(settings: Settings) -> None:
    """The data directory is the owner's alone (0700), and so are the SQLite database, its
    journals and the key file (0600): they hold every post, token and webhook URL."""
    _restrict(settings.data_dir, 0o700, directory=True)
    url = make_url(settings.database_url)
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return
    database = Path(url.database)
    _restrict(database.parent, 0o700, directory=True, only_new=database.parent != settings.data_dir)
    if not database.exists():
        os.close(os.open(database, os.O_WRONLY | os.O_CREAT, 0o600))  # SQLite takes an empty file as new
    for path in (database, *(database.with_name(database.name + end) for end in ("-wal", "-shm", "-journal"))):
        _restrict(path, 0o600)
    _restrict(settings.key_file, 0o600)


def _restrict(path: Path, mode: int, *, directory: bool = False, only_new: bool = False) -> None:
    if directory and not path.exists():
        path.mkdir(mode=mode, parents=True, exist_ok=True)
        return
    if only_new:
        return
    try:
        if path.stat().st_mode & 0o777 & ~mode:
            path.chmod(mode)
    except FileNotFoundError:
        return
    except PermissionError:
        logging.getLogger("crosspost").warning("cannot make %s private (mode %o): not its owner", path, mode)


_per_process: dict[int, Runtime] = {}


def process_runtime() -> Runtime:
    """One runtime per process, made lazily so that a forked worker child opens its own connections."""
    pid = os.getpid()
    if pid not in _per_process:
        _per_process.clear()
        _per_process[pid] = build_runtime(migrate=False)
    return _per_process[pid]
