"""Rate limits shared by every worker (ports.RateLimiter): a sliding window per platform and account.

In Redis (the broker's) when workers run in several processes or hosts: one atomic Lua script
per reservation, so two workers can never both take the last call of a window. In memory in
the embedded mode, where every worker is a thread of one process.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import deque

from scheduler.publishing.ports import Limit

_RESERVE = """
local key, now, window, count, member = KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4]
redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
if redis.call('ZCARD', key) < count then
  redis.call('ZADD', key, now, member)
  redis.call('PEXPIRE', key, math.ceil(window * 1000))
  return '0'
end
local oldest = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
return tostring(tonumber(oldest[2]) + window - now)
"""


class MemoryLimiter:
    def __init__(self) -> None:
        self._calls: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def reserve(self, key: str, limit: Limit) -> float:
        now = time.monotonic()
        with self._lock:
            calls = self._calls.setdefault(key, deque())
            while calls and calls[0] <= now - limit.seconds:
                calls.popleft()
            if len(calls) < limit.count:
                calls.append(now)
                return 0.0
            return calls[0] + limit.seconds - now


class RedisLimiter:
    def __init__(self, url: str) -> None:
        import redis  # only the broker mode needs it

        self._redis = redis.Redis.from_url(url)
        self._script = self._redis.register_script(_RESERVE)

    def reserve(self, key: str, limit: Limit) -> float:
        wait = self._script(
            keys=[f"crosspost:rate:{key}"],
            args=[time.time(), limit.seconds, limit.count, uuid.uuid4().hex],
        )
        return max(0.0, float(wait))
