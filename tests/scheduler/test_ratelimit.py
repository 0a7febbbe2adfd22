"""Rate limits shared by every worker: counted in Redis across processes, in memory in one."""

from __future__ import annotations

import os
import uuid
from datetime import timedelta

import pytest
import redis

from scheduler.publishing import publications
from scheduler.publishing.ports import Limit, PublishContext, Published
from scheduler.publishing.ratelimit import MemoryLimiter, RedisLimiter
from scheduler.runtime import Runtime
from tests.conftest import Clock
from tests.helpers import add_dry_run_channels, publication_states

TWO_A_MINUTE = Limit("create", 2, 60, "posts per minute")


def _redis_url() -> str:
    url = os.environ.get("CROSSPOST_TEST_REDIS_URL", "redis://127.0.0.1:6379/9")
    try:
        redis.Redis.from_url(url).ping()
    except redis.RedisError as error:  # pragma: no cover - depends on the machine
        pytest.skip(f"Redis is not reachable at {url}: {error}")
    return url


def test_the_memory_limiter_allows_the_count_then_says_how_long_to_wait() -> None:
    limiter = MemoryLimiter()
    assert [limiter.reserve("x:create:1", TWO_A_MINUTE) for _ in range(2)] == [0.0, 0.0]
    wait = limiter.reserve("x:create:1", TWO_A_MINUTE)
    assert 59 < wait <= 60
    assert limiter.reserve("x:create:2", TWO_A_MINUTE) == 0.0  # another account has its own window


def test_workers_in_different_processes_share_one_count_in_redis() -> None:
    url, key = _redis_url(), f"test:{uuid.uuid4().hex}"
    first, second = RedisLimiter(url), RedisLimiter(url)  # as two worker processes would
    assert first.reserve(key, TWO_A_MINUTE) == 0.0
    assert second.reserve(key, TWO_A_MINUTE) == 0.0
    assert 59 < first.reserve(key, TWO_A_MINUTE) <= 60
    assert 59 < second.reserve(key, TWO_A_MINUTE) <= 60


class _Limited:
    lookup_proves_absence = False
    absence_settles_after = None
    rate_limits = (TWO_A_MINUTE,)

    def __init__(self) -> None:
        self.calls = 0

    def prepare(self, content: object) -> object:
        return content

    def publish(self, prepared: object, ctx: PublishContext) -> Published:
        self.calls += 1
        return Published(remote_id=str(ctx.publication_id))

    def lookup(self, prepared: object, ctx: PublishContext) -> Published | None:
        return None

    def refreshed_credentials(self, *, force: bool = False) -> None:
        return None


def test_a_post_over_the_limit_waits_in_the_database_without_calling_the_platform(
    runtime: Runtime, clock: Clock
) -> None:
    from scheduler import posts

    [channel] = add_dry_run_channels(runtime, "x")
    at = (clock.now + timedelta(seconds=10)).isoformat()
    ids = [
        posts.create_post(runtime.db, runtime.settings, text=f"p{n}", channels=[channel], at=at, now=clock.now)
        for n in range(3)
    ]
    publisher, limiter = _Limited(), MemoryLimiter()
    for dispatch in publications.claim_due(runtime.db, now=clock.now, settings=runtime.settings):
        publications.publish(
            runtime.db,
            dispatch.publication_id,
            dispatch.token,
            lambda _: publisher,  # type: ignore[arg-type,return-value]
            settings=runtime.settings,
            clock=clock,
            limiter=limiter,
        )
    states = [publication_states(runtime, post_id)[channel] for post_id in ids]
    assert sorted(states) == ["published", "published", "retry_wait"]
    assert publisher.calls == 2
    events = [e for e in posts.read_events(runtime.db) if e.to_state == "retry_wait"]
    assert "x's limit of 2 posts per minute reached" in (events[0].message or "")
