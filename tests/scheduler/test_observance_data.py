"""The built-in awareness-day dataset (scheduler/data/observances.toml) against the reference.

Pinned dates come from shared/reference/awareness-days.md: the appendix fixtures, the history
of rules that changed (Ada Lovelace Day, GAAD, Open Access Week, Day of Peace, LGBTQ+ STEM Day)
and the February months of §3.1.
"""

from __future__ import annotations

import datetime as dt
import re

import pytest

from scheduler.calendar.observances import SKIP, Observance, builtin, find, occurrences, parse_dataset
from scheduler.errors import InvalidInput

D = dt.date
SPAN = range(2000, 2041)  # every rrule must give a date in each covered year of this span
VERIFIED_ON = D(2026, 11, 23)
REGIONAL_MONTHS = {
    "black-history-month-us": (2, "US"),
    "black-history-month-uk": (10, "GB"),
    "black-achievement-month-nl": (10, "NL"),
    "womens-history-month-us": (3, "US"),
    "womens-history-month-ca": (10, "CA"),
    "lgbt-history-month-uk": (2, "GB"),
    "lgbt-history-month-us": (10, "US"),
}


def observance(observance_id: str) -> Observance:
    return find(builtin(), observance_id)


def span(observance_id: str, year: int) -> tuple[dt.date, dt.date] | None:
    found = observance(observance_id).occurrence(year)
    return None if found is None else (found.start, found.end)


# --- the file as a whole ----------------------------------------------------------------------


def test_the_dataset_parses_and_holds_every_reference_row() -> None:
    observances = builtin()
    ids = [o.id for o in observances]
    assert len(observances) >= 49  # 48 rows, regional months split, plus the Year of Quantum 2025
    assert len(ids) == len(set(ids))


@pytest.mark.parametrize("entry", builtin(), ids=lambda o: o.id)
def test_every_entry_is_sourced_and_dated(entry: Observance) -> None:
    assert entry.sources, "no source"
    assert all(source.startswith(("http://", "https://")) for source in entry.sources)
    assert entry.verified_on == VERIFIED_ON
    assert entry.body


@pytest.mark.parametrize("entry", builtin(), ids=lambda o: o.id)
def test_every_rrule_gives_a_date_in_each_year_it_covers(entry: Observance) -> None:
    for rule in entry.rules:
        for year in SPAN:
            if not rule.covers(year) or year < entry.first_year or entry.overrides.get(str(year)) == SKIP:
                continue
            found = entry.occurrence(year)
            assert found is not None, f"{entry.id}: no date in {year}"
            assert found.start.year == year
            assert found.end >= found.start


@pytest.mark.parametrize("entry", builtin(), ids=lambda o: o.id)
def test_rule_versions_start_no_earlier_than_the_first_edition(entry: Observance) -> None:
    assert all(rule.first >= entry.first_year for rule in entry.rules)
    assert all(int(year) >= entry.first_year for year in entry.overrides)


def test_commemorative_days_never_auto_publish() -> None:
    commemorative = [o for o in builtin() if o.tone == "commemorative"]
    assert "transgender-day-of-remembrance" in {o.id for o in commemorative}
    for entry in commemorative:
        assert not entry.auto_publish, entry.id
        assert not entry.auto_publishes, entry.id


@pytest.mark.parametrize("observance_id", ["nobel-physics-announcement", "international-year-of-quantum-2025"])
def test_announcements_are_reminders_only(observance_id: str) -> None:
    entry = observance(observance_id)
    assert entry.kind == "announcement"
    assert not entry.auto_publish
    assert not entry.auto_publishes


def test_months_are_calendar_months_and_weeks_last_seven_days() -> None:
    for entry in builtin():
        if entry.kind == "month":
            assert all(rule.month is not None and rule.rrule is None for rule in entry.rules), entry.id
            assert "month" in entry.tags, entry.id
        if entry.kind == "week":
            assert all(rule.days == 7 for rule in entry.rules), entry.id


