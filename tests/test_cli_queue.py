"""A queue that explains itself, through the `crosspost` command's entry point: `queue show` says
why a slot cannot be used, a post the queue moves by more than a day says so, and `post review` and
`post edit --at` speak of the sign-off deadline. The CLI runs on the real clock, so times are set
a few days ahead of today."""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tests.helpers import Run, ok

ZURICH = ZoneInfo("Europe/Zurich")


@pytest.fixture
def run(cli: Run) -> Run:
    return cli


@pytest.fixture
def day() -> date:
    """A day three days ahead: its weekday is the only one with slots, so it has the first slots."""
    return datetime.now(ZURICH).date() + timedelta(days=3)


def at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), ZURICH)


def local(moment: datetime) -> str:
    return f"{moment:%a %Y-%m-%d %H:%M %Z}"


def channel_with_slots(run: Run, day: date, times: str, *limits: str) -> None:
    ok(run("channel", "add", "--platform", "x", "--name", "q-x", "--dry-run", "--timezone", "Europe/Zurich"))
    ok(run("queue", "set", "q-x", "--slot", f"{day:%a} {times}".lower(), *limits))


def fixed(run: Run, day: date, wall: str, text: str = "fixed") -> None:
    ok(run("post", "create", "--text", text, "-c", "q-x", "--at", f"{day} {wall}", "--tz", "Europe/Zurich"))


def queued(run: Run, text: str = "queued", *extra: str) -> None:
    ok(run("post", "create", "--text", text, "-c", "q-x", "--queue", *extra))


def shown_rows(run: Run, *extra: str) -> list[list[str]]:
    """`queue show` as table rows: [time, what]."""
    lines = ok(run("queue", "show", "q-x", *extra)).splitlines()
    assert lines[1].split() == ["slot", "holder"]
    return [re.split(r"\s{2,}", line.strip(), maxsplit=1) for line in lines[3:]]


def slots_json(run: Run) -> dict[str, dict[str, Any]]:
    view = json.loads(ok(run("queue", "show", "q-x", "--json")))
    return {slot["at"]: slot for slot in view["slots"]}


