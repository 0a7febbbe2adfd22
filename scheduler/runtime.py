"""Wiring for the processes (CLI, workers, dispatcher): settings, database, adapters, clock."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from adapters import get_adapter
from scheduler.content import ChannelInfo
from scheduler.ports import Publisher, RateLimiter
from scheduler.ratelimit import MemoryLimiter, RedisLimiter
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
        return get_adapter(channel, self.settings)


def build_runtime(settings: Settings | None = None, *, migrate: bool = True) -> Runtime:
    settings = settings or Settings()
    broker = settings.broker_url or ""
    # several worker processes share Redis's count; the embedded mode is one process
    limiter: RateLimiter = RedisLimiter(broker) if broker.startswith(("redis://", "rediss://")) else MemoryLimiter()
    return Runtime(settings=settings, db=open_database(settings.database_url, migrate=migrate), limiter=limiter)


_per_process: dict[int, Runtime] = {}


def process_runtime() -> Runtime:
    """One runtime per process, made lazily so that a forked worker child opens its own connections."""
    pid = os.getpid()
    if pid not in _per_process:
        _per_process.clear()
        _per_process[pid] = build_runtime(migrate=False)
    return _per_process[pid]
