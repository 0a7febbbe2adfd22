"""Awareness-day campaigns on a controlled clock, and the calendar's .ics export and import."""

from __future__ import annotations

import datetime as dt
from datetime import UTC, datetime, timedelta

import icalendar
import pytest

from scheduler import posts
from scheduler.calendar import campaigns, ics, observances
from scheduler.editorial import overview, people, signoff
from scheduler.errors import InvalidInput, StateConflict
from scheduler.publishing import publications
from scheduler.runtime import Runtime
from scheduler.store import Publication
from tests.conftest import Clock
from tests.helpers import publication_states

OPEN_DAY_ICS = b"""BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//CMS//outreach//EN
BEGIN:VEVENT
UID:open-day@cms
DTSTART;VALUE=DATE:20250704
DTEND;VALUE=DATE:20250705
RRULE:FREQ=YEARLY
EXDATE;VALUE=DATE:20260704
SUMMARY:CMS Open Day
END:VEVENT
BEGIN:VEVENT
UID:masterclass-2026@cms
DTSTART;VALUE=DATE:20260302
DTEND;VALUE=DATE:20260307
SUMMARY:CMS Masterclass week
END:VEVENT
BEGIN:VEVENT
UID:masterclass-2027@cms
DTSTART;VALUE=DATE:20270301
DTEND;VALUE=DATE:20270306
SUMMARY:CMS Masterclass week
END:VEVENT
END:VCALENDAR
"""


def test_ics_import_keeps_rules_exceptions_and_per_year_dates(runtime: Runtime) -> None:
    ids = campaigns.import_ics(runtime.db, OPEN_DAY_ICS, source="cms.ics", now=runtime.clock())
    assert ids == ["custom-cms-open-day", "custom-cms-masterclass-week"]
    every = campaigns.all_observances(runtime.db)
    open_day = observances.find(every, "custom-cms-open-day")
    assert [open_day.occurrence(y) for y in (2026,)] == [None]  # EXDATE: not that year
    occurrence = open_day.occurrence(2027)
    assert occurrence is not None
    assert occurrence.start == dt.date(2027, 7, 4)
    week = observances.find(every, "custom-cms-masterclass-week")
    spans = [(o.start, o.end) for o in week.occurrences(dt.date(2026, 1, 1), dt.date(2027, 12, 31))]
    assert spans == [(dt.date(2026, 3, 2), dt.date(2026, 3, 6)), (dt.date(2027, 3, 1), dt.date(2027, 3, 5))]


def test_ics_import_refuses_what_is_not_a_yearly_all_day_observance(runtime: Runtime) -> None:
    monthly = OPEN_DAY_ICS.replace(b"RRULE:FREQ=YEARLY", b"RRULE:FREQ=MONTHLY")
    with pytest.raises(InvalidInput, match="'CMS Open Day' repeats MONTHLY; an observance happens once a year"):
        campaigns.import_ics(runtime.db, monthly, source="cms.ics", now=runtime.clock())
    with pytest.raises(InvalidInput, match="not an iCalendar file"):
        campaigns.import_ics(runtime.db, b"hello", source="x.ics", now=runtime.clock())
    assert len(campaigns.all_observances(runtime.db)) == len(observances.builtin())


def test_an_ics_export_parsed_back_gives_the_same_occurrences(runtime: Runtime) -> None:
    campaigns.import_ics(runtime.db, OPEN_DAY_ICS, source="cms.ics", now=runtime.clock())
    expected = campaigns.calendar_between(runtime.db, dt.date(2024, 1, 1), dt.date(2027, 12, 31))
    data = ics.export(expected, stamp=datetime(2026, 12, 2, tzinfo=UTC))
    parsed = icalendar.Calendar.from_ical(data)
    back = []
    for event in parsed.walk("VEVENT"):
        start, end = event.decoded("dtstart"), event.decoded("dtend")
        assert type(start) is dt.date  # all-day: VALUE=DATE, no time, no zone
        back.append((str(event["summary"]), start, end - timedelta(days=1)))  # DTEND is exclusive
    assert back == [(o.observance.name, o.start, o.end) for o in expected]
    assert len({str(event["uid"]) for event in parsed.walk("VEVENT")}) == len(expected)


def test_ten_oclock_in_zurich_is_nine_utc_in_winter_and_eight_in_summer(runtime: Runtime, clock: Clock) -> None:
    campaigns.import_ics(runtime.db, OPEN_DAY_ICS, source="cms.ics", now=clock.now)
    every = campaigns.all_observances(runtime.db)
    winter = observances.find(every, "lgbtq-stem-day").occurrence(2027)  # 18 November: CET
    summer = observances.find(every, "custom-cms-open-day").occurrence(2027)  # 4 July: CEST
    assert winter is not None
    assert summer is not None
    assert campaigns.publish_instant(winter, "10:00", "Europe/Zurich") == datetime(2027, 11, 18, 9, tzinfo=UTC)
    assert campaigns.publish_instant(summer, "10:00", "Europe/Zurich") == datetime(2027, 7, 4, 8, tzinfo=UTC)


