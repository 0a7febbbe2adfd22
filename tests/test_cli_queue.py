"""The sign-off deadline, through the `crosspost` command's entry point: `post review` shows it, and
`post edit --at` warns when the new time falls inside it. The CLI runs on the real clock, so times
are set a few days ahead of today."""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime, time, timedelta
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


def utc(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()


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
    assert moved.stdout == "post 1 is now version 1 (submitted)\n"
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
    assert ok(run("post", "edit", "1", "--at", in_hours(72).isoformat())) == "post 1 is now version 1 (submitted)\n"
