"""The publication pipeline in-process: dispatcher claims, worker claims, outcomes, reconciliation.

Adapters are real (dry-run outbox, webhook over HTTP to a loopback sink); time is a hand-moved clock.
"""

from __future__ import annotations

import itertools
import threading
from datetime import timedelta
from pathlib import Path

from sqlalchemy import update

from scheduler import posts
from scheduler.publishing import media_prep, publications
from scheduler.publishing.ports import PublishContext, Published, Retryable
from scheduler.publishing.publications import Dispatch
from scheduler.publishing.states import PublicationState
from scheduler.runtime import Runtime
from scheduler.store import Publication
from tests.conftest import Clock
from tests.fakes.sink import Sink
from tests.helpers import add_dry_run_channels, add_webhook_channel, publication_states, write_image

S = PublicationState


def _post(runtime: Runtime, channels: list[str], *, text: str = "hello", seconds: int = 60) -> int:
    at = (runtime.clock() + __import__("datetime").timedelta(seconds=seconds)).isoformat()
    return posts.create_post(runtime.db, runtime.settings, text=text, channels=channels, at=at, now=runtime.clock())


def _claim_due(runtime: Runtime) -> list[Dispatch]:
    return publications.claim_due(runtime.db, now=runtime.clock(), settings=runtime.settings)


def _publish(runtime: Runtime, dispatch: Dispatch) -> PublicationState | None:
    return publications.publish(
        runtime.db,
        dispatch.publication_id,
        dispatch.token,
        runtime.adapters,
        settings=runtime.settings,
        clock=runtime.clock,
    )


def test_nothing_is_claimed_before_the_look_ahead(runtime: Runtime, clock: Clock) -> None:
    _post(runtime, add_dry_run_channels(runtime, "x"), seconds=120)
    assert _claim_due(runtime) == []
    clock.advance(95)  # due in 25 s, inside the 30 s look-ahead
    claimed = _claim_due(runtime)
    assert len(claimed) == 1
    assert claimed[0].due_at == clock() + __import__("datetime").timedelta(seconds=25)
    assert _claim_due(runtime) == []  # claimed once only


def test_a_message_delivered_twice_publishes_once(runtime: Runtime, clock: Clock) -> None:
    post_id = _post(runtime, add_dry_run_channels(runtime, "x"), seconds=10)
    (dispatch,) = _claim_due(runtime)
    clock.advance(10)
    assert _publish(runtime, dispatch) is S.PUBLISHED
    assert _publish(runtime, dispatch) is None  # redelivery: stale, nothing happens
    outbox = runtime.settings.outbox / "t-x"
    assert [path.name for path in outbox.iterdir()] == [f"{dispatch.publication_id:08d}"]
    view = posts.show_post(runtime.db, post_id)["publications"][0]
    assert view["attempts"] == 1
    assert view["remote_id"].startswith("dryrun-")