def test_a_publish_time_off_the_date_somewhere_is_warned_about(runtime: Runtime, clock: Clock) -> None:
    posts.add_channel(runtime.db, runtime.settings, name="t-x", platform="x", dry_run=True, now=clock.now)
    _, warnings = campaigns.add_campaign(
        runtime.db,
        runtime.settings,
        observance_id="lgbtq-stem-day",
        channels=["t-x"],
        text="Happy {name}!",
        publish_time="23:30",
        now=clock.now,
    )
    assert warnings == [
        "in Asia/Tokyo it is 2027-11-19 07:30 JST, not LGBTQ+ STEM Day (2027-11-18)",
        "in Australia/Sydney it is 2027-11-19 09:30 AEDT, not LGBTQ+ STEM Day (2027-11-18)",
    ]
    _, none = campaigns.add_campaign(
        runtime.db,
        runtime.settings,
        observance_id="lgbtq-stem-day",
        channels=["t-x"],
        text="Happy {name}!",
        now=clock.now,
    )
    assert none == []


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("Happy {nmae}!", r"uses \{nmae\}, which is not a template field; use \{year\}"),
        ("The {ordinal} {name}", None),
    ],
)
def test_templates_are_checked_when_the_campaign_is_added(
    runtime: Runtime, clock: Clock, text: str, match: str | None
) -> None:
    posts.add_channel(runtime.db, runtime.settings, name="t-x", platform="x", dry_run=True, now=clock.now)
    if match is None:
        campaign_id, _ = campaigns.add_campaign(
            runtime.db, runtime.settings, observance_id="lgbtq-stem-day", channels=["t-x"], text=text, now=clock.now
        )
        assert campaigns.campaign_view(runtime.db, campaign_id, now=clock.now)["next"]["text"] == (
            "The 10th LGBTQ+ STEM Day"
        )
    else:
        with pytest.raises(InvalidInput, match=match):
            campaigns.add_campaign(
                runtime.db,
                runtime.settings,
                observance_id="lgbtq-stem-day",
                channels=["t-x"],
                text=text,
                now=clock.now,
            )
        assert campaigns.list_campaigns(runtime.db) == []


# -- a yearly campaign through the editorial workflow and the pipeline -----------------------------


@pytest.fixture
def cms(runtime: Runtime) -> Runtime:
    now = runtime.clock()
    people.add_org(runtime.db, name="cms", now=now)
    for user, role in (("ana", "contributor"), ("eve", "editor")):
        people.add_user(runtime.db, name=user, now=now)
        people.set_role(runtime.db, user=user, org="cms", role=role, now=now)
    posts.add_channel(
        runtime.db,
        runtime.settings,
        name="cms-x",
        platform="x",
        dry_run=True,
        org="cms",
        timezone="Europe/Zurich",
        now=now,
    )
    return runtime


def _cms_campaign(
    runtime: Runtime, clock: Clock, text: str, *, observance: str = "lgbtq-stem-day", lead_days: int = 14
) -> int:
    """ana's campaign for cms-x (a contributor: an editor signs it off)."""
    campaign_id, _ = campaigns.add_campaign(
        runtime.db,
        runtime.settings,
        observance_id=observance,
        channels=["cms-x"],
        org="cms",
        actor="ana",
        text=text,
        lead_days=lead_days,
        now=clock.now,
    )
    return campaign_id


def _made(runtime: Runtime, campaign_id: int) -> list[int]:
    view = campaigns.campaign_view(runtime.db, campaign_id, now=runtime.clock())
    return [made["post"] for made in view["posts"] if made["post"] is not None]


def _publish_due(runtime: Runtime) -> list[int]:
    published = []
    for dispatch in publications.claim_due(runtime.db, now=runtime.clock(), settings=runtime.settings):
        state = publications.publish(
            runtime.db,
            dispatch.publication_id,
            dispatch.token,
            runtime.adapters,
            settings=runtime.settings,
            clock=runtime.clock,
        )
        if state is not None and state.value == "published":
            published.append(dispatch.publication_id)
    return published


