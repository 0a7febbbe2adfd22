"""One message for the publications of a channel due at the same instant (issue 15, part 3).

Every guarantee of one message per publication still holds: each is claimed on its own just
before its call, a redelivered batch claims nothing already claimed, and a worker that dies
mid-batch leaves what it claimed to its lease (-> unknown -> reconciliation) and the rest queued,
re-sent with a new token. Adapters are real (a webhook to a loopback sink); time is a hand-moved clock.
"""

from __future__ import annotations

import itertools
import threading
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from scheduler import posts
from scheduler.publishing import dispatch, publications
from scheduler.publishing.content import ChannelInfo
from scheduler.publishing.ports import Publisher
from scheduler.publishing.publications import Dispatch
from scheduler.publishing.states import PublicationState
from scheduler.runtime import Runtime
from tests.conftest import Clock
from tests.fakes.sink import Sink
from tests.helpers import add_webhook_channel, write_image

S = PublicationState


def _posts(runtime: Runtime, channel: str, count: int, *, seconds: int = 10, **extra: Any) -> list[int]:
    at = (runtime.clock() + timedelta(seconds=seconds)).isoformat()
    return [
        posts.create_post(
            runtime.db, runtime.settings, text=f"post {i}", channels=[channel], at=at, now=runtime.clock(), **extra
        )
        for i in range(count)
    ]


def _states(runtime: Runtime, post_ids: list[int]) -> list[str]:
    return [posts.show_post(runtime.db, post_id)["publications"][0]["state"] for post_id in post_ids]


def _sent(runtime: Runtime, clock: Clock) -> list[tuple[list[int], str]]:
    """One dispatcher round: the messages it sends (publication ids, token)."""
    messages: list[tuple[list[int], str]] = []
    dispatch.dispatch_due(
        runtime.db, lambda ids, token, _eta: messages.append((ids, token)), now=clock(), settings=runtime.settings
    )
    return messages


def _batch(
    runtime: Runtime, ids: list[int], token: str, adapters: Any = None, threads: int | None = None
) -> publications.BatchOutcome:
    return publications.publish_batch(
        runtime.db,
        ids,
        token,
        adapters or runtime.adapters,
        settings=runtime.settings,
        clock=runtime.clock,
        threads=threads,
    )


def test_one_message_per_channel_and_due_instant_and_media_alone(
    runtime: Runtime, clock: Clock, sink: Sink, tmp_path: Path
) -> None:
    a = add_webhook_channel(runtime, "a", sink.options())
    b = add_webhook_channel(runtime, "b", sink.options())
    size = runtime.settings.publish_batch
    on_a = _posts(runtime, a, size + 2)
    on_b = _posts(runtime, b, 2)
    later = _posts(runtime, a, 1, seconds=11)
    image = write_image(tmp_path / "red.png")
    with_media = _posts(runtime, a, 1, media=[posts.MediaInput(image, "a red square")])
    messages = [sorted(ids) for ids, _ in _sent(runtime, clock)]
    ids = {p: posts.show_post(runtime.db, p)["publications"][0]["id"] for p in on_a + on_b + later + with_media}
    on_a_ids = sorted(ids[p] for p in on_a)
    # up to publish_batch a message; each channel and due instant on its own; media alone
    assert sorted(messages) == sorted(
        [on_a_ids[:size], on_a_ids[size:], sorted(ids[p] for p in on_b), [ids[later[0]]], [ids[with_media[0]]]]
    )


def test_a_batch_message_redelivered_claims_nothing_already_claimed(runtime: Runtime, clock: Clock, sink: Sink) -> None:
    post_ids = _posts(runtime, add_webhook_channel(runtime, "hook", sink.options()), 5)
    [(ids, token)] = _sent(runtime, clock)
    clock.advance(10)
    first = _batch(runtime, ids, token)
    assert list(first.states.values()) == [S.PUBLISHED] * 5
    again = _batch(runtime, ids, token)  # Redis hands the message back: every claim finds nothing
    assert list(again.states.values()) == [None] * 5
    assert _states(runtime, post_ids) == ["published"] * 5
    assert sorted(Counter(sink.state.received_keys()).values()) == [1] * 5
    for post_id in post_ids:
        kinds = [event.kind for event in posts.read_events(runtime.db, post_id=post_id)]
        assert kinds.count("publication.publishing") == 1


class Died(BaseException):
    """The worker process ends here, as under SIGKILL: nothing after it runs, no outcome is recorded."""


class DiesAfter:
    """The runtime's real adapters, with the worker dying right after its ``calls``-th platform call
    has landed: a composed publisher, the adapters themselves untouched."""

    def __init__(self, runtime: Runtime, calls: int) -> None:
        self.runtime, self.calls, self.count = runtime, calls, itertools.count(1)

    def __call__(self, channel: ChannelInfo) -> Publisher:
        real = self.runtime.adapters(channel)
        outer = self

        class Dying:
            def __getattr__(self, name: str) -> Any:
                return getattr(real, name)

            def publish(self, *args: Any, **kwargs: Any) -> Any:
                result = real.publish(*args, **kwargs)
                if next(outer.count) == outer.calls:
                    raise Died
                return result

        return Dying()  # type: ignore[return-value]


