"""Too much to post: the queue with priorities, the global pause and blackouts, on a controlled clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import update

from scheduler import posts
from scheduler.errors import InvalidInput, Refused, StateConflict
from scheduler.planning import timetable
from scheduler.publishing import publications
from scheduler.runtime import Runtime
from scheduler.store import Control, Publication
from tests.conftest import Clock
from tests.helpers import add_dry_run_channels

# The clock starts on Monday 2027-03-01 09:00 UTC = 10:00 in Zurich (CET, +01:00).


def _due(runtime: Runtime, post_id: int) -> str:
    """The due time on the Zurich wall clock."""
    [publication] = posts.show_post(runtime.db, post_id)["publications"]
    return datetime.fromisoformat(publication["due_at"]).astimezone(ZoneInfo("Europe/Zurich")).isoformat()


def _queue(runtime: Runtime, text: str, priority: str = "normal") -> int:
    return posts.create_post(
        runtime.db, runtime.settings, text=text, channels=["t-x"], queue=True, priority=priority, now=runtime.clock()
    )


def _at(runtime: Runtime, local: str) -> int:
    return posts.create_post(
        runtime.db, runtime.settings, text=f"at {local}", channels=["t-x"], at=local, now=runtime.clock()
    )


@pytest.fixture
def channel(runtime: Runtime) -> str:
    [name] = add_dry_run_channels(runtime, "x")
    timetable.set_schedule(
        runtime.db, channel=name, slots=["mon-fri 10:00,14:00", "sat 12:00"], max_per_day=2, now=runtime.clock()
    )
    return name


def test_the_queue_takes_the_next_free_slots_and_a_high_priority_post_moves_the_others(
    runtime: Runtime, channel: str
) -> None:
    first, second, third = (_queue(runtime, f"normal {n}") for n in range(3))
    # Monday 10:00 has just passed: the queue starts at Monday 14:00
    assert [_due(runtime, p) for p in (first, second, third)] == [
        "2027-03-01T14:00:00+01:00",
        "2027-03-02T10:00:00+01:00",
        "2027-03-02T14:00:00+01:00",
    ]
    urgent = _queue(runtime, "urgent", "high")
    low = _queue(runtime, "whenever", "low")
    assert _due(runtime, urgent) == "2027-03-01T14:00:00+01:00"
    assert [_due(runtime, p) for p in (first, second, third)] == [
        "2027-03-02T10:00:00+01:00",
        "2027-03-02T14:00:00+01:00",
        "2027-03-03T10:00:00+01:00",
    ]
    assert _due(runtime, low) == "2027-03-03T14:00:00+01:00"
    moves = [e.message for e in posts.read_events(runtime.db, post_id=first) if e.kind == "publication.scheduled"]
    assert any(f"for post {urgent} (high priority)" in (m or "") for m in moves)


def test_explicit_posts_count_against_the_daily_maximum(runtime: Runtime, channel: str) -> None:
    _at(runtime, "2027-03-02T12:00:00+01:00")
    queued = [_queue(runtime, f"n{n}") for n in range(3)]
    # Tuesday holds one explicit post, so only one of its two slots is usable
    assert [_due(runtime, p) for p in queued] == [
        "2027-03-01T14:00:00+01:00",
        "2027-03-02T10:00:00+01:00",
        "2027-03-03T10:00:00+01:00",
    ]


def test_a_channel_without_a_schedule_has_no_queue(runtime: Runtime) -> None:
    add_dry_run_channels(runtime, "x")
    with pytest.raises(InvalidInput, match=r"t-x has no posting schedule.*crosspost queue set t-x"):
        _queue(runtime, "hello")


def test_queue_view_shows_slots_with_their_holders(runtime: Runtime, channel: str) -> None:
    post_id = _queue(runtime, "hello")
    view = timetable.queue_view(runtime.db, channel="t-x", now=runtime.clock(), days=2)
    assert view["schedule"] == "Mon-Fri 10:00, 14:00; Sat 12:00 (Europe/Zurich); at most 2 a day"
    holders = {slot["at"]: slot["holder"] for slot in view["slots"]}
    assert holders == {
        "2027-03-01T09:00:00+00:00": None,  # now: too close to be given to a new post
        "2027-03-01T13:00:00+00:00": f"post {post_id} (normal, scheduled)",
        "2027-03-02T09:00:00+00:00": None,
        "2027-03-02T13:00:00+00:00": None,
    }


def test_a_pause_holds_everything_due_and_resume_releases_it_within_the_channels_limits(
    runtime: Runtime, clock: Clock
) -> None:
    add_dry_run_channels(runtime, "x", "linkedin")
    timetable.set_schedule(runtime.db, channel="t-x", slots=["daily 10:00"], min_spacing="30m", now=clock.now)
    soon = (clock.now + timedelta(minutes=5)).isoformat()
    held = [
        posts.create_post(
            runtime.db, runtime.settings, text=f"p{n}", channels=["t-x", "t-linkedin"], at=soon, now=clock.now
        )
        for n in range(3)
    ]
    timetable.pause(runtime.db, now=clock.now, reason="incident at the detector")
    with pytest.raises(StateConflict, match="already paused"):
        timetable.pause(runtime.db, now=clock.now)
    clock.advance(3600)
    assert publications.claim_due(runtime.db, now=clock.now, settings=runtime.settings) == []

    moved = timetable.resume(runtime.db, now=clock.now)
    assert moved == {"t-x": 3}  # t-linkedin has no limits: its backlog goes as it is
    dues = sorted(
        datetime.fromisoformat(p["due_at"])
        for post_id in held
        for p in posts.show_post(runtime.db, post_id)["publications"]
        if p["channel"] == "t-x"
    )
    assert dues == [clock.now, clock.now + timedelta(minutes=30), clock.now + timedelta(minutes=60)]
    claimed = publications.claim_due(runtime.db, now=clock.now, settings=runtime.settings)
    assert len(claimed) == 4  # three on LinkedIn, one on X; the other two X posts wait their spacing
    kinds = [e.kind for e in posts.read_events(runtime.db)]
    assert "dispatch.paused" in kinds
    assert "dispatch.resumed" in kinds


def test_a_blackout_refuses_explicit_times_moves_what_it_covers_and_the_queue_skips_it(
    runtime: Runtime, channel: str, clock: Clock
) -> None:
    wednesday = _at(runtime, "2027-03-03T10:00:00+01:00")
    _, moved = timetable.add_blackout(
        runtime.db,
        name="annual closure",
        start="2027-03-02 00:00",
        end="2027-03-04 00:00",
        tz="Europe/Zurich",
        now=clock.now,
    )
    assert moved == {"t-x": 1}
    assert _due(runtime, wednesday) == "2027-03-04T10:00:00+01:00"  # the next slot after the closure
    with pytest.raises(Refused, match=r"rule 'blackout': 'annual closure'.*covers 2027-03-03 09:00 UTC on t-x"):
        _at(runtime, "2027-03-03T10:00:00+01:00")
    queued = [_queue(runtime, f"n{n}") for n in range(3)]
    assert [_due(runtime, p) for p in queued] == [
        "2027-03-01T14:00:00+01:00",
        "2027-03-04T14:00:00+01:00",  # Thursday 10:00 went to the post moved out of the closure
        "2027-03-05T10:00:00+01:00",
    ]
    [listed] = timetable.list_blackouts(runtime.db, now=clock.now)
    assert (listed["name"], listed["channel"]) == ("annual closure", "all")


def test_the_dispatcher_claims_nothing_due_inside_a_blackout(runtime: Runtime, clock: Clock) -> None:
    add_dry_run_channels(runtime, "x", "linkedin")
    post_id = posts.create_post(
        runtime.db,
        runtime.settings,
        text="x",
        channels=["t-x", "t-linkedin"],
        at=(clock.now + timedelta(hours=3)).isoformat(),
        now=clock.now,
    )
    timetable.add_blackout(
        runtime.db,
        name="x outage",
        start=(clock.now + timedelta(hours=1)).isoformat(),
        end=(clock.now + timedelta(hours=2)).isoformat(),
        channel="t-x",
        now=clock.now,
    )
    # a retry that falls inside the window (set directly: retries are timed by the platform)
    with runtime.db.transaction() as session:
        session.execute(
            update(Publication).where(Publication.post_id == post_id).values(due_at=clock.now + timedelta(minutes=90))
        )
    clock.advance(90 * 60)
    claimed = publications.claim_due(runtime.db, now=clock.now, settings=runtime.settings)
    channels = {p["id"]: p["channel"] for p in posts.show_post(runtime.db, post_id)["publications"]}
    assert [channels[d.publication_id] for d in claimed] == ["t-linkedin"]


def test_a_blackout_must_end_after_it_starts(runtime: Runtime) -> None:
    with pytest.raises(InvalidInput, match=r"ends .* before it starts"):
        timetable.add_blackout(
            runtime.db,
            name="backwards",
            start="2027-03-05T00:00:00Z",
            end="2027-03-04T00:00:00Z",
            now=datetime(2027, 3, 1, tzinfo=UTC),
        )


def test_queue_view_lists_every_post_sharing_an_instant(runtime: Runtime, channel: str) -> None:
    first, second = (_at(runtime, "2027-03-02T10:00:00+01:00") for _ in range(2))
    view = timetable.queue_view(runtime.db, channel="t-x", now=runtime.clock(), days=2)
    holders = {slot["at"]: slot["holder"] for slot in view["slots"]}
    assert (
        holders["2027-03-02T09:00:00+00:00"] == f"post {first} (normal, scheduled); post {second} (normal, scheduled)"
    )


def test_a_blackout_running_now_also_holds_what_became_due_before_it(runtime: Runtime, clock: Clock) -> None:
    add_dry_run_channels(runtime, "x")
    post_id = _at(runtime, (clock.now + timedelta(minutes=30)).isoformat())
    timetable.pause(runtime.db, now=clock.now)
    timetable.add_blackout(
        runtime.db,
        name="outage",
        start=(clock.now + timedelta(hours=1)).isoformat(),
        end=(clock.now + timedelta(hours=3)).isoformat(),
        now=clock.now,
    )
    clock.advance(90 * 60)  # the post (due 30 min in) is overdue, and the blackout has begun
    with runtime.db.transaction() as session:  # resume without re-timing, as if no limits applied
        session.execute(update(Control).values(value={"paused": False}))
    assert publications.claim_due(runtime.db, now=clock.now, settings=runtime.settings) == []
    clock.advance(2 * 3600)
    assert [d.publication_id for d in publications.claim_due(runtime.db, now=clock.now, settings=runtime.settings)]
    assert _due(runtime, post_id)


def test_a_pause_voids_messages_already_sent(runtime: Runtime, clock: Clock) -> None:
    add_dry_run_channels(runtime, "x")
    post_id = _at(runtime, (clock.now + timedelta(seconds=10)).isoformat())
    [dispatch] = publications.claim_due(runtime.db, now=clock.now, settings=runtime.settings)
    timetable.pause(runtime.db, now=clock.now)
    state = publications.publish(
        runtime.db,
        dispatch.publication_id,
        dispatch.token,
        runtime.adapters,
        settings=runtime.settings,
        clock=runtime.clock,
    )
    assert state is None  # the message found nothing to claim
    [publication] = posts.show_post(runtime.db, post_id)["publications"]
    assert publication["state"] == "scheduled"


def test_only_a_host_admin_pauses_and_resumes(runtime: Runtime) -> None:
    from scheduler.editorial import people

    now = runtime.clock()
    people.add_org(runtime.db, name="cms", now=now)
    people.add_org(runtime.db, name="lhcb", kind="partner", now=now)
    for user, org, role in (("max", "cms", "admin"), ("lou", "lhcb", "admin")):
        people.add_user(runtime.db, name=user, now=now)
        people.set_role(runtime.db, user=user, org=org, role=role, now=now)
    with pytest.raises(Refused, match="to pause publishing one must be an admin of a host organisation; lou is not"):
        timetable.pause(runtime.db, now=now, actor="lou")
    timetable.pause(runtime.db, now=now, actor="max")
    with pytest.raises(Refused, match="to resume publishing"):
        timetable.resume(runtime.db, now=now, actor="lou")


def _requeued(runtime: Runtime, post_id: int) -> list[dict[str, object]]:
    with runtime.db.transaction() as session:
        return timetable.requeued(session, post_id)


def test_queue_view_says_why_a_slot_cannot_be_used(runtime: Runtime, channel: str) -> None:
    queued = _queue(runtime, "queued")  # Monday 14:00
    _at(runtime, "2027-03-02T12:00:00+01:00")  # Tuesday: one fixed-time post ...
    _at(runtime, "2027-03-02T16:00:00+01:00")  # ... and a second: the day is full
    view = timetable.queue_view(runtime.db, channel="t-x", now=runtime.clock(), days=2)
    slots = {slot["at"]: (slot["status"], slot["reason"], slot["posts"]) for slot in view["slots"]}
    assert slots == {
        "2027-03-01T09:00:00+00:00": ("blocked", "too soon: the queue fills slots from Mon 2027-03-01 10:02 on", []),
        "2027-03-01T13:00:00+00:00": ("taken", None, [queued]),
        "2027-03-02T09:00:00+00:00": (
            "blocked",
            f"day full (at most 2 a day): post {queued + 1} at 12:00 (fixed time), "
            f"post {queued + 2} at 16:00 (fixed time)",
            [queued + 1, queued + 2],
        ),
        "2027-03-02T13:00:00+00:00": ("blocked", slots["2027-03-02T09:00:00+00:00"][1], [queued + 1, queued + 2]),
    }
    fixed = [(p["post"], p["fixed"], p["on_slot"], p["counts"]) for p in view["upcoming"]]
    assert fixed == [
        (queued, False, True, None),
        (queued + 1, True, False, "1 of at most 2 that day"),
        (queued + 2, True, False, "2 of at most 2 that day"),
    ]


def test_a_post_moved_by_more_than_a_day_for_a_higher_priority_says_which(runtime: Runtime) -> None:
    add_dry_run_channels(runtime, "x")
    timetable.set_schedule(runtime.db, channel="t-x", slots=["mon 10:00"], now=runtime.clock())
    waiting = _queue(runtime, "waiting")  # Monday 8 March: this Monday's slot is now, too soon
    urgent = _queue(runtime, "urgent", "high")
    assert (_due(runtime, urgent), _due(runtime, waiting)) == ("2027-03-08T10:00:00+01:00", "2027-03-15T10:00:00+01:00")
    [move] = _requeued(runtime, waiting)
    assert move["from"] == "2027-03-08T09:00:00+00:00"
    assert move["to"] == "2027-03-15T09:00:00+00:00"
    assert move["reason"] == f"its slot went to post {urgent} (high priority)"
    [event] = [e for e in posts.read_events(runtime.db, post_id=waiting) if e.kind == "publication.requeued"]
    assert event.data == {"from": move["from"], "to": move["to"], "reason": move["reason"]}
    assert event.message == (
        "t-x: moved by the queue from Mon 2027-03-08 10:00 CET to Mon 2027-03-15 10:00 CET; "
        f"its slot went to post {urgent} (high priority)"
    )
    assert _requeued(runtime, urgent) == []


def test_a_post_moved_by_a_slot_within_a_day_has_no_requeue_event(runtime: Runtime, channel: str) -> None:
    first = _queue(runtime, "first")  # Monday 14:00
    _queue(runtime, "urgent", "high")  # takes Monday 14:00; the first moves to Tuesday 10:00, 20 h later
    assert _due(runtime, first) == "2027-03-02T10:00:00+01:00"
    assert _requeued(runtime, first) == []


def test_a_post_a_blackout_moves_by_more_than_a_day_says_so(runtime: Runtime, channel: str, clock: Clock) -> None:
    tuesday = _at(runtime, "2027-03-02T10:00:00+01:00")
    timetable.add_blackout(
        runtime.db, name="annual closure", start="2027-03-02 00:00", end="2027-03-04 00:00", tz="Europe/Zurich",
        now=clock.now,
    )  # fmt: skip
    assert _due(runtime, tuesday) == "2027-03-04T10:00:00+01:00"
    [move] = _requeued(runtime, tuesday)
    assert (move["from"], move["to"]) == ("2027-03-02T09:00:00+00:00", "2027-03-04T09:00:00+00:00")
    assert move["reason"] == "moved out of blackout 'annual closure'"