def test_a_yearly_campaign_drafts_at_the_lead_time_and_publishes_on_the_day_once_signed(
    cms: Runtime, clock: Clock
) -> None:
    clock.now = datetime(2027, 10, 1, 9, tzinfo=UTC)
    campaign_id = _cms_campaign(cms, clock, "Today is the {ordinal} {name}. {hashtags}", lead_days=14)
    clock.now = datetime(2027, 11, 4, 8, 59, tzinfo=UTC)  # a minute before 14 days ahead of 09:00 UTC
    assert campaigns.sweep(cms.db, cms.settings, now=clock.now) == []
    clock.advance(60)
    [post_id] = campaigns.sweep(cms.db, cms.settings, now=clock.now)
    assert campaigns.sweep(cms.db, cms.settings, now=clock.now) == []  # once per year, however often it runs
    view = posts.show_post(cms.db, post_id)
    assert view["text"] == "Today is the 10th LGBTQ+ STEM Day. #LGBTSTEMDay #LGBTQSTEMDay"
    assert (view["format"], view["review"], view["author"]) == ("awareness_day", "submitted", "ana")
    assert view["publications"][0]["due_at"] == "2027-11-18T09:00:00+00:00"
    assert publication_states(cms, post_id) == {"cms-x": "awaiting_signoff"}

    signoff.approve(cms.db, post_id, actor="eve", now=clock.now)
    clock.now = datetime(2027, 11, 18, 9, tzinfo=UTC)
    assert len(_publish_due(cms)) == 1
    assert publication_states(cms, post_id) == {"cms-x": "published"}

    # the next year's post comes at next year's lead time, from the same campaign
    clock.now = datetime(2028, 11, 4, 9, tzinfo=UTC)
    [next_year] = campaigns.sweep(cms.db, cms.settings, now=clock.now)
    assert posts.show_post(cms.db, next_year)["text"].startswith("Today is the 11th LGBTQ+ STEM Day")
    assert _made(cms, campaign_id) == [post_id, next_year]


def test_without_its_sign_off_a_campaign_post_does_not_publish_and_the_log_says_so(cms: Runtime, clock: Clock) -> None:
    clock.now = datetime(2027, 11, 4, 9, tzinfo=UTC)
    _cms_campaign(cms, clock, "{name}")
    [post_id] = campaigns.sweep(cms.db, cms.settings, now=clock.now)
    clock.now = datetime(2027, 11, 18, 9, tzinfo=UTC)
    overview.sweep_deadlines(cms.db, now=clock.now)
    assert _publish_due(cms) == []
    assert publication_states(cms, post_id) == {"cms-x": "needs_attention"}
    kinds = [e.kind for e in posts.read_events(cms.db, post_id=post_id)]
    assert "campaign.drafted" in kinds
    assert "approval.missed" in kinds
    with cms.db.transaction() as session:
        row = session.query(Publication).filter(Publication.post_id == post_id).one()
        assert row.published_at is None
        assert row.attempts == 0


def test_a_campaign_that_would_not_fit_is_refused_when_added(cms: Runtime, clock: Clock) -> None:
    clock.now = datetime(2027, 11, 4, 9, tzinfo=UTC)
    with pytest.raises(InvalidInput, match=r"on 2027-11-18: .*does not fit in one post"):
        _cms_campaign(cms, clock, "{name} " + "x" * 300)  # one 300-letter word: not even a thread
    assert campaigns.list_campaigns(cms.db) == []


def test_a_campaign_post_that_cannot_be_made_is_recorded_once(cms: Runtime, clock: Clock) -> None:
    clock.now = datetime(2027, 11, 4, 9, tzinfo=UTC)
    campaign_id = _cms_campaign(cms, clock, "Today is {name}")
    # accepted then; since, the channel went to another organisation, where ana may not post
    people.add_org(cms.db, name="atlas", now=clock.now)
    posts.assign_channel(cms.db, channel="cms-x", org="atlas", now=clock.now)
    assert campaigns.sweep(cms.db, cms.settings, now=clock.now) == []
    assert campaigns.sweep(cms.db, cms.settings, now=clock.now) == []
    [made] = campaigns.campaign_view(cms.db, campaign_id, now=clock.now)["posts"]
    assert made["post"] is None
    assert "may not schedule on cms-x, which belongs to atlas" in made["error"]
    failures = [e for e in posts.read_events(cms.db) if e.kind == "campaign.failed"]
    assert len(failures) == 1


def test_a_commemorative_day_gets_a_draft_that_never_goes_out_by_itself(cms: Runtime, clock: Clock) -> None:
    clock.now = datetime(2027, 11, 6, 9, tzinfo=UTC)
    _cms_campaign(cms, clock, "We remember. {hashtags}", observance="transgender-day-of-remembrance")
    [post_id] = campaigns.sweep(cms.db, cms.settings, now=clock.now)
    view = posts.show_post(cms.db, post_id)
    assert (view["review"], view["text"]) == ("draft", "We remember. #TDoR")
    assert publication_states(cms, post_id) == {"cms-x": "awaiting_signoff"}
    [drafted] = [e for e in posts.read_events(cms.db, post_id=post_id) if e.kind == "campaign.drafted"]
    assert "commemorative day: never published by itself, submit it by hand" in (drafted.message or "")
    with pytest.raises(StateConflict, match="is a draft"):
        signoff.approve(cms.db, post_id, actor="eve", now=clock.now)
