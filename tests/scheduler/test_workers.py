"""Worker nodes' heartbeats and what the dispatcher does when one goes silent (scheduler/publishing/workers.py)."""

from __future__ import annotations

import time
from datetime import timedelta

from sqlalchemy import select

from scheduler.publishing import dispatch, publications, workers
from scheduler.publishing.states import PublicationState
from scheduler.runtime import Runtime
from scheduler.store import Worker
from tests.conftest import Clock
from tests.fakes.sink import Sink
from tests.helpers import add_webhook_channel

S = PublicationState


def _queued_post(runtime: Runtime, sink: Sink, *, seconds: int) -> int:
    from scheduler import posts

    channel = add_webhook_channel(runtime, f"hook-{seconds}", sink.options())
    at = (runtime.clock() + timedelta(seconds=seconds)).isoformat()
    return posts.create_post(runtime.db, runtime.settings, text="hi", channels=[channel], at=at, now=runtime.clock())


def test_a_silent_node_is_lost_once_and_a_beating_one_never(runtime: Runtime, clock: Clock) -> None:
    workers.register(runtime.db, "alive", now=clock())
    workers.register(runtime.db, "silent", now=clock())
    clock.advance(runtime.settings.worker_timeout - 1)
    assert workers.beat(runtime.db, "alive", now=clock())
    assert workers.claim_lost(runtime.db, now=clock(), settings=runtime.settings) == []
    clock.advance(2)
    assert workers.claim_lost(runtime.db, now=clock(), settings=runtime.settings) == ["silent"]
    # a second dispatcher asking at the same time gets nothing: the re-send happens once
    assert workers.claim_lost(runtime.db, now=clock(), settings=runtime.settings) == []
    # the lost node, should it wake up, is told so (and registers anew)
    assert not workers.beat(runtime.db, "silent", now=clock())


def test_a_stopped_node_is_acted_on_at_once(runtime: Runtime, clock: Clock) -> None:
    workers.register(runtime.db, "leaving", now=clock())
    workers.stopped(runtime.db, "leaving", now=clock())
    assert workers.claim_lost(runtime.db, now=clock(), settings=runtime.settings) == ["leaving"]


def test_a_lost_node_gets_every_queued_row_re_sent_at_its_due_time_with_a_new_token(
    runtime: Runtime, clock: Clock, sink: Sink
) -> None:
    _queued_post(runtime, sink, seconds=20)
    sent: list[tuple[int, str, object]] = []

    def send(publication_ids: list[int], token: str, eta: object) -> None:
        sent.extend((publication_id, token, eta) for publication_id in publication_ids)

    workers.register(runtime.db, "doomed", now=clock())
    assert dispatch.dispatch_due(runtime.db, send, now=clock(), settings=runtime.settings) == 1
    [(publication_id, first_token, due)] = sent
    clock.advance(runtime.settings.worker_timeout + 1)  # "doomed" held the message, and died
    assert dispatch.dispatch_due(runtime.db, send, now=clock(), settings=runtime.settings) == 1
    [_, (again_id, second_token, eta)] = sent
    assert (again_id, eta) == (publication_id, due)  # still at its due time, not early
    assert second_token != first_token
    # the message the dead node held is void; the new one publishes, once
    assert (
        publications.publish(
            runtime.db, publication_id, first_token, runtime.adapters, settings=runtime.settings, clock=clock
        )
        is None
    )
    assert (
        publications.publish(
            runtime.db, publication_id, second_token, runtime.adapters, settings=runtime.settings, clock=clock
        )
        is S.PUBLISHED
    )
    assert len(sink.state.received_keys()) == 1
    # nothing more is re-sent on the next rounds
    assert dispatch.dispatch_due(runtime.db, send, now=clock(), settings=runtime.settings) == 0


def test_the_heartbeat_thread_beats_and_records_its_stop(runtime: Runtime, clock: Clock) -> None:
    settings = runtime.settings.model_copy(update={"worker_heartbeat": 0.05})
    heartbeat = workers.Heartbeat(runtime.db, settings, clock).start()
    try:
        clock.advance(3600)
        deadline = time.monotonic() + 10
        while _beat_at(runtime, heartbeat.node_id) != clock() and time.monotonic() < deadline:
            time.sleep(0.02)
        assert _beat_at(runtime, heartbeat.node_id) == clock()  # it beat at the clock's new time
        assert workers.claim_lost(runtime.db, now=clock(), settings=settings) == []
    finally:
        heartbeat.stop()
    assert workers.claim_lost(runtime.db, now=clock(), settings=settings) == [heartbeat.node_id]


def _beat_at(runtime: Runtime, node_id: str) -> object:
    with runtime.db.transaction() as session:
        return session.scalar(select(Worker.beat_at).where(Worker.id == node_id))