def utc(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()


def test_a_day_full_of_fixed_time_posts_blocks_its_slots_and_shows_the_posts(run: Run, day: date) -> None:
    channel_with_slots(run, day, "10:00,16:00", "--max-per-day", "2")
    fixed(run, day, "12:00")
    fixed(run, day, "13:30")
    full = "blocked: day full (at most 2 a day): post 1 at 12:00 (fixed time), post 2 at 13:30 (fixed time)"
    assert shown_rows(run) == [
        [local(at(day, 10)), full],
        [local(at(day, 12)), "post 1 (normal, scheduled): fixed time, not a slot; 1 of at most 2 that day"],
        [local(at(day, 13, 30)), "post 2 (normal, scheduled): fixed time, not a slot; 2 of at most 2 that day"],
        [local(at(day, 16)), full],
    ]
    slots = slots_json(run)
    assert [(s["status"], s["posts"], s["holder"]) for s in slots.values()] == [
        ("blocked", [1, 2], None),
        ("blocked", [1, 2], None),
    ]
    # the queue agrees: the next post goes a week later
    queued(run)
    post = json.loads(ok(run("post", "show", "3", "--json")))
    assert post["publications"][0]["due_at"] == utc(at(day + timedelta(days=7), 10))


def test_a_slot_too_close_to_another_post_is_blocked_by_the_spacing(run: Run, day: date) -> None:
    channel_with_slots(run, day, "10:00,11:00,14:00", "--min-spacing", "90m")
    queued(run)
    assert shown_rows(run) == [
        [local(at(day, 10)), "post 1 (normal, scheduled)"],
        [local(at(day, 11)), "blocked: too close: less than 90 min from post 1 at 10:00"],
        [local(at(day, 14)), "free"],
    ]
    slots = slots_json(run)
    assert [(s["status"], s["posts"]) for s in slots.values()] == [("taken", [1]), ("blocked", [1]), ("free", [])]


def test_a_slot_inside_a_blackout_is_blocked_and_names_it(run: Run, day: date) -> None:
    channel_with_slots(run, day, "10:00,14:00")
    window = ["--from", f"{day} 13:00", "--to", f"{day} 15:00", "--tz", "Europe/Zurich", "--channel", "q-x"]
    ok(run("queue", "blackout", "add", "press embargo", *window))
    assert shown_rows(run) == [
        [local(at(day, 10)), "free"],
        [local(at(day, 14)), f"blocked: blackout 'press embargo' (until {at(day, 15):%a %Y-%m-%d %H:%M})"],
    ]
    slot = slots_json(run)[utc(at(day, 14))]
    assert (slot["status"], slot["holder"]) == ("blocked", "blackout: press embargo")


def test_a_queued_post_moved_by_more_than_a_day_says_so(run: Run, day: date) -> None:
    channel_with_slots(run, day, "10:00", "--max-per-day", "1")
    queued(run, "first in the queue")
    fixed(run, day, "12:00", "announced for noon")  # takes the day's one post: the queued one must move
    queued(run, "second in the queue")  # the queue is packed again
    next_week = at(day + timedelta(days=7), 10)
    post = json.loads(ok(run("post", "show", "1", "--json")))
    assert post["publications"][0]["due_at"] == utc(next_week)
    reason = "its slot is blocked: day full (at most 1 a day): post 2 at 12:00 (fixed time)"
    summary = f"from {local(at(day, 10))} to {local(next_week)}; {reason}"
    requeued = [line for line in ok(run("events", "--post", "1")).splitlines() if "publication.requeued" in line]
    assert len(requeued) == 1
    assert requeued[0].endswith(f"q-x: moved by the queue {summary}")
    # post show says so
    [move] = post["requeued"]
    assert (move["channel"], move["from"], move["to"], move["reason"]) == (
        "q-x",
        utc(at(day, 10)),
        utc(next_week),
        reason,
    )
    today = datetime.now(UTC).date()
    assert f"  q-x: moved by the queue on {today} {summary}" in ok(run("post", "show", "1")).splitlines()
    assert json.loads(ok(run("post", "show", "3", "--json")))["requeued"] == []  # placed, not moved


def setup_cms(run: Run) -> None:
    ok(run("org", "add", "cms"))
    for user, role in (("ana", "contributor"), ("pia", "approver")):
        ok(run("user", "add", user))
        ok(run("user", "role", user, "--org", "cms", "--role", role))
    ok(run("channel", "add", "--platform", "x", "--name", "cms-x", "--dry-run", "--org", "cms"))


def in_hours(hours: float) -> datetime:
    return (datetime.now(UTC) + timedelta(hours=hours)).replace(second=0, microsecond=0)


def test_post_review_shows_the_signoff_deadline(run: Run, day: date) -> None:
    setup_cms(run)
    due = at(day, 10)
    ok(run("post", "create", "--as", "ana", "--text", "Big news", "-c", "cms-x", "--importance", "major",
           "--at", due.isoformat()))  # fmt: skip
    deadline = due - timedelta(hours=24)
    review = json.loads(ok(run("post", "review", "1", "--json")))
    assert review["deadlines"]["cms-x"] == {
        "at": utc(deadline),
        "local": f"{deadline.astimezone(UTC):%a %Y-%m-%d %H:%M %Z}",
        "status": "ahead",
        "rule": "major: an approver",
        "hours_before": 24,
    }
    lines = ok(run("post", "review", "1")).splitlines()
    assert lines[1].split()[-1] == "by"  # channel, needs, sign-off by
    assert lines[3].endswith(f"{deadline.astimezone(UTC):%a %Y-%m-%d %H:%M %Z}")
    ok(run("post", "approve", "1", "--as", "pia"))
    assert json.loads(ok(run("post", "review", "1", "--json")))["deadlines"]["cms-x"]["status"] == "met"
    assert ok(run("post", "review", "1")).splitlines()[3].endswith(" (met)")


def test_post_edit_at_inside_the_signoff_deadline_warns(run: Run, day: date) -> None:
    setup_cms(run)
    ok(run("post", "create", "--as", "ana", "--text", "Big news", "-c", "cms-x", "--importance", "major",
           "--at", at(day, 10).isoformat()))  # fmt: skip

    # 10 h ahead: the sign-off was due 14 h ago
    soon = in_hours(10)
    moved = run("post", "edit", "1", "--at", soon.isoformat())
    assert moved.returncode == 0
    assert moved.stdout == "post 1 is now version 1 (submitted)\n  cms-x (X): 8/280, no media\n"
    [warning] = moved.stderr.splitlines()
    assert warning.startswith(
        f"warning: post 1 on cms-x: its sign-off deadline, {soon - timedelta(hours=24):%a %Y-%m-%d %H:%M} UTC "
        "(rule 'major: an approver': 24 h before publication), has already passed, "
        f"so it will not publish at {soon:%a %Y-%m-%d %H:%M} UTC; move it to "
    )
    assert warning.endswith(" UTC or later")
    review = json.loads(ok(run("post", "review", "1", "--json")))
    assert review["deadlines"]["cms-x"]["status"] == "passed"
    assert ok(run("post", "review", "1")).splitlines()[3].endswith(" (passed)")

    # 30 h ahead: the sign-off is due in 6 h, within the policy's 24 h warning time
    later = in_hours(30)
    moved = run("post", "edit", "1", "--at", later.isoformat())
    assert moved.returncode == 0
    [warning] = moved.stderr.splitlines()
    assert re.fullmatch(
        rf"warning: post 1 on cms-x: it must be signed off by {later - timedelta(hours=24):%a %Y-%m-%d %H:%M} UTC "
        r"\(rule 'major: an approver': 24 h before publication\), in (5 h 5\d min|6 h), or it will not publish",
        warning,
    )

    # far enough ahead: nothing to say
    assert ok(run("post", "edit", "1", "--at", in_hours(72).isoformat())) == (
        "post 1 is now version 1 (submitted)\n  cms-x (X): 8/280, no media\n"
    )
