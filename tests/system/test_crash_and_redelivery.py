"""Crash, redelivery, concurrency and broker-loss tests with real processes on real Redis.

What happens when a worker dies mid-publish: the row stays `publishing` under its lease; when the
lease runs out the dispatcher marks it `unknown` and a worker reconciles it by asking the
receiver (webhook lookup) whether the post landed. Landed: `published`, no second call.
Provably not landed: tried again, once. The sink counts every request by idempotency key, so
"published twice" would show as a count of 2.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from celery import Celery

from scheduler import posts
from scheduler.publishing import publications
from scheduler.runtime import Runtime
from scheduler.store import open_database
from tests.fakes.sink import Sink
from tests.helpers import add_webhook_channel
from tests.system.conftest import PrivateRedis, Processes, wait_until

pytestmark = pytest.mark.system


def _states(runtime: Runtime, post_ids: list[int]) -> list[str]:
    return [p["state"] for post_id in post_ids for p in posts.show_post(runtime.db, post_id)["publications"]]


def _queue_posts(runtime: Runtime, channel: str, count: int, *, in_seconds: float) -> list[int]:
    """``count`` posts due together, ``in_seconds`` after the last is stored (a slow machine may take
    a while to store many: ~20 ms a post on PostgreSQL)."""
    due = (runtime.clock() + timedelta(seconds=in_seconds + 0.05 * count)).isoformat()
    return [
        posts.create_post(
            runtime.db, runtime.settings, text=f"post {i}", channels=[channel], at=due, now=runtime.clock()
        )
        for i in range(count)
    ]


def _children(pid: int) -> list[int]:
    return [int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


def _pool_children(supervisor: int) -> list[int]:
    """`crosspost worker` -> the Celery main process -> its pool children."""
    (celery_main,) = _children(supervisor)
    return _children(celery_main)


@pytest.mark.parametrize("landed", [True, False], ids=["request-landed", "request-lost"])
@pytest.mark.parametrize("victim", ["worker", "pool-child"])
def test_worker_killed_mid_publish_ends_published_exactly_once(
    processes: Processes, system_runtime: Runtime, private_redis: PrivateRedis, landed: bool, victim: str
) -> None:
    env = {"CROSSPOST_BROKER_URL": private_redis.url}
    processes.env.update(env)
    with Sink() as sink:
        sink.state.hold = threading.Event()
        sink.state.hold_next = 1
        sink.state.record_on_hold = landed
        channel = add_webhook_channel(system_runtime, "hook", sink.options())
        (post_id,) = _queue_posts(system_runtime, channel, 1, in_seconds=1)
        worker = processes.start("worker", "--concurrency", "1", ready="ready.")
        processes.start("dispatcher")
        assert sink.state.holding.wait(30), processes.logs()
        assert _states(system_runtime, [post_id]) == ["publishing"]

        if victim == "worker":
            processes.kill(worker)
            processes.start("worker", "--concurrency", "1", ready="ready.")
        else:
            # Celery re-queues the message at once (reject_on_worker_lost); the claim makes it a no-op
            (child,) = _pool_children(worker.pid)
            __import__("os").kill(child, 9)

        wait_until(lambda: _states(system_runtime, [post_id]) == ["published"], 60, "reconciliation")
        assert sink.state.received_keys() == [
            posts.show_post(system_runtime.db, post_id)["publications"][0]["remote_id"].removeprefix("sink-")
        ]
        kinds = [e.kind for e in posts.read_events(system_runtime.db, post_id=post_id)]
        assert "publication.unknown" in kinds
        assert kinds[-1] == "publication.published"
        expected_publishing = 1 if landed else 2
        assert kinds.count("publication.publishing") == expected_publishing, processes.logs()


def test_the_same_message_delivered_twice_publishes_once(
    processes: Processes, system_runtime: Runtime, machine_redis_url: str
) -> None:
    processes.env["CROSSPOST_BROKER_URL"] = machine_redis_url
    with Sink() as sink:
        channel = add_webhook_channel(system_runtime, "hook", sink.options())
        (post_id,) = _queue_posts(system_runtime, channel, 1, in_seconds=1)
        (dispatch,) = publications.claim_due(
            system_runtime.db, now=system_runtime.clock(), settings=system_runtime.settings
        )
        client = Celery(broker=machine_redis_url)
        try:
            for _ in range(3):
                client.send_task(
                    "crosspost.publish",
                    args=[dispatch.publication_id, dispatch.token],
                    queue=processes.env["CROSSPOST_PUBLISH_QUEUE"],
                )
        finally:
            client.close()
        processes.start("worker", "--concurrency", "2", ready="ready.")
        wait_until(lambda: _states(system_runtime, [post_id]) == ["published"], 30, "publication")
        # the two extra deliveries were received and found nothing to claim
        wait_until(lambda: processes.logs().count("stale message") == 2, 10, "both duplicates to be seen")
        assert len(sink.state.received_keys()) == 1
        kinds = [e.kind for e in posts.read_events(system_runtime.db, post_id=post_id)]
        assert kinds.count("publication.publishing") == 1


@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
def test_two_dispatchers_publish_each_publication_once(
    processes: Processes, machine_redis_url: str, database: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    processes.env["CROSSPOST_BROKER_URL"] = machine_redis_url
    if database == "postgresql":
        url: str = request.getfixturevalue("pg_server_url")
        from tests.conftest import _truncate

        _truncate(url)
        processes.env["CROSSPOST_DATABASE_URL"] = url
    from tests.conftest import make_settings

    settings = make_settings(
        tmp_path / "data",
        processes.env["CROSSPOST_DATABASE_URL"],
        secret_key="system-test-secret-of-at-least-32-characters",
    )
    runtime = Runtime(settings=settings, db=open_database(settings.database_url))
    with Sink() as sink:
        channel = add_webhook_channel(runtime, "hook", sink.options())
        post_ids = _queue_posts(runtime, channel, 150, in_seconds=3)
        processes.start("worker", "--concurrency", "2", ready="ready.")
        processes.start("dispatcher")
        processes.start("dispatcher")
        wait_until(lambda: set(_states(runtime, post_ids)) == {"published"}, 90, "all publications")
        keys = sink.state.received_keys()
        assert len(keys) == 150
        assert len(set(keys)) == 150
    runtime.db.dispose()


def test_redis_restarted_while_publications_are_queued(
    processes: Processes, system_runtime: Runtime, private_redis: PrivateRedis
) -> None:
    processes.env["CROSSPOST_BROKER_URL"] = private_redis.url
    with Sink() as sink:
        channel = add_webhook_channel(system_runtime, "hook", sink.options())
        post_ids = _queue_posts(system_runtime, channel, 20, in_seconds=4)
        processes.start("worker", "--concurrency", "2", ready="ready.")
        processes.start("dispatcher")
        # wait until they are all queued (messages held in Redis and the worker), then wipe Redis
        wait_until(lambda: set(_states(system_runtime, post_ids)) == {"queued"}, 30, "dispatch")
        private_redis.kill()
        private_redis.start()  # same port, empty: every message is gone
        # Celery's worker may die on the reconnect (celery#8030); `crosspost worker` restarts it
        wait_until(lambda: set(_states(system_runtime, post_ids)) == {"published"}, 90, "re-dispatch")
        keys = sink.state.received_keys()
        assert len(keys) == 20
        assert len(set(keys)) == 20


def test_embedded_up_killed_mid_publish_recovers_on_restart(processes: Processes, system_runtime: Runtime) -> None:
    with Sink() as sink:
        sink.state.hold = threading.Event()
        sink.state.hold_next = 1
        channel = add_webhook_channel(system_runtime, "hook", sink.options())
        (post_id,) = _queue_posts(system_runtime, channel, 1, in_seconds=1)
        up = processes.start("up")
        assert sink.state.holding.wait(30), processes.logs()
        processes.kill(up)
        processes.start("up")
        wait_until(lambda: _states(system_runtime, [post_id]) == ["published"], 60, "reconciliation")
        assert len(sink.state.received_keys()) == 1


def test_a_worker_host_killed_with_reserved_messages_costs_seconds_not_minutes(
    processes: Processes, system_runtime: Runtime, private_redis: PrivateRedis
) -> None:
    """A Celery worker reserves every ETA message of the look-ahead at once. Killed as a whole
    process group, it acks none of them, and Redis would hand them back only at the visibility
    timeout (an hour); the database's own re-send comes after look-ahead + grace (2.5 min). The
    worker's heartbeat stops, and the dispatcher re-sends what was queued within worker_timeout."""
    processes.env.update(
        {
            "CROSSPOST_BROKER_URL": private_redis.url,
            "CROSSPOST_LOOKAHEAD": "30",  # the defaults that made posts two minutes late
            "CROSSPOST_QUEUED_GRACE": "120",
            "CROSSPOST_WORKER_HEARTBEAT": "1",
            "CROSSPOST_WORKER_TIMEOUT": "6",
        }
    )
    with Sink() as sink:
        channel = add_webhook_channel(system_runtime, "hook", sink.options())
        post_ids = _queue_posts(system_runtime, channel, 20, in_seconds=12)
        doomed = processes.start("worker", "--concurrency", "2", ready="ready.")
        processes.start("dispatcher")
        wait_until(lambda: set(_states(system_runtime, post_ids)) == {"queued"}, 30, "dispatch")
        wait_until(lambda: "Task crosspost.publish" in processes.logs(), 15, "the worker to reserve them")
        time.sleep(1)  # every ETA message is now reserved by the doomed worker
        processes.start("worker", "--concurrency", "2", ready="ready.")
        processes.kill(doomed)
        killed_at = system_runtime.clock()
        wait_until(lambda: set(_states(system_runtime, post_ids)) == {"published"}, 90, processes.logs())
        assert sorted(Counter(sink.state.received_keys()).values()) == [1] * 20  # each exactly once
        rows = [posts.show_post(system_runtime.db, p)["publications"][0] for p in post_ids]
        due = datetime.fromisoformat(rows[0]["due_at"])
        late = sorted(
            (datetime.fromisoformat(row["published_at"]) - max(due, killed_at)).total_seconds() for row in rows
        )
        print(f"lateness after the kill: p50 {late[len(late) // 2]:.2f} s, max {late[-1]:.2f} s")
        assert late[-1] <= 30, late