@pytest.mark.parametrize(("observance_id", "month_and_region"), REGIONAL_MONTHS.items())
def test_regional_months_are_separate_entries(observance_id: str, month_and_region: tuple[int, str]) -> None:
    month, region = month_and_region
    entry = observance(observance_id)
    assert "regional" in entry.tags
    assert all(rule.month == month for rule in entry.rules)
    assert all(region in rule.region.split(",") for rule in entry.rules)


def test_hashtag_templates_use_only_year_placeholders() -> None:
    for entry in builtin():
        for tag in entry.hashtags:
            assert tag.startswith("#"), (entry.id, tag)
            assert not re.search(r"\{(?!yyyy\}|yy\})", tag), (entry.id, tag)


def test_unconfirmed_hashtags_are_flagged_in_notes() -> None:
    for observance_id in ("world-quantum-day", "international-day-of-light", "international-day-of-peace"):
        assert "(?)" in observance(observance_id).notes


@pytest.mark.parametrize(
    ("observance_id", "confidence"),
    [
        ("international-mother-language-day", "secondary"),
        ("world-autism-awareness-day", "secondary"),
        ("earth-day", "secondary"),
        ("open-access-week", "secondary"),
        ("transgender-day-of-remembrance", "secondary"),
        ("intersex-awareness-day", "unverified"),
        ("womens-history-month-us", "unverified"),
        ("nobel-physics-announcement", "unverified"),
        ("international-week-of-science-and-peace", "unverified"),
        ("lgbtq-stem-day", "primary"),
        ("ada-lovelace-day", "primary"),
    ],
)
def test_confidence_follows_the_reference(observance_id: str, confidence: str) -> None:
    assert observance(observance_id).confidence == confidence


def test_cern_anniversaries_count_years_since_the_event() -> None:
    cern = [o for o in builtin() if o.kind == "anniversary"]
    assert {o.id for o in cern} >= {
        "web-proposal-anniversary",
        "web-public-domain-anniversary",
        "higgs-discovery-anniversary",
        "lhc-first-beam-anniversary",
        "cern-founding-anniversary",
    }
    assert all("cern" in o.tags for o in cern)
    higgs = observance("higgs-discovery-anniversary").occurrence(2027)
    assert higgs is not None
    assert (higgs.start, higgs.ordinal) == (D(2027, 7, 4), "15th")
    founding = observance("cern-founding-anniversary").occurrence(2029)
    assert founding is not None
    assert (founding.start, founding.ordinal) == (D(2029, 9, 29), "75th")


def test_overlapping_rule_versions_are_refused() -> None:
    crafted = """
[[observance]]
id = "overlapping-day"
name = "Overlapping Day"
kind = "day"
first_year = 2010

[[observance.rule]]
from = 2010
to = 2020
rrule = "FREQ=YEARLY;BYMONTH=5;BYMONTHDAY=1"

[[observance.rule]]
from = 2020
rrule = "FREQ=YEARLY;BYMONTH=5;BYMONTHDAY=2"
"""
    with pytest.raises(InvalidInput, match="rule versions overlap") as refused:
        parse_dataset(crafted, source="crafted.toml")
    assert "overlapping-day" in str(refused.value)


