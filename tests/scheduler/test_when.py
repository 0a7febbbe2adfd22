from __future__ import annotations

from datetime import UTC, datetime

import pytest

from scheduler.errors import AmbiguousLocalTime, InvalidTime, NonexistentLocalTime, TimeInPast, UnknownTimeZone
from scheduler.when import parse_due

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("at", "zone", "expected_utc"),
    [
        ("2027-03-08 10:00", "Europe/Zurich", datetime(2027, 3, 8, 9, 0, tzinfo=UTC)),  # winter: UTC+1
        ("2027-07-08 10:00", "Europe/Zurich", datetime(2027, 7, 8, 8, 0, tzinfo=UTC)),  # summer: UTC+2
        ("2027-03-08T10:00+01:00", None, datetime(2027, 3, 8, 9, 0, tzinfo=UTC)),
        ("2027-03-08T09:00Z", None, datetime(2027, 3, 8, 9, 0, tzinfo=UTC)),
        # the fold, disambiguated by the offset: the second 02:30 (CET)
        ("2027-10-31T02:30+01:00", "Europe/Zurich", datetime(2027, 10, 31, 1, 30, tzinfo=UTC)),
        ("2027-10-31T02:30+02:00", "Europe/Zurich", datetime(2027, 10, 31, 0, 30, tzinfo=UTC)),
        # Lord Howe shifts by 30 minutes: 02:00 -> 02:30 that day, then UTC+11
        ("2027-10-03 02:45", "Australia/Lord_Howe", datetime(2027, 10, 2, 15, 45, tzinfo=UTC)),
    ],
)
def test_wall_times_and_instants_become_utc(at: str, zone: str | None, expected_utc: datetime) -> None:
    assert parse_due(at, zone, now=NOW).utc == expected_utc


def test_a_time_in_the_spring_gap_is_refused_naming_both_sides() -> None:
    with pytest.raises(NonexistentLocalTime) as refused:
        parse_due("2027-03-28 02:30", "Europe/Zurich", now=NOW)
    message = str(refused.value)
    assert "does not exist in Europe/Zurich" in message
    assert "01:59 CET (+01:00)" in message
    assert "03:00 CEST (+02:00)" in message


def test_a_gap_of_thirty_minutes_is_found_too() -> None:
    with pytest.raises(NonexistentLocalTime) as refused:
        parse_due("2027-10-03 02:10", "Australia/Lord_Howe", now=NOW)
    assert "01:59" in str(refused.value)
    assert "02:30" in str(refused.value)


def test_a_time_in_the_autumn_fold_needs_an_offset() -> None:
    with pytest.raises(AmbiguousLocalTime) as refused:
        parse_due("2027-10-31 02:30", "Europe/Zurich", now=NOW)
    assert "+02:00" in str(refused.value)
    assert "+01:00" in str(refused.value)


def test_an_offset_the_zone_does_not_use_then_is_refused() -> None:
    with pytest.raises(InvalidTime, match=r"Europe/Zurich is at \+01:00"):
        parse_due("2027-01-10T10:00+02:00", "Europe/Zurich", now=NOW)


def test_unknown_zone_suggests_real_names() -> None:
    with pytest.raises(UnknownTimeZone, match="Europe/Zurich"):
        parse_due("2027-03-08 10:00", "Europe/Zurch", now=NOW)


def test_past_time_is_refused_but_now_is_accepted() -> None:
    with pytest.raises(TimeInPast, match="--now"):
        parse_due("2026-11-23 10:00", "UTC", now=NOW)
    assert parse_due(None, None, now=NOW, immediately=True).utc == NOW


@pytest.mark.parametrize(
    ("at", "zone", "match"),
    [
        ("2027-03-08 10:00", None, "no offset"),
        ("next tuesday", "UTC", "cannot read the time"),
        (None, None, "no time given"),
    ],
)
def test_unusable_input_is_refused_with_a_hint(at: str | None, zone: str | None, match: str) -> None:
    with pytest.raises(InvalidTime, match=match):
        parse_due(at, zone, now=NOW)