def test_concurrent_claims_of_one_message_call_the_platform_once(runtime: Runtime, sink: Sink, clock: Clock) -> None:
    _post(runtime, [add_webhook_channel(runtime, "hook", sink.options())], seconds=5)
    (dispatch,) = _claim_due(runtime)
    results: list[PublicationState | None] = []
    threads = [threading.Thread(target=lambda: results.append(_publish(runtime, dispatch))) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(map(str, results)) == ["None", "None", "None", "published"]
    assert len(sink.state.received_keys()) == 1


def test_cancel_before_the_eta_voids_the_message(runtime: Runtime, sink: Sink) -> None:
    post_id = _post(runtime, [add_webhook_channel(runtime, "hook", sink.options())], seconds=5)
    (dispatch,) = _claim_due(runtime)
    posts.cancel_post(runtime.db, post_id, now=runtime.clock())
    assert _publish(runtime, dispatch) is None
    assert sink.state.received_keys() == []
    assert publication_states(runtime, post_id) == {"hook": "cancelled"}


def test_an_edit_after_dispatch_never_publishes_the_stale_content(runtime: Runtime, sink: Sink, clock: Clock) -> None:
    post_id = _post(runtime, [add_webhook_channel(runtime, "hook", sink.options())], text="old text", seconds=5)
    (stale,) = _claim_due(runtime)
    posts.edit_post(runtime.db, runtime.settings, post_id, text="new text", now=runtime.clock())
    assert _publish(runtime, stale) is None
    (fresh,) = _claim_due(runtime)
    clock.advance(5)
    assert _publish(runtime, fresh) is S.PUBLISHED
    assert [item.body["text"] for item in sink.state.received] == ["new text"]
    assert posts.show_post(runtime.db, post_id)["version"] == 2


def test_retry_after_is_honoured_then_the_post_goes_out(runtime: Runtime, sink: Sink, clock: Clock) -> None:
    post_id = _post(runtime, [add_webhook_channel(runtime, "hook", sink.options())], seconds=5)
    sink.state.script.append((429, {"Retry-After": "120"}, '{"error": "slow down"}'))
    (dispatch,) = _claim_due(runtime)
    assert _publish(runtime, dispatch) is S.RETRY_WAIT
    with runtime.db.transaction() as session:
        row = session.get(Publication, dispatch.publication_id)
        assert row is not None
        assert row.next_attempt_at is not None
        assert (row.next_attempt_at - clock()).total_seconds() >= 120
        assert "429" in (row.last_error or "")
    clock.advance(60)
    assert _claim_due(runtime) == []  # still waiting: 60 s + look-ahead < 120 s
    clock.advance(61)
    (again,) = _claim_due(runtime)
    assert _publish(runtime, again) is S.PUBLISHED
    assert publication_states(runtime, post_id) == {"hook": "published"}


def test_a_permanent_refusal_fails_with_the_receivers_words(runtime: Runtime, sink: Sink) -> None:
    post_id = _post(runtime, [add_webhook_channel(runtime, "hook", sink.options())], seconds=5)
    sink.state.script.append((422, {}, '{"error": "text mentions a banned word"}'))
    (dispatch,) = _claim_due(runtime)
    assert _publish(runtime, dispatch) is S.FAILED
    (view,) = posts.show_post(runtime.db, post_id)["publications"]
    assert "banned word" in view["last_error"]


def test_expired_auth_holds_the_channel_until_it_is_reconnected(runtime: Runtime, sink: Sink, clock: Clock) -> None:
    channel = add_webhook_channel(runtime, "hook", sink.options())
    first = _post(runtime, [channel], seconds=5)
    second = _post(runtime, [channel], text="second", seconds=5)
    sink.state.script.append((401, {}, '{"error": "token expired"}'))
    dispatches = _claim_due(runtime)
    assert _publish(runtime, dispatches[0]) is S.RETRY_WAIT
    assert posts.find_channel(runtime.db, channel).status == "needs_reconnect"
    kinds = [e.kind for e in posts.read_events(runtime.db)]
    assert kinds.count("channel.needs_reconnect") == 1
    # the other message finds the channel broken too; nothing more is claimed for it meanwhile
    assert _publish(runtime, dispatches[1]) is S.RETRY_WAIT
    clock.advance(7200)
    assert _claim_due(runtime) == []
    assert set(publication_states(runtime, first).values()) | set(publication_states(runtime, second).values()) <= {
        "retry_wait"
    }

    released = posts.reconnect_channel(runtime.db, runtime.settings, channel=channel, credentials={"t": 1}, now=clock())
    assert len(released) == 2
    for dispatch in _claim_due(runtime):
        assert _publish(runtime, dispatch) is S.PUBLISHED
    assert publication_states(runtime, first) == {channel: "published"}
    assert publication_states(runtime, second) == {channel: "published"}


def test_giving_up_after_max_attempts(runtime: Runtime, sink: Sink, clock: Clock) -> None:
    post_id = _post(runtime, [add_webhook_channel(runtime, "hook", sink.options())], seconds=5)
    sink.state.script.extend([(503, {}, "{}")] * runtime.settings.max_attempts)
    for _ in range(runtime.settings.max_attempts):
        (dispatch,) = _claim_due(runtime)
        _publish(runtime, dispatch)
        clock.advance(runtime.settings.retry_cap)
    (view,) = posts.show_post(runtime.db, post_id)["publications"]
    assert view["state"] == "failed"
    assert view["last_error"].startswith(f"gave up after {runtime.settings.max_attempts} attempts")


def test_an_ambiguous_answer_is_reconciled_by_lookup_not_by_a_second_post(
    runtime: Runtime, sink: Sink, clock: Clock
) -> None:
    post_id = _post(runtime, [add_webhook_channel(runtime, "hook", sink.options())], seconds=5)
    sink.state.script.append((502, {}, '{"error": "bad gateway"}'))
    (dispatch,) = _claim_due(runtime)
    assert _publish(runtime, dispatch) is S.UNKNOWN
    # looked up after a short wait, not at once
    assert publications.due_for_reconcile(runtime.db, now=clock(), settings=runtime.settings) == []
    clock.advance(runtime.settings.reconcile_first_wait)
    # the 502 came after the receiver stored nothing: lookup proves it, so it is tried again
    ids = publications.due_for_reconcile(runtime.db, now=clock(), settings=runtime.settings)
    assert ids == [dispatch.publication_id]
    state = publications.reconcile(runtime.db, ids[0], runtime.adapters, settings=runtime.settings, clock=clock)
    assert state is S.RETRY_WAIT
    (again,) = _claim_due(runtime)
    assert _publish(runtime, again) is S.PUBLISHED
    assert len(sink.state.received_keys()) == 1
    assert publication_states(runtime, post_id) == {"hook": "published"}


def test_a_crashed_attempt_that_landed_is_adopted_without_a_second_call(
    runtime: Runtime, sink: Sink, clock: Clock
) -> None:
    post_id = _post(runtime, [add_webhook_channel(runtime, "hook", sink.options())], seconds=5)
    (dispatch,) = _claim_due(runtime)
    claimed = publications.claim(
        runtime.db, dispatch.publication_id, dispatch.token, now=clock(), settings=runtime.settings
    )
    assert claimed is not None
    # the worker sent the post, then died before recording it
    sink.state.received.append(
        __import__("tests.fakes.sink", fromlist=["Received"]).Received(claimed.idempotency_key, {}, 0)
    )
    assert publications.expire_leases(runtime.db, now=clock(), settings=runtime.settings) == []
    clock.advance(runtime.settings.publish_lease + 1)
    assert publications.expire_leases(runtime.db, now=clock(), settings=runtime.settings) == [dispatch.publication_id]
    state = publications.reconcile(
        runtime.db, dispatch.publication_id, runtime.adapters, settings=runtime.settings, clock=clock
    )
    assert state is S.PUBLISHED
    assert len(sink.state.received_keys()) == 1
    (view,) = posts.show_post(runtime.db, post_id)["publications"]
    assert view["remote_id"] == f"sink-{claimed.idempotency_key}"


def test_without_a_lookup_an_unknown_outcome_goes_to_a_person(runtime: Runtime, sink: Sink, clock: Clock) -> None:
    post_id = _post(runtime, [add_webhook_channel(runtime, "hook", {"url": f"{sink.url}/post"})], seconds=5)
    sink.state.script.append((500, {}, "{}"))
    (dispatch,) = _claim_due(runtime)
    assert _publish(runtime, dispatch) is S.UNKNOWN
    # asked again and again, at growing intervals, for the reconcile window: then a person
    asked_at = []
    while True:
        clock.advance(1)
        ids = publications.due_for_reconcile(runtime.db, now=clock(), settings=runtime.settings)
        if not ids:
            continue
        asked_at.append(clock())
        state = publications.reconcile(runtime.db, ids[0], runtime.adapters, settings=runtime.settings, clock=clock)
        if state is not S.UNKNOWN:
            break
        assert _claim_due(runtime) == []  # never re-published on its own
    assert state is S.NEEDS_ATTENTION
    gaps = [(later - earlier).total_seconds() for earlier, later in itertools.pairwise(asked_at)]
    assert gaps[0] < gaps[3] <= runtime.settings.reconcile_backoff + 1  # growing, up to the cap
    waited = (asked_at[-1] - asked_at[0]).total_seconds()
    assert runtime.settings.reconcile_window - runtime.settings.reconcile_backoff - 5 <= waited
    assert waited <= runtime.settings.reconcile_window + runtime.settings.reconcile_backoff
    assert _claim_due(runtime) == []
    assert "could not confirm" in posts.show_post(runtime.db, post_id)["publications"][0]["last_error"]


def test_a_lost_message_is_re_dispatched_with_a_new_token(runtime: Runtime, sink: Sink, clock: Clock) -> None:
    _post(runtime, [add_webhook_channel(runtime, "hook", sink.options())], seconds=5)
    (lost,) = _claim_due(runtime)
    clock.advance(runtime.settings.lookahead + runtime.settings.queued_grace + 1)
    (resent,) = publications.requeue_lost(runtime.db, now=clock(), settings=runtime.settings)
    assert resent.token != lost.token
    assert _publish(runtime, lost) is None  # the old message, should it turn up, is void
    assert _publish(runtime, resent) is S.PUBLISHED
    assert len(sink.state.received_keys()) == 1


def test_a_late_success_after_the_lease_ran_out_still_counts(runtime: Runtime, sink: Sink, clock: Clock) -> None:
    _post(runtime, [add_webhook_channel(runtime, "hook", sink.options())], seconds=5)
    (dispatch,) = _claim_due(runtime)
    # a slow platform: the lease expires while the call is in flight, then the answer arrives
    hold = threading.Event()
    sink.state.hold = hold
    result: list[PublicationState | None] = []
    worker = threading.Thread(target=lambda: result.append(_publish(runtime, dispatch)))
    worker.start()
    assert sink.state.holding.wait(10)
    with runtime.db.transaction() as session:
        session.execute(update(Publication).values(lease_until=clock()))
    clock.advance(1)
    assert publications.expire_leases(runtime.db, now=clock(), settings=runtime.settings) == [dispatch.publication_id]
    hold.set()
    worker.join()
    assert result == [S.PUBLISHED]


def test_an_attempt_that_never_answers_stops_after_max_attempts(runtime: Runtime, sink: Sink, clock: Clock) -> None:
    post_id = _post(runtime, [add_webhook_channel(runtime, "hook", sink.options())], seconds=5)
    sink.state.script.extend([(502, {}, "{}")] * (runtime.settings.max_attempts + 2))
    for _ in range(2 * (runtime.settings.max_attempts + 2)):  # each attempt: publish, then a lookup later
        for dispatch in _claim_due(runtime):
            _publish(runtime, dispatch)
        for publication_id in publications.due_for_reconcile(runtime.db, now=clock(), settings=runtime.settings):
            publications.reconcile(runtime.db, publication_id, runtime.adapters, settings=runtime.settings, clock=clock)
        clock.advance(runtime.settings.reconcile_backoff + 1)
    (view,) = posts.show_post(runtime.db, post_id)["publications"]
    assert view["state"] == "needs_attention"
    assert view["attempts"] == runtime.settings.max_attempts
    assert "none landed" in view["last_error"]
    assert sink.state.received_keys() == []  # every 502 came before anything was stored


def test_a_dry_run_that_cannot_write_its_outbox_fails_with_the_reason(
    runtime: Runtime, clock: Clock, tmp_path: Path
) -> None:
    (channel,) = add_dry_run_channels(runtime, "x")
    image = write_image(tmp_path / "photo.png")
    post_id = posts.create_post(
        runtime.db,
        runtime.settings,
        text="hi",
        channels=[channel],
        at=(clock() + timedelta(seconds=5)).isoformat(),
        now=clock(),
        media=[posts.MediaInput(image)],
    )
    for publication_id in media_prep.needing_media(runtime.db, now=clock(), settings=runtime.settings):
        media_prep.render(runtime.db, publication_id, settings=runtime.settings, clock=clock)
    for rendition in (runtime.settings.media_store / "renditions").iterdir():
        rendition.unlink()  # the rendition vanished from disk: the dry run cannot copy it
    (dispatch,) = _claim_due(runtime)
    assert _publish(runtime, dispatch) is S.FAILED
    (view,) = posts.show_post(runtime.db, post_id)["publications"]
    assert "could not write the outbox" in view["last_error"]
    assert "No such file" in view["last_error"]
    assert not list((runtime.settings.outbox / channel).iterdir())  # nothing half-written left


class _Resumable:
    """A publisher that records a handle before its irreversible step, then fails once."""

    lookup_proves_absence = False
    absence_settles_after = None
    rate_limits = ()

    def __init__(self) -> None:
        self.seen: list[dict[str, object] | None] = []

    def prepare(self, content: object) -> object:
        return content

    def publish(self, prepared: object, ctx: PublishContext) -> Published:
        self.seen.append(ctx.checkpoint)
        if ctx.checkpoint is None:
            ctx.save_checkpoint({"session": f"upload-{ctx.attempt}"})
            raise Retryable("connection dropped mid-upload")
        return Published(remote_id=str(ctx.checkpoint["session"]))

    def lookup(self, prepared: object, ctx: PublishContext) -> Published | None:
        return None


def test_a_checkpoint_saved_before_a_failure_reaches_the_next_attempt_but_not_edited_content(
    runtime: Runtime, clock: Clock
) -> None:
    [channel] = add_dry_run_channels(runtime, "webhook")
    publisher = _Resumable()
    post_id = _post(runtime, [channel])
    for _ in range(2):
        clock.advance(3600)
        for dispatch in _claim_due(runtime):
            publications.publish(
                runtime.db,
                dispatch.publication_id,
                dispatch.token,
                lambda _: publisher,  # type: ignore[arg-type,return-value]
                settings=runtime.settings,
                clock=clock,
            )
    assert publisher.seen == [None, {"session": "upload-1", "_version": 1}]
    assert publication_states(runtime, post_id) == {channel: "published"}

    # the same for a post edited between the attempts: the old handle is never resumed
    publisher = _Resumable()
    edited = _post(runtime, [channel], text="first")
    clock.advance(3600)
    for dispatch in _claim_due(runtime):
        publications.publish(
            runtime.db,
            dispatch.publication_id,
            dispatch.token,
            lambda _: publisher,  # type: ignore[arg-type,return-value]
            settings=runtime.settings,
            clock=clock,
        )
    posts.edit_post(runtime.db, runtime.settings, edited, text="second", now=clock())
    clock.advance(3600)
    for dispatch in _claim_due(runtime):
        publications.publish(
            runtime.db,
            dispatch.publication_id,
            dispatch.token,
            lambda _: publisher,  # type: ignore[arg-type,return-value]
            settings=runtime.settings,
            clock=clock,
        )
    assert publisher.seen == [None, None]


def test_a_sign_in_that_cannot_be_refreshed_is_warned_about_a_week_ahead_once(runtime: Runtime) -> None:
    import time

    from scheduler import credentials

    day = 86400.0
    posts.add_channel(
        runtime.db,
        runtime.settings,
        name="cms-li",
        platform="linkedin",
        dry_run=True,
        now=runtime.clock(),
        credentials={"access_token": "t", "expires_at": time.time() + 6 * day},  # LinkedIn: 60 days, no refresh
    )
    posts.add_channel(
        runtime.db,
        runtime.settings,
        name="cms-x",
        platform="x",
        dry_run=True,
        now=runtime.clock(),
        credentials={"access_token": "t", "expires_at": time.time() + 60, "refresh_token": "r"},  # refreshed itself
    )
    assert credentials.warn_expiring(runtime.db, runtime.settings) == ["cms-li"]
    assert credentials.warn_expiring(runtime.db, runtime.settings) == []
    [event] = [e for e in posts.read_events(runtime.db) if e.kind == "channel.reauth_soon"]
    assert "crosspost channel connect --name cms-li" in (event.message or "")