# --- pinned dates -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("observance_id", "year", "expected"),
    [
        # LGBTQ+ STEM Day moved from 5 July to 18 November in 2020
        *[("lgbtq-stem-day", year, (D(year, 7, 5), D(year, 7, 5))) for year in (2018, 2019)],
        *[("lgbtq-stem-day", year, (D(year, 11, 18), D(year, 11, 18))) for year in range(2020, 2028)],
        ("lgbtq-stem-day", 2017, None),
        # Ada Lovelace Day: ad-hoc dates until 2013, then the second Tuesday of October
        ("ada-lovelace-day", 2009, (D(2009, 3, 24), D(2009, 3, 24))),
        ("ada-lovelace-day", 2010, (D(2010, 3, 24), D(2010, 3, 24))),
        ("ada-lovelace-day", 2011, (D(2011, 10, 7), D(2011, 10, 7))),
        ("ada-lovelace-day", 2012, (D(2012, 10, 16), D(2012, 10, 16))),
        ("ada-lovelace-day", 2013, (D(2013, 10, 15), D(2013, 10, 15))),
        ("ada-lovelace-day", 2014, (D(2014, 10, 14), D(2014, 10, 14))),
        ("ada-lovelace-day", 2015, (D(2015, 10, 13), D(2015, 10, 13))),
        ("ada-lovelace-day", 2016, (D(2016, 10, 11), D(2016, 10, 11))),
        ("ada-lovelace-day", 2026, (D(2026, 10, 13), D(2026, 10, 13))),
        ("ada-lovelace-day", 2027, (D(2027, 10, 12), D(2027, 10, 12))),
        ("ada-lovelace-day", 2008, None),
        # Open Access Week: a day in 2008, ad-hoc weeks in 2009-2010, the last full week from 2011
        ("open-access-week", 2008, (D(2008, 10, 14), D(2008, 10, 14))),
        ("open-access-week", 2009, (D(2009, 10, 19), D(2009, 10, 23))),
        ("open-access-week", 2010, (D(2010, 10, 18), D(2010, 10, 24))),
        ("open-access-week", 2011, (D(2011, 10, 24), D(2011, 10, 30))),
        ("open-access-week", 2017, (D(2017, 10, 23), D(2017, 10, 29))),
        ("open-access-week", 2021, (D(2021, 10, 25), D(2021, 10, 31))),
        ("open-access-week", 2023, (D(2023, 10, 23), D(2023, 10, 29))),
        ("open-access-week", 2024, (D(2024, 10, 21), D(2024, 10, 27))),
        ("open-access-week", 2025, (D(2025, 10, 20), D(2025, 10, 26))),
        ("open-access-week", 2026, (D(2026, 10, 19), D(2026, 10, 25))),
        ("open-access-week", 2027, (D(2027, 10, 25), D(2027, 10, 31))),
        # GAAD: chosen dates in 2012 and 2014, 2013 unknown, the third Thursday of May from 2015
        ("global-accessibility-awareness-day", 2012, (D(2012, 5, 9), D(2012, 5, 9))),
        ("global-accessibility-awareness-day", 2013, None),
        ("global-accessibility-awareness-day", 2014, (D(2014, 5, 15), D(2014, 5, 15))),
        ("global-accessibility-awareness-day", 2015, (D(2015, 5, 21), D(2015, 5, 21))),
        ("global-accessibility-awareness-day", 2026, (D(2026, 5, 21), D(2026, 5, 21))),
        ("global-accessibility-awareness-day", 2027, (D(2027, 5, 20), D(2027, 5, 20))),
        # International Day of Peace: third Tuesday of September until 2001, 21 September from 2002
        ("international-day-of-peace", 1982, (D(1982, 9, 21), D(1982, 9, 21))),
        ("international-day-of-peace", 1999, (D(1999, 9, 21), D(1999, 9, 21))),
        ("international-day-of-peace", 2000, (D(2000, 9, 19), D(2000, 9, 19))),
        ("international-day-of-peace", 2001, (D(2001, 9, 18), D(2001, 9, 18))),
        *[("international-day-of-peace", y, (D(y, 9, 21), D(y, 9, 21))) for y in (2002, 2003, 2026, 2040)],
        ("international-day-of-peace", 1981, None),
        # appendix A fixtures
        ("girls-in-ict-day", 2026, (D(2026, 4, 23), D(2026, 4, 23))),
        ("girls-in-ict-day", 2027, (D(2027, 4, 22), D(2027, 4, 22))),
        ("world-space-week", 2026, (D(2026, 10, 4), D(2026, 10, 10))),
        ("world-space-week", 2027, (D(2027, 10, 4), D(2027, 10, 10))),
        ("international-week-of-science-and-peace", 2026, (D(2026, 11, 9), D(2026, 11, 15))),
        ("international-week-of-science-and-peace", 2027, (D(2027, 11, 8), D(2027, 11, 14))),
        ("nobel-physics-announcement", 2013, (D(2013, 10, 8), D(2013, 10, 8))),
        ("nobel-physics-announcement", 2017, (D(2017, 10, 3), D(2017, 10, 3))),
        ("nobel-physics-announcement", 2025, (D(2025, 10, 7), D(2025, 10, 7))),
        ("nobel-physics-announcement", 2026, (D(2026, 10, 6), D(2026, 10, 6))),
        ("nobel-physics-announcement", 2027, (D(2027, 10, 5), D(2027, 10, 5))),
        # the International Year of Quantum Science and Technology is one year only
        ("international-year-of-quantum-2025", 2025, (D(2025, 1, 1), D(2025, 12, 31))),
        ("international-year-of-quantum-2025", 2024, None),
        ("international-year-of-quantum-2025", 2026, None),
        # fixed dates
        ("international-womens-day", 2027, (D(2027, 3, 8), D(2027, 3, 8))),
        ("transgender-day-of-remembrance", 2026, (D(2026, 11, 20), D(2026, 11, 20))),
        ("international-women-in-engineering-day", 2026, (D(2026, 6, 23), D(2026, 6, 23))),
    ],
)
def test_pinned_dates(observance_id: str, year: int, expected: tuple[dt.date, dt.date] | None) -> None:
    assert span(observance_id, year) == expected


