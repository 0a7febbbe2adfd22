"""The baseline: a Celery no-op task on the same Redis, with the same worker settings as crosspost's."""

from __future__ import annotations

import os

import redis
from celery import Celery

app = Celery("bare", broker=os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/8"))
app.conf.update(
    task_acks_late=True,
    task_reject_on_worker_lost=True,
    worker_prefetch_multiplier=1,
    task_ignore_result=True,
    worker_hijack_root_logger=False,
)
_client = redis.Redis.from_url(app.conf.broker_url)


@app.task(name="bare.noop")
def noop(counter: str) -> None:
    # the only work: count the run, so the benchmark knows when all are done
    _client.incr(counter)
