"""`crosspost calendar` and `crosspost campaign` through the command's entry point."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import icalendar

from tests.helpers import Run, ok, refused

OWN_DAY = b"""BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//CMS//outreach//EN
BEGIN:VEVENT
UID:open-day@cms
DTSTART;VALUE=DATE:20250704
DTEND;VALUE=DATE:20250705
RRULE:FREQ=YEARLY
SUMMARY:CMS Open Day
END:VEVENT
END:VCALENDAR
"""


def test_calendar_list_json_has_the_documented_fields(cli: Run) -> None:
    listed = json.loads(ok(cli("calendar", "list", "--year", "2027", "--tag", "lgbtq", "--json")))
    stem_day = next(item for item in listed if item["id"] == "lgbtq-stem-day")
    assert {"id", "name", "start", "end", "kind", "tone", "hashtags"} <= stem_day.keys()
    assert (stem_day["start"], stem_day["end"], stem_day["kind"]) == ("2027-11-18", "2027-11-18", "day")
    assert all("lgbtq" in item["tags"] for item in listed)
    assert "unknown" not in ok(cli("calendar", "show", "lgbtq-stem-day"))
    assert "no observance with id 'nope'" in refused(cli("calendar", "show", "nope"))


def test_import_then_export_gives_the_days_back(cli: Run, tmp_path: Path) -> None:
    source = tmp_path / "cms.ics"
    source.write_bytes(OWN_DAY)
    assert ok(cli("calendar", "import", str(source))) == "imported 1 observance: custom-cms-open-day\n"
    ok(cli("calendar", "export", "--year", "2027", "--output", str(tmp_path / "2027.ics")))
    exported = icalendar.Calendar.from_ical((tmp_path / "2027.ics").read_bytes())
    days = {str(e["summary"]): (e.decoded("dtstart"), e.decoded("dtend")) for e in exported.walk("VEVENT")}
    assert days["CMS Open Day"] == (dt.date(2027, 7, 4), dt.date(2027, 7, 5))
    assert days["LGBTQ+ STEM Day"] == (dt.date(2027, 11, 18), dt.date(2027, 11, 19))


def _next_stem_day() -> dt.date:
    """The CLI runs on the real clock: the next 18 November (LGBTQ+ STEM Day since 2020)."""
    today = dt.datetime.now(dt.UTC).date()
    this_year = dt.date(today.year, 11, 18)
    # a campaign is for a post still to come: 10:00 in Zurich on the day is 09:00 UTC
    return (
        this_year
        if dt.datetime.now(dt.UTC) < dt.datetime(today.year, 11, 18, 9, tzinfo=dt.UTC)
        else (dt.date(today.year + 1, 11, 18))
    )


def _ordinal(number: int) -> str:
    return f"{number}{'th' if 10 <= number % 100 <= 20 else {1: 'st', 2: 'nd', 3: 'rd'}.get(number % 10, 'th')}"


def test_campaign_add_list_show_remove(cli: Run) -> None:
    day = _next_stem_day()
    ok(cli("channel", "add", "--platform", "x", "--name", "cms-x", "--dry-run"))
    added = ok(
        cli("campaign", "add", "--observance", "lgbtq-stem-day", "--channel", "cms-x", "--text", "The {ordinal} {name}")
    )
    assert "campaign 1: lgbtq-stem-day on cms-x" in added
    assert f"text: The {_ordinal(day.year - 2017)} LGBTQ+ STEM Day" in added  # editions since 2018
    assert f"published {day.isoformat()}T09:00:00+00:00" in added
    late = ok(
        cli(
            "campaign",
            "add",
            "--observance",
            "lgbtq-stem-day",
            "--channel",
            "cms-x",
            "--text",
            "{name}",
            "--at",
            "23:30",
        )
    )
    assert f"warning: in Asia/Tokyo it is {day + dt.timedelta(days=1)} 07:30 JST" in late
    assert [c["id"] for c in json.loads(ok(cli("campaign", "list", "--json")))] == [1, 2]
    draft_on = json.loads(ok(cli("campaign", "show", "1", "--json")))["next"]["draft_on"]
    assert draft_on == f"{day - dt.timedelta(days=14)}T09:00:00+00:00"
    ok(cli("campaign", "remove", "2"))
    assert "no active campaign with id 2" in refused(cli("campaign", "remove", "2"), code=1)
    assert "unknown channel 'nope'" in refused(
        cli("campaign", "add", "--observance", "lgbtq-stem-day", "--channel", "nope", "--text", "x")
    )