@pytest.mark.parametrize(
    ("observance_id", "year", "last_day"),
    [
        ("black-history-month-us", 2024, 29),
        ("black-history-month-us", 2026, 28),
        ("black-history-month-us", 2100, 28),  # divisible by 100, not by 400: not a leap year
        ("black-history-month-us", 2000, 29),  # divisible by 400: a leap year
        ("lgbt-history-month-uk", 2028, 29),
        ("lgbt-history-month-uk", 2027, 28),
    ],
)
def test_february_months_follow_leap_years(observance_id: str, year: int, last_day: int) -> None:
    assert span(observance_id, year) == (D(year, 2, 1), D(year, 2, last_day))


def test_regions_widen_over_the_years() -> None:
    us = observance("black-history-month-us")
    assert [(rule.first, rule.last, rule.region) for rule in us.rules] == [(1976, 1994, "US"), (1995, None, "US,CA")]
    inwed = observance("international-women-in-engineering-day")
    assert [(rule.first, rule.region) for rule in inwed.rules] == [(2014, "GB"), (2017, "global")]


@pytest.mark.parametrize(
    ("observance_id", "year", "expected"),
    [
        ("international-womens-day", 2027, ["#IWD2027", "#InternationalWomensDay"]),
        ("international-day-of-light", 2026, ["#IDL2026", "#LightDay"]),
        ("international-women-in-engineering-day", 2026, ["#INWED", "#INWED26"]),
        ("pride-month", 2027, ["#PrideMonth", "#Pride2027"]),
        ("ada-lovelace-day", 2030, ["#AdaLovelaceDay", "#ALD30"]),
    ],
)
def test_hashtag_templates_expand_per_year(observance_id: str, year: int, expected: list[str]) -> None:
    found = observance(observance_id).occurrence(year)
    assert found is not None
    assert found.hashtags == expected


def test_shared_dates_list_every_observance() -> None:
    """23 September holds two observances; editors pick (§3.1, gotcha 3)."""
    on_the_day = occurrences(builtin(), D(2026, 9, 23), D(2026, 9, 23))
    assert {o.id for o in on_the_day} == {"bi-visibility-day", "international-day-of-sign-languages"}
    early_october = occurrences(builtin(), D(2026, 10, 4), D(2026, 10, 13), tag="stem")
    assert {"world-space-week", "nobel-physics-announcement", "ada-lovelace-day"} <= {o.id for o in early_october}
