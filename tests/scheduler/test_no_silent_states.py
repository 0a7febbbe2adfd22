"""No silent states (issue 11, finding 3): every state that is not final ends on its own within a
bound, or goes to a person with the reason on the row and in the event log; an unexpected error
while rendering, claiming, publishing or looking up does the same instead of leaving the row to be
tried again for ever."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import update

from scheduler import posts
from scheduler.publishing import media_prep, publications
from scheduler.publishing.content import ChannelInfo
from scheduler.publishing.ports import Publisher
from scheduler.publishing.states import ALLOWED, BOUNDS, FINAL, PERSON, PublicationState
from scheduler.runtime import Runtime
from scheduler.store import Publication
from tests.conftest import Clock
from tests.helpers import add_dry_run_channels, write_image

S = PublicationState
DOCS = Path(__file__).parents[2] / "docs" / "scheduling.md"


def _post(runtime: Runtime, channels: list[str], *, media: Path | None = None, seconds: int = 10) -> int:
    at = (runtime.clock() + timedelta(seconds=seconds)).isoformat()
    return posts.create_post(
        runtime.db,
        runtime.settings,
        text="bounded",
        channels=channels,
        at=at,
        now=runtime.clock(),
        media=[posts.MediaInput(media)] if media else (),
    )


def _only(runtime: Runtime, post_id: int) -> dict[str, Any]:
    (publication,) = posts.show_post(runtime.db, post_id)["publications"]
    return dict(publication)


def _events_to(runtime: Runtime, post_id: int, state: PublicationState) -> list[str]:
    return [e.message or "" for e in posts.read_events(runtime.db, post_id=post_id) if e.to_state == state.value]


def test_every_state_that_is_not_final_has_a_bound_and_the_docs_give_it() -> None:
    waiting = set(S) - FINAL - {PERSON}
    assert set(BOUNDS) == waiting
    for state in waiting:  # it can leave for a final state or for a person
        assert ALLOWED[state] & (FINAL | {PERSON}) or state is S.PUBLISHING
    rows = {
        match.group(1): match.group(2)
        for match in re.finditer(r"^\| `(\w+)` \|(?:[^|]*\|){2}([^|]*)\|$", DOCS.read_text(), re.MULTILINE)
    }
    for state in waiting:
        assert rows.get(state.value, "").strip(), f"docs/scheduling.md gives no bound for {state}"


def test_renditions_that_are_never_made_reach_a_person(runtime: Runtime, clock: Clock, tmp_path: Path) -> None:
    # the render worker dies every time (out of memory), or none reads the media queue
    (channel,) = add_dry_run_channels(runtime, "x")
    post_id = _post(runtime, [channel], media=write_image(tmp_path / "a.png"), seconds=3600)
    for _ in range(media_prep.RENDER_TRIES):
        assert media_prep.needing_media(runtime.db, now=clock(), settings=runtime.settings) != []
        clock.advance(runtime.settings.render_lease + 1)  # the request ran out, nothing was made
    assert media_prep.needing_media(runtime.db, now=clock(), settings=runtime.settings) == []
    view = _only(runtime, post_id)
    assert view["state"] == "needs_attention"
    assert f"asked for {media_prep.RENDER_TRIES} times" in view["last_error"]
    assert len(_events_to(runtime, post_id, S.NEEDS_ATTENTION)) == 1

    posts.retry_post(runtime.db, post_id, now=clock())  # a person asks again: counted afresh
    (asked,) = media_prep.needing_media(runtime.db, now=clock(), settings=runtime.settings)
    assert media_prep.render(runtime.db, asked, settings=runtime.settings, clock=clock)


def test_a_render_that_is_still_working_keeps_its_request(
    runtime: Runtime, clock: Clock, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (channel,) = add_dry_run_channels(runtime, "x")
    _post(runtime, [channel], media=write_image(tmp_path / "a.png"), seconds=3600)
    (asked,) = media_prep.needing_media(runtime.db, now=clock(), settings=runtime.settings)
    settings = runtime.settings.model_copy(update={"render_lease": 0.2})
    real = media_prep.rendering.adapt

    def slow(*args: Any, **kwargs: Any) -> Any:
        clock.advance(3600)  # an hour of transcoding, renewed all along
        __import__("time").sleep(0.3)
        return real(*args, **kwargs)

    monkeypatch.setattr(media_prep.rendering, "adapt", slow)
    assert media_prep.render(runtime.db, asked, settings=settings, clock=clock)


def test_a_queued_publication_no_worker_takes_reaches_a_person(runtime: Runtime, clock: Clock) -> None:
    post_id = _post(runtime, add_dry_run_channels(runtime, "x"))
    (first,) = publications.claim_due(runtime.db, now=clock(), settings=runtime.settings)
    lease = runtime.settings.lookahead + runtime.settings.queued_grace + 1
    for _ in range(publications.MAX_REDISPATCHES):
        clock.advance(lease)
        assert len(publications.requeue_lost(runtime.db, now=clock(), settings=runtime.settings)) == 1
    clock.advance(lease)
    assert publications.requeue_lost(runtime.db, now=clock(), settings=runtime.settings) == []
    view = _only(runtime, post_id)
    assert view["state"] == "needs_attention"
    assert "no worker took it" in view["last_error"]
    assert _events_to(runtime, post_id, S.NEEDS_ATTENTION) == [view["last_error"]]
    # nothing was sent: a message that turns up now is void, and a person may send it again
    assert (
        publications.publish(
            runtime.db, first.publication_id, first.token, runtime.adapters, settings=runtime.settings, clock=clock
        )
        is None
    )
    assert posts.retry_post(runtime.db, post_id, now=clock()) == ["t-x"]


def test_a_publication_that_cannot_be_read_fails_with_the_reason(
    runtime: Runtime, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    post_id = _post(runtime, add_dry_run_channels(runtime, "x"))
    (dispatch,) = publications.claim_due(runtime.db, now=clock(), settings=runtime.settings)

    def unreadable(*_: Any, **__: Any) -> Any:
        raise ValueError("the channel's credentials cannot be decrypted with this secret key")

    monkeypatch.setattr(publications, "load", unreadable)
    assert (
        publications.publish(
            runtime.db,
            dispatch.publication_id,
            dispatch.token,
            runtime.adapters,
            settings=runtime.settings,
            clock=clock,
        )
        is None
    )
    view = _only(runtime, post_id)
    assert view["state"] == "failed"  # nothing was sent
    assert "cannot be decrypted" in view["last_error"]
    assert len(_events_to(runtime, post_id, S.FAILED)) == 1


def test_an_error_before_the_platform_call_is_retried_then_failed(runtime: Runtime, clock: Clock) -> None:
    post_id = _post(runtime, add_dry_run_channels(runtime, "x"))

    def broken(channel: ChannelInfo) -> Publisher:
        raise KeyError("framing")  # a bad channel option, say: raised before anything is sent

    for attempt in range(1, runtime.settings.max_attempts + 1):
        with runtime.db.transaction() as session:  # due now, whatever the backoff said
            session.execute(update(Publication).values(next_attempt_at=clock()))
        (dispatch,) = publications.claim_due(runtime.db, now=clock(), settings=runtime.settings)
        state = publications.publish(
            runtime.db, dispatch.publication_id, dispatch.token, broken, settings=runtime.settings, clock=clock
        )
        assert state is (S.FAILED if attempt == runtime.settings.max_attempts else S.RETRY_WAIT)
        clock.advance(10)
    view = _only(runtime, post_id)
    assert "could not set up channel t-x: KeyError: 'framing'" in view["last_error"]
    assert view["last_error"].startswith(f"gave up after {runtime.settings.max_attempts} attempts")


def test_a_lookup_that_cannot_start_goes_to_a_person(runtime: Runtime, clock: Clock) -> None:
    post_id = _post(runtime, add_dry_run_channels(runtime, "x"))
    (dispatch,) = publications.claim_due(runtime.db, now=clock(), settings=runtime.settings)
    assert publications.claim(
        runtime.db, dispatch.publication_id, dispatch.token, now=clock(), settings=runtime.settings
    )
    clock.advance(runtime.settings.publish_lease + 1)  # the worker died mid-call
    assert publications.expire_leases(runtime.db, now=clock(), settings=runtime.settings)

    def broken(channel: ChannelInfo) -> Publisher:
        raise RuntimeError("adapter cannot start")

    (due,) = publications.due_for_reconcile(runtime.db, now=clock(), settings=runtime.settings)
    assert publications.reconcile(runtime.db, due, broken, settings=runtime.settings, clock=clock) is S.NEEDS_ATTENTION
    view = _only(runtime, post_id)
    assert "lookup failed: RuntimeError('adapter cannot start')" in view["last_error"]