def test_a_worker_dying_after_claiming_two_of_five(runtime: Runtime, clock: Clock, sink: Sink) -> None:
    post_ids = _posts(runtime, add_webhook_channel(runtime, "hook", sink.options()), 5)
    [(ids, token)] = _sent(runtime, clock)
    clock.advance(10)
    with pytest.raises(Died):
        _batch(runtime, ids, token, DiesAfter(runtime, 2), threads=1)
    # the first went out and was recorded; the second went out, its worker died before recording it;
    # the other three were never claimed
    assert _states(runtime, post_ids) == ["published", "publishing", "queued", "queued", "queued"]
    assert len(sink.state.received_keys()) == 2

    # the whole host died: no redelivery. The unclaimed three are re-sent when their lease runs out,
    # with a new token, in one message; the one it claimed is reconciled when its lease runs out
    clock.advance(runtime.settings.lookahead + runtime.settings.queued_grace + 1)
    [(rest, new_token)] = _sent(runtime, clock)
    assert rest == ids[2:]
    assert new_token != token
    assert publications.expire_leases(runtime.db, now=clock(), settings=runtime.settings) == [ids[1]]
    assert list(_batch(runtime, ids, token).states.values()) == [None] * 5  # the old message is void
    assert list(_batch(runtime, rest, new_token).states.values()) == [S.PUBLISHED] * 3
    clock.advance(runtime.settings.reconcile_first_wait)
    assert publications.due_for_reconcile(runtime.db, now=clock(), settings=runtime.settings) == [ids[1]]
    assert (
        publications.reconcile(runtime.db, ids[1], runtime.adapters, settings=runtime.settings, clock=clock)
        is S.PUBLISHED  # found at the receiver: no second call
    )
    assert _states(runtime, post_ids) == ["published"] * 5
    assert sorted(Counter(sink.state.received_keys()).values()) == [1] * 5


def test_a_redelivered_batch_after_a_pool_child_died_finishes_the_rest(
    runtime: Runtime, clock: Clock, sink: Sink
) -> None:
    """A killed pool child's message comes back at once (reject_on_worker_lost): it claims only the
    publications the dead child had not claimed."""
    post_ids = _posts(runtime, add_webhook_channel(runtime, "hook", sink.options()), 5)
    [(ids, token)] = _sent(runtime, clock)
    clock.advance(10)
    with pytest.raises(Died):
        _batch(runtime, ids, token, DiesAfter(runtime, 2), threads=1)
    redelivered = _batch(runtime, ids, token)
    assert list(redelivered.states.values()) == [None, None, S.PUBLISHED, S.PUBLISHED, S.PUBLISHED]
    assert _states(runtime, post_ids) == ["published", "publishing", "published", "published", "published"]
    assert sorted(Counter(sink.state.received_keys()).values()) == [1] * 5


def test_a_batch_hands_back_what_it_could_not_begin_in_time(runtime: Runtime, clock: Clock, sink: Sink) -> None:
    post_ids = _posts(runtime, add_webhook_channel(runtime, "hook", sink.options()), 3)
    [(ids, token)] = _sent(runtime, clock)
    clock.advance(10)
    outcome = publications.publish_batch(
        runtime.db, ids, token, runtime.adapters, settings=runtime.settings, clock=runtime.clock, budget=0.0
    )
    assert outcome.states == {ids[0]: S.PUBLISHED}
    assert outcome.handed_back == ids[1:]
    assert _states(runtime, post_ids) == ["published", "queued", "queued"]  # still under the same token
    assert list(_batch(runtime, outcome.handed_back, token).states.values()) == [S.PUBLISHED] * 2


def test_a_batch_delivered_twice_at_once_publishes_each_once(runtime: Runtime, clock: Clock, sink: Sink) -> None:
    """Two workers running the same batch message at the same moment (each on its threads): every
    publication is claimed by one of them only."""
    post_ids = _posts(runtime, add_webhook_channel(runtime, "hook", sink.options()), 8)
    [(ids, token)] = _sent(runtime, clock)
    clock.advance(10)
    outcomes: list[publications.BatchOutcome] = []
    runs = [threading.Thread(target=lambda: outcomes.append(_batch(runtime, ids, token))) for _ in range(2)]
    for run in runs:
        run.start()
    for run in runs:
        run.join()
    published = [i for outcome in outcomes for i, state in outcome.states.items() if state is S.PUBLISHED]
    assert sorted(published) == sorted(ids)
    assert _states(runtime, post_ids) == ["published"] * 8
    assert sorted(Counter(sink.state.received_keys()).values()) == [1] * 8


def test_due_times_within_the_window_share_a_message_sent_for_the_latest() -> None:
    at = datetime(2027, 3, 1, 12, 0, tzinfo=UTC)

    def due(publication_id: int, seconds: float, channel: int = 1, alone: bool = False) -> Dispatch:
        return Dispatch(publication_id, "t", at + timedelta(seconds=seconds), channel, alone)

    dispatches = [due(1, 0.0), due(2, 0.1), due(3, 0.2, channel=2), due(4, 0.2, alone=True), due(5, 0.3)]
    messages = dispatch.in_messages(dispatches, 10, 0.25)
    assert [[d.publication_id for d in message] for message in messages] == [[1, 2], [3], [4], [5]]
    sent: list[tuple[list[int], datetime]] = []
    dispatch._send_all(messages, lambda ids, _token, eta: sent.append((ids, eta)))
    assert sent[0] == ([1, 2], at + timedelta(seconds=0.1))  # the latest: none goes early
    # without a window, only equal due times share a message
    assert len(dispatch.in_messages(dispatches, 10)) == 5
