from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from scheduler.errors import InvalidInput, UnknownTimeZone
from scheduler.planning.slots import (
    Booking,
    Explainer,
    NoFreeSlot,
    PostingSchedule,
    Priority,
    Queued,
    SlotStatus,
    Window,
    allocate,
    explain_slots,
    parse_priority,
    release,
    slot_instants,
    upcoming,
)

ZURICH = ZoneInfo("Europe/Zurich")
# Monday 5 January 2026, 08:00 in Zurich (winter, UTC+1).
NOW = datetime(2026, 1, 5, 7, 0, tzinfo=UTC)


def local(day: int, hour: int, minute: int = 0, *, month: int = 1) -> datetime:
    """A Zurich wall time in 2026 as a UTC instant."""
    return datetime(2026, month, day, hour, minute, tzinfo=ZURICH).astimezone(UTC)


def item(key: int, priority: Priority = Priority.NORMAL, minutes_ago: int = 0) -> Queued:
    return Queued(key=key, priority=priority, queued_at=NOW - timedelta(minutes=minutes_ago))


def schedule(*specs: str, max_per_day: int | None = None, min_spacing: str | None = None) -> PostingSchedule:
    return PostingSchedule.parse("Europe/Zurich", specs, max_per_day=max_per_day, min_spacing=min_spacing)


# -- priorities ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [("high", Priority.HIGH), ("NORMAL", Priority.NORMAL), (" low ", Priority.LOW)],
)
def test_priorities_are_read_case_insensitively(text: str, expected: Priority) -> None:
    assert parse_priority(text) is expected


def test_priority_ranks_put_high_first() -> None:
    assert [p.rank for p in (Priority.HIGH, Priority.NORMAL, Priority.LOW)] == [0, 1, 2]


def test_an_unknown_priority_names_the_accepted_ones() -> None:
    with pytest.raises(InvalidInput, match=re.escape("unknown priority 'urgent'; use high, normal or low")):
        parse_priority("urgent")


# -- parsing -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("mon-fry 09:00", "slot 'mon-fry 09:00': unknown day 'fry'; use mon, tue, ... or daily"),
        ("someday 09:00", "slot 'someday 09:00': unknown day 'someday'"),
        ("mon 25:00", "slot 'mon 25:00': cannot read the time '25:00'; use HH:MM on the 24-hour clock"),
        ("mon 09:60", "cannot read the time '09:60'"),
        ("mon 9", "cannot read the time '9'"),
        ("mon 09:00,", "cannot read the time ''"),
        ("09:00", "slot '09:00': give the days, then the times, e.g. 'mon-fri 09:00,13:30'"),
        ("mon", "give the days, then the times"),
        ("mon 09:00 10:00", "give the days, then the times"),
        ("", "give the days, then the times"),
    ],
)
def test_malformed_slots_are_refused_naming_the_problem(spec: str, message: str) -> None:
    with pytest.raises(InvalidInput, match=re.escape(message)):
        PostingSchedule.parse("UTC", [spec])


@pytest.mark.parametrize("spacing", ["90", "1.5h", "-5m", "", "soon", "h", "30s"])
def test_malformed_spacing_is_refused_with_examples(spacing: str) -> None:
    with pytest.raises(InvalidInput, match=re.escape(f"min spacing {spacing!r}: use minutes or hours such as 90m")):
        PostingSchedule.parse("UTC", ["daily 09:00"], min_spacing=spacing)


@pytest.mark.parametrize("limit", [0, -1])
def test_max_per_day_must_be_at_least_one(limit: int) -> None:
    with pytest.raises(InvalidInput, match=re.escape(f"max per day must be at least 1 (got {limit})")):
        PostingSchedule.parse("UTC", ["daily 09:00"], max_per_day=limit)


def test_an_unknown_zone_is_refused() -> None:
    with pytest.raises(UnknownTimeZone, match="Europe/Zurich"):
        PostingSchedule.parse("Europe/Zurch", ["daily 09:00"])


@pytest.mark.parametrize(
    ("spec", "days"),
    [
        ("mon-fri 09:00", [0, 1, 2, 3, 4]),
        ("sat,sun 09:00", [5, 6]),
        ("daily 09:00", [0, 1, 2, 3, 4, 5, 6]),
        ("weekdays 09:00", [0, 1, 2, 3, 4]),
        ("weekends 09:00", [5, 6]),
        ("tue 09:00", [1]),
        ("MON,Wed 09:00", [0, 2]),
        ("fri-mon 09:00", [0, 4, 5, 6]),  # a range may wrap over the weekend
        ("monday-wednesday 09:00", [0, 1, 2]),
        ("mon - wed, fri 09:00", [0, 1, 2, 4]),
        ("weekends,mon 09:00", [0, 5, 6]),
    ],
)
def test_day_forms(spec: str, days: list[int]) -> None:
    parsed = PostingSchedule.parse("UTC", [spec])
    assert sorted(parsed.slots) == days
    assert all(times == (time(9, 0),) for times in parsed.slots.values())


def test_times_are_sorted_and_duplicates_collapse_across_specs() -> None:
    parsed = PostingSchedule.parse("UTC", ["mon-fri 13:30, 09:00", "mon 8:15,09:00", "tue 09:00"])
    assert parsed.slots[0] == (time(8, 15), time(9, 0), time(13, 30))
    assert parsed.slots[1] == (time(9, 0), time(13, 30))
    assert 5 not in parsed.slots


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("90m", timedelta(minutes=90)),
        ("2h", timedelta(hours=2)),
        ("1h30m", timedelta(hours=1, minutes=30)),
        ("1h 30m", timedelta(hours=1, minutes=30)),
        ("45min", timedelta(minutes=45)),
        ("45 minutes", timedelta(minutes=45)),
        ("2 hours", timedelta(hours=2)),
        ("0", timedelta(0)),
        ("0m", timedelta(0)),
    ],
)
def test_spacing_forms(text: str, expected: timedelta) -> None:
    assert PostingSchedule.parse("UTC", ["daily 09:00"], min_spacing=text).min_spacing == expected


def test_an_empty_schedule_parses_with_no_limits() -> None:
    parsed = PostingSchedule.parse("UTC", [])
    assert parsed.slots == {}
    assert parsed.max_per_day is None
    assert parsed.min_spacing == timedelta(0)


def test_direct_construction_normalises_slots() -> None:
    built = PostingSchedule("UTC", {3: (time(13, 0), time(9, 0), time(13, 0)), 1: ()})
    assert built.slots == {3: (time(9, 0), time(13, 0))}


@pytest.mark.parametrize(
    ("slots", "message"),
    [
        ({7: (time(9, 0),)}, "slot weekday 7: use 0 (Monday) to 6 (Sunday)"),
        ({0: (time(9, 0, tzinfo=UTC),)}, "use a wall time without a time zone"),
        ({0: (time(9, 0, 30),)}, "slots are whole minutes"),
    ],
)
def test_direct_construction_refuses_impossible_slots(slots: dict[int, tuple[time, ...]], message: str) -> None:
    with pytest.raises(InvalidInput, match=re.escape(message)):
        PostingSchedule("UTC", slots)


def test_negative_spacing_is_refused() -> None:
    with pytest.raises(InvalidInput, match="min spacing"):
        PostingSchedule("UTC", {}, min_spacing=timedelta(minutes=-5))


# -- documents and descriptions ------------------------------------------------------------------


def test_document_round_trips_through_json() -> None:
    original = PostingSchedule.parse(
        "Europe/Zurich", ["mon-fri 09:00,13:30", "sat 11:00"], max_per_day=3, min_spacing="1h30m"
    )
    document = json.loads(json.dumps(original.to_document()))
    assert document == {
        "zone": "Europe/Zurich",
        "slots": {day: ["09:00", "13:30"] for day in ("mon", "tue", "wed", "thu", "fri")} | {"sat": ["11:00"]},
        "max_per_day": 3,
        "min_spacing_seconds": 5400,
    }
    assert PostingSchedule.from_document(document) == original


def test_document_of_an_unlimited_schedule_round_trips() -> None:
    original = PostingSchedule.parse("UTC", ["daily 00:00"])
    assert PostingSchedule.from_document(json.loads(json.dumps(original.to_document()))) == original


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ({"slots": {}}, "'zone' must be an IANA zone name"),
        ({"zone": "UTC"}, "'slots' must map day names"),
        ({"zone": "UTC", "slots": {"funday": ["09:00"]}}, "unknown day 'funday'"),
        ({"zone": "UTC", "slots": {"mon": "09:00"}}, "must be a list of 'HH:MM'"),
        ({"zone": "UTC", "slots": {"mon": ["24:00"]}}, "cannot read the time '24:00'"),
        ({"zone": "UTC", "slots": {}, "max_per_day": True}, "'max_per_day' must be a whole number or null"),
        ({"zone": "UTC", "slots": {}, "max_per_day": 0}, "max per day must be at least 1"),
        ({"zone": "UTC", "slots": {}, "min_spacing_seconds": -1}, "'min_spacing_seconds' must be a whole number"),
    ],
)
def test_broken_documents_are_refused(document: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidInput, match=re.escape(message)):
        PostingSchedule.from_document(document)


@pytest.mark.parametrize(
    ("specs", "max_per_day", "spacing", "expected"),
    [
        (
            ["mon-fri 09:00,13:30", "sat 11:00"],
            3,
            "90m",
            "Mon-Fri 09:00, 13:30; Sat 11:00 (Europe/Zurich); at most 3 a day; 90 min apart",
        ),
        (["daily 10:00"], None, None, "Daily 10:00 (Europe/Zurich)"),
        (["sat,sun 10:00"], 1, "2h", "Sat, Sun 10:00 (Europe/Zurich); at most 1 a day; 2 h apart"),
        (["mon,wed,fri 08:00", "tue 09:00"], None, None, "Mon, Wed, Fri 08:00; Tue 09:00 (Europe/Zurich)"),
        ([], None, None, "no slots (Europe/Zurich)"),
    ],
)
def test_describe(specs: list[str], max_per_day: int | None, spacing: str | None, expected: str) -> None:
    assert schedule(*specs, max_per_day=max_per_day, min_spacing=spacing).describe() == expected


# -- slot instants -------------------------------------------------------------------------------


def test_a_week_of_slots_in_winter() -> None:
    week = schedule("mon-fri 09:00", "sat 11:00")
    instants = list(slot_instants(week, local(5, 0), local(12, 0)))
    assert instants == [local(day, 9) for day in range(5, 10)] + [local(10, 11)]
    assert instants[0] == datetime(2026, 1, 5, 8, 0, tzinfo=UTC)
    assert all(instant.tzinfo is UTC for instant in instants)


def test_start_is_inclusive_and_end_exclusive() -> None:
    daily = schedule("daily 09:00,13:00")
    assert list(slot_instants(daily, local(5, 9), local(6, 9))) == [local(5, 9), local(5, 13)]


def test_slots_follow_the_wall_clock_into_summer_time() -> None:
    daily = schedule("daily 09:00")
    instants = list(slot_instants(daily, local(27, 12, month=3), local(31, 0, month=3)))
    # 28 March is still CET (UTC+1); from 29 March CEST (UTC+2).
    assert instants == [
        datetime(2026, 3, 28, 8, 0, tzinfo=UTC),
        datetime(2026, 3, 29, 7, 0, tzinfo=UTC),
        datetime(2026, 3, 30, 7, 0, tzinfo=UTC),
    ]


def test_a_slot_in_the_spring_gap_moves_forward_by_the_gap() -> None:
    gap_day = schedule("sun 02:30")
    [instant] = slot_instants(gap_day, datetime(2026, 3, 28, tzinfo=UTC), datetime(2026, 3, 30, tzinfo=UTC))
    shown = instant.astimezone(ZURICH)
    assert (shown.hour, shown.minute, shown.tzname()) == (3, 30, "CEST")
    assert instant == datetime(2026, 3, 29, 1, 30, tzinfo=UTC)


def test_gap_shifted_slots_stay_ascending_and_unique() -> None:
    # 02:30 becomes 03:30 CEST: after the real 03:00 slot, and the same instant as the 03:30 slot.
    gap_day = schedule("sun 02:30,03:00,03:30")
    instants = list(slot_instants(gap_day, datetime(2026, 3, 28, tzinfo=UTC), datetime(2026, 3, 30, tzinfo=UTC)))
    assert instants == [datetime(2026, 3, 29, 1, 0, tzinfo=UTC), datetime(2026, 3, 29, 1, 30, tzinfo=UTC)]


def test_a_slot_in_the_autumn_fold_fires_once_at_its_first_occurrence() -> None:
    fold_day = schedule("sun 02:30,03:00")
    instants = list(slot_instants(fold_day, datetime(2026, 10, 24, tzinfo=UTC), datetime(2026, 10, 26, tzinfo=UTC)))
    # 02:30 CEST (UTC+2) is the first 02:30; 03:00 comes after the fold, in CET (UTC+1).
    assert instants == [datetime(2026, 10, 25, 0, 30, tzinfo=UTC), datetime(2026, 10, 25, 2, 0, tzinfo=UTC)]
    assert instants[0].astimezone(ZURICH).tzname() == "CEST"


def test_a_half_hour_gap_moves_the_slot_by_half_an_hour() -> None:
    # Lord Howe Island jumps from 02:00 to 02:30 on 4 October 2026 (UTC+10:30 to UTC+11).
    island = PostingSchedule.parse("Australia/Lord_Howe", ["daily 02:10"])
    instants = list(slot_instants(island, datetime(2026, 10, 3, tzinfo=UTC), datetime(2026, 10, 5, tzinfo=UTC)))
    assert instants == [datetime(2026, 10, 3, 15, 40, tzinfo=UTC), datetime(2026, 10, 4, 15, 10, tzinfo=UTC)]
    assert f"{instants[0].astimezone(ZoneInfo('Australia/Lord_Howe')):%H:%M}" == "02:40"


def test_a_skipped_day_does_not_yield_an_instant_twice_or_out_of_order() -> None:
    # Samoa skipped 30 December 2011 (UTC-10 to UTC+14): that day's slots land on the 31st's, and
    # its 23:00 (09:00 UTC on the 31st) comes after the 31st's 10:00 (20:00 UTC on the 30th).
    samoa = PostingSchedule.parse("Pacific/Apia", ["daily 10:00,23:00"])
    instants = list(slot_instants(samoa, datetime(2011, 12, 29, tzinfo=UTC), datetime(2012, 1, 1, tzinfo=UTC)))
    assert instants == [
        datetime(2011, 12, 29, 9, 0, tzinfo=UTC),
        datetime(2011, 12, 29, 20, 0, tzinfo=UTC),
        datetime(2011, 12, 30, 9, 0, tzinfo=UTC),
        datetime(2011, 12, 30, 20, 0, tzinfo=UTC),
        datetime(2011, 12, 31, 9, 0, tzinfo=UTC),
        datetime(2011, 12, 31, 20, 0, tzinfo=UTC),
    ]


@pytest.mark.parametrize("zone", ["Pacific/Kiritimati", "Pacific/Pago_Pago", "America/Santiago", "Asia/Kolkata"])
def test_a_year_of_slots_matches_a_plain_enumeration(zone: str) -> None:
    specs = ["daily 00:00,00:30,12:00,23:59", "sat 02:30"]
    year = PostingSchedule.parse(zone, specs)
    start, end = datetime(2026, 1, 1, 6, tzinfo=UTC), datetime(2027, 1, 1, 6, tzinfo=UTC)
    expected: set[datetime] = set()
    for offset in range(-2, 368):
        day = date(2026, 1, 1) + timedelta(days=offset)
        for wall in year.slots.get(day.weekday(), ()):
            moment = datetime.combine(day, wall, tzinfo=ZoneInfo(zone)).astimezone(UTC)
            if start <= moment < end:
                expected.add(moment)
    assert list(slot_instants(year, start, end)) == sorted(expected)


def test_no_slots_or_an_empty_range_yield_nothing() -> None:
    assert list(slot_instants(schedule(), NOW, NOW + timedelta(days=30))) == []
    assert list(slot_instants(schedule("daily 09:00"), NOW, NOW)) == []
    assert list(slot_instants(schedule("daily 09:00"), NOW, NOW - timedelta(days=3))) == []


def test_naive_bounds_are_refused() -> None:
    with pytest.raises(ValueError, match="aware"):
        list(slot_instants(schedule("daily 09:00"), datetime(2026, 1, 5), NOW))


# -- blackout windows ----------------------------------------------------------------------------


def test_a_window_covers_its_start_but_not_its_end() -> None:
    window = Window("Maintenance", local(5, 9), local(5, 10))
    assert window.covers(local(5, 9))
    assert window.covers(local(5, 9, 59))
    assert not window.covers(local(5, 10))
    assert not window.covers(local(5, 8, 59))


def test_a_window_must_end_after_it_starts() -> None:
    with pytest.raises(InvalidInput, match=r"blackout 'Oops' ends .* before it starts"):
        Window("Oops", local(5, 10), local(5, 9))


def test_a_window_needs_aware_times() -> None:
    with pytest.raises(ValueError, match="aware"):
        Window("Naive", datetime(2026, 1, 5, 9), local(5, 10))


# -- allocate ------------------------------------------------------------------------------------

HOURLY = schedule("daily 09:00,10:00,11:00,12:00,13:00")


def test_fifo_within_a_priority() -> None:
    queued = [item(1, minutes_ago=5), item(2, minutes_ago=30), item(3, minutes_ago=10)]
    assert allocate(HOURLY, now=NOW, fixed=[], queued=queued) == {2: local(5, 9), 3: local(5, 10), 1: local(5, 11)}


def test_equal_queue_times_fall_back_to_the_key() -> None:
    queued = [item(9), item(4)]
    assert allocate(HOURLY, now=NOW, fixed=[], queued=queued) == {4: local(5, 9), 9: local(5, 10)}


def test_a_high_item_takes_the_first_slot_and_each_normal_moves_one_slot_later() -> None:
    normals = [item(1, minutes_ago=30), item(2, minutes_ago=20), item(3, minutes_ago=10)]
    before = allocate(HOURLY, now=NOW, fixed=[], queued=normals)
    assert before == {1: local(5, 9), 2: local(5, 10), 3: local(5, 11)}
    after = allocate(HOURLY, now=NOW, fixed=[], queued=[*normals, item(0, Priority.HIGH)])
    assert after[0] == local(5, 9)
    assert after == {0: local(5, 9), 1: local(5, 10), 2: local(5, 11), 3: local(5, 12)}


def test_low_goes_after_normal_even_when_queued_earlier() -> None:
    queued = [item(1, Priority.LOW, minutes_ago=60), item(2, minutes_ago=1), item(3, Priority.HIGH)]
    assert allocate(HOURLY, now=NOW, fixed=[], queued=queued) == {3: local(5, 9), 2: local(5, 10), 1: local(5, 11)}


def test_a_slot_at_now_is_usable_and_earlier_ones_are_not() -> None:
    assert allocate(HOURLY, now=local(5, 10), fixed=[], queued=[item(1)]) == {1: local(5, 10)}
    assert allocate(HOURLY, now=local(5, 10, 1), fixed=[], queued=[item(1)]) == {1: local(5, 11)}


def test_max_per_day_pushes_to_the_next_day() -> None:
    limited = schedule("daily 09:00,13:00,17:00", max_per_day=2)
    queued = [item(1, minutes_ago=3), item(2, minutes_ago=2), item(3, minutes_ago=1)]
    assert allocate(limited, now=NOW, fixed=[], queued=queued) == {1: local(5, 9), 2: local(5, 13), 3: local(6, 9)}


def test_fixed_posts_count_towards_max_per_day() -> None:
    limited = schedule("daily 09:00,13:00,17:00", max_per_day=2)
    # One explicit post late in the evening leaves room for one slot that day.
    fixed = [local(5, 20, 15)]
    queued = [item(1, minutes_ago=2), item(2, minutes_ago=1)]
    assert allocate(limited, now=NOW, fixed=fixed, queued=queued) == {1: local(5, 9), 2: local(6, 9)}


def test_per_day_counting_uses_the_channel_zone_near_midnight() -> None:
    once = schedule("daily 09:00", max_per_day=1)
    # 23:30 UTC on 5 January is 00:30 on 6 January in Zurich: it fills the 6th, not the 5th.
    fixed = [datetime(2026, 1, 5, 23, 30, tzinfo=UTC)]
    queued = [item(1, minutes_ago=2), item(2, minutes_ago=1)]
    assert allocate(once, now=NOW, fixed=fixed, queued=queued) == {1: local(5, 9), 2: local(7, 9)}


def test_min_spacing_applies_on_both_sides_of_a_fixed_post() -> None:
    spaced = schedule("daily 09:00,10:00,11:00", min_spacing="90m")
    # 09:00 and 10:00 are 30 minutes either side of the fixed 09:30; 11:00 is exactly 90 minutes after.
    assert allocate(spaced, now=NOW, fixed=[local(5, 9, 30)], queued=[item(1)]) == {1: local(5, 11)}


def test_min_spacing_skips_slots_too_close_after_an_earlier_fixed_post() -> None:
    spaced = schedule("daily 09:00,10:00,10:15", min_spacing="90m")
    assert allocate(spaced, now=NOW, fixed=[local(5, 8, 45)], queued=[item(1)]) == {1: local(5, 10, 15)}


def test_min_spacing_holds_between_allocated_items() -> None:
    spaced = schedule("daily 09:00,10:00,11:00,12:00,13:00", min_spacing="2h")
    queued = [item(1, minutes_ago=3), item(2, minutes_ago=2), item(3, minutes_ago=1)]
    assert allocate(spaced, now=NOW, fixed=[], queued=queued) == {1: local(5, 9), 2: local(5, 11), 3: local(5, 13)}


def test_a_fixed_post_in_the_past_still_spaces_the_first_slot() -> None:
    spaced = schedule("daily 09:00,10:00", min_spacing="90m")
    assert allocate(spaced, now=local(5, 8, 50), fixed=[local(5, 8, 0)], queued=[item(1)]) == {1: local(5, 10)}


def test_a_slot_with_a_fixed_post_at_that_instant_is_taken() -> None:
    # The fixed post is given with an offset rather than in UTC: the instant is what counts.
    fixed = [datetime(2026, 1, 5, 9, 0, tzinfo=timezone(timedelta(hours=1)))]
    assert allocate(HOURLY, now=NOW, fixed=fixed, queued=[item(1)]) == {1: local(5, 10)}


def test_blackouts_are_skipped_and_their_end_is_usable() -> None:
    blackout = Window("Launch freeze", local(5, 9), local(5, 11))
    queued = [item(1, minutes_ago=2), item(2, minutes_ago=1)]
    result = allocate(HOURLY, now=NOW, fixed=[], queued=queued, blackouts=[blackout])
    assert result == {1: local(5, 11), 2: local(5, 12)}


def test_allocated_times_are_utc() -> None:
    [moment] = allocate(HOURLY, now=NOW.astimezone(ZURICH), fixed=[], queued=[item(1)]).values()
    assert moment.tzinfo is UTC
    assert moment == local(5, 9)


def test_nothing_queued_allocates_nothing() -> None:
    assert allocate(schedule(), now=NOW, fixed=[local(5, 9)], queued=[]) == {}


def test_an_empty_schedule_has_no_free_slot() -> None:
    with pytest.raises(NoFreeSlot) as refused:
        allocate(schedule(), now=NOW, fixed=[], queued=[item(1), item(2)])
    assert str(refused.value).startswith("no free slot for 2 posts within 366 days: the schedule has no slots")
    assert isinstance(refused.value, InvalidInput)


def test_a_blackout_over_the_whole_horizon_leaves_no_free_slot() -> None:
    blackout = Window("Summer break", NOW - timedelta(days=1), NOW + timedelta(days=400))
    with pytest.raises(NoFreeSlot) as refused:
        allocate(HOURLY, now=NOW, fixed=[], queued=[item(1)], blackouts=[blackout])
    assert str(refused.value) == (
        "no free slot for 1 post within 366 days: every slot in that time falls in a blackout (Summer break)"
    )


def test_a_full_schedule_says_how_many_did_not_fit_and_why() -> None:
    once = schedule("daily 09:00,17:00", max_per_day=1)
    blackout = Window("Audit", local(6, 0), local(7, 0))
    queued = [item(1, minutes_ago=3), item(2, minutes_ago=2), item(3, minutes_ago=1)]
    with pytest.raises(NoFreeSlot) as refused:
        allocate(once, now=NOW, fixed=[], queued=queued, blackouts=[blackout], horizon=timedelta(days=2))
    message = str(refused.value)
    assert message.startswith("no free slot for 2 posts within 2 days: of the 4 slots in that time, ")
    assert "1 went to the posts ahead in the queue" in message
    assert "2 fall in a blackout (Audit)" in message
    assert "1 are on days at the limit of 1 a day" in message


def test_spacing_and_taken_slots_are_named_when_nothing_fits() -> None:
    spaced = schedule("daily 09:00,10:00", min_spacing="90m")
    with pytest.raises(NoFreeSlot) as refused:
        allocate(spaced, now=NOW, fixed=[local(5, 9)], queued=[item(1)], horizon=timedelta(hours=4))
    message = str(refused.value)
    assert "within 4 h" in message
    assert "1 already have a post" in message
    assert "1 are closer than 90 min to another post" in message


def test_slots_beyond_the_horizon_are_not_used() -> None:
    mondays = schedule("mon 09:00")
    tuesday = local(6, 8)
    with pytest.raises(NoFreeSlot, match="has no slot in that time"):
        allocate(mondays, now=tuesday, fixed=[], queued=[item(1)], horizon=timedelta(days=6))
    assert allocate(mondays, now=tuesday, fixed=[], queued=[item(1)], horizon=timedelta(days=7)) == {1: local(12, 9)}


def test_repeated_keys_and_naive_times_are_refused() -> None:
    with pytest.raises(ValueError, match="unique"):
        allocate(HOURLY, now=NOW, fixed=[], queued=[item(1), item(1, Priority.HIGH)])
    with pytest.raises(ValueError, match="aware"):
        allocate(HOURLY, now=datetime(2026, 1, 5, 7), fixed=[], queued=[item(1)])
    with pytest.raises(ValueError, match="aware"):
        allocate(HOURLY, now=NOW, fixed=[datetime(2026, 1, 5, 9)], queued=[item(1)])


# -- release -------------------------------------------------------------------------------------


def test_release_without_a_schedule_sends_everything_now() -> None:
    backlog = [item(1, minutes_ago=50), item(2, minutes_ago=40), item(3, minutes_ago=30)]
    assert release(None, now=NOW, fixed=[NOW], backlog=backlog) == {1: NOW, 2: NOW, 3: NOW}


def test_release_with_a_schedule_without_limits_sends_everything_now() -> None:
    backlog = [item(1, minutes_ago=50), item(2, minutes_ago=40)]
    assert release(HOURLY, now=local(5, 10, 7), fixed=[], backlog=backlog) == {1: local(5, 10, 7), 2: local(5, 10, 7)}


def test_release_spaces_a_backlog_and_respects_max_per_day() -> None:
    limited = schedule("daily 09:00", max_per_day=3, min_spacing="30m")
    backlog = [item(key, minutes_ago=100 - key) for key in range(1, 6)]
    # Not restricted to slots: 10:07 is not one.
    assert release(limited, now=local(5, 10, 7), fixed=[], backlog=backlog) == {
        1: local(5, 10, 7),
        2: local(5, 10, 37),
        3: local(5, 11, 7),
        4: local(6, 0, 0),  # the 5th is full: the next local day starts at midnight in Zurich
        5: local(6, 0, 30),
    }


def test_release_orders_by_priority_then_due_time() -> None:
    spaced = schedule("daily 09:00", min_spacing="1h")
    backlog = [item(1, Priority.LOW, minutes_ago=90), item(2, minutes_ago=10), item(3, Priority.HIGH, minutes_ago=5)]
    assert release(spaced, now=NOW, fixed=[], backlog=backlog) == {
        3: NOW,
        2: NOW + timedelta(hours=1),
        1: NOW + timedelta(hours=2),
    }


def test_release_keeps_its_distance_from_fixed_posts_before_and_after() -> None:
    spaced = schedule("daily 09:00", min_spacing="30m")
    # A post 10 minutes ago pushes the first to +20 (40 before the one at +60). The second cannot go
    # between them, so it goes 30 minutes after the later fixed post.
    fixed = [NOW - timedelta(minutes=10), NOW + timedelta(minutes=60)]
    backlog = [item(1, minutes_ago=2), item(2, minutes_ago=1)]
    assert release(spaced, now=NOW, fixed=fixed, backlog=backlog) == {
        1: NOW + timedelta(minutes=20),
        2: NOW + timedelta(minutes=90),
    }


def test_release_counts_days_in_the_channel_zone() -> None:
    once = schedule("daily 09:00", max_per_day=1)
    now = datetime(2026, 1, 5, 22, 0, tzinfo=UTC)  # 23:00 on the 5th in Zurich
    fixed = [datetime(2026, 1, 5, 23, 30, tzinfo=UTC)]  # 00:30 on the 6th in Zurich
    backlog = [item(1, minutes_ago=2), item(2, minutes_ago=1)]
    assert release(once, now=now, fixed=fixed, backlog=backlog) == {
        1: now,
        2: local(7, 0),  # 23:00 UTC on the 6th
    }


def test_release_moves_out_of_a_blackout() -> None:
    blackout = Window("Incident", NOW - timedelta(hours=1), NOW + timedelta(hours=2))
    backlog = [item(1, minutes_ago=2), item(2, minutes_ago=1)]
    end = NOW + timedelta(hours=2)
    assert release(None, now=NOW, fixed=[], backlog=backlog, blackouts=[blackout]) == {1: end, 2: end}


def test_release_after_a_blackout_still_spaces_and_crosses_chained_windows() -> None:
    spaced = schedule("daily 09:00", min_spacing="45m")
    first = Window("Incident", NOW, NOW + timedelta(hours=1))
    second = Window("Follow-up", NOW + timedelta(minutes=30), NOW + timedelta(hours=2))
    end = NOW + timedelta(hours=2)
    backlog = [item(1, minutes_ago=2), item(2, minutes_ago=1)]
    assert release(spaced, now=NOW, fixed=[], backlog=backlog, blackouts=[first, second]) == {
        1: end,
        2: end + timedelta(minutes=45),
    }


def test_release_of_nothing_is_empty() -> None:
    assert release(HOURLY, now=NOW, fixed=[NOW], backlog=[]) == {}


# -- upcoming ------------------------------------------------------------------------------------


def test_upcoming_labels_booked_blacked_out_and_free_slots() -> None:
    twice = schedule("daily 09:00,13:00")
    booked = {
        local(5, 9): "post 12",
        local(6, 9).astimezone(ZURICH): "post 15",  # any offset names the same instant
        local(6, 13) + timedelta(minutes=1): "post 99",  # not exactly on a slot: not shown
    }
    blackout = Window("Maintenance", local(5, 12), local(6, 10))
    assert upcoming(twice, now=NOW, days=2, booked=booked, blackouts=[blackout]) == [
        (local(5, 9), "post 12"),
        (local(5, 13), "blackout: Maintenance"),
        (local(6, 9), "post 15"),  # what is booked wins over the blackout
        (local(6, 13), None),
    ]


def test_upcoming_spans_whole_days_from_now() -> None:
    daily = schedule("daily 09:00")
    shown = upcoming(daily, now=local(5, 9), days=3, booked={})
    assert shown == [(local(5, 9), None), (local(6, 9), None), (local(7, 9), None)]
    assert upcoming(daily, now=local(5, 9), days=0, booked={}) == []


def test_upcoming_refuses_negative_days() -> None:
    with pytest.raises(InvalidInput, match="days -1"):
        upcoming(schedule("daily 09:00"), now=NOW, days=-1, booked={})


# -- explanations --------------------------------------------------------------------------------


def test_explain_says_free_taken_or_blocked_and_by_which_posts() -> None:
    daily = schedule("daily 09:00,11:00,15:00,18:00", max_per_day=3, min_spacing="90m")
    bookings = [
        Booking(local(5, 9), 1),
        Booking(local(5, 10, 30), 2, "fixed time"),
        Booking(local(6, 16), 3, "fixed time"),
        Booking(local(6, 17), 4, "fixed time"),
        Booking(local(6, 20), 5, "high priority"),
    ]
    blackout = Window("Maintenance", local(7, 14), local(7, 16))
    shown = explain_slots(daily, now=NOW, days=3, bookings=bookings, blackouts=[blackout], earliest=local(5, 9))
    verdicts = {moment: (verdict.status, verdict.reason, [b.post for b in verdict.by]) for moment, verdict in shown}
    assert verdicts[local(5, 9)] == (SlotStatus.TAKEN, None, [1])
    assert verdicts[local(5, 11)] == (
        SlotStatus.BLOCKED,
        "too close: less than 90 min from post 2 at 10:30 (fixed time)",
        [2],
    )
    assert verdicts[local(5, 15)] == (SlotStatus.FREE, None, [])
    day_full = "day full (at most 3 a day): post 3 at 16:00 (fixed time), post 4 at 17:00 (fixed time), " + (
        "post 5 at 20:00 (high priority)"
    )
    assert verdicts[local(6, 9)] == (SlotStatus.BLOCKED, day_full, [3, 4, 5])
    assert verdicts[local(7, 15)] == (
        SlotStatus.BLOCKED,
        "blackout 'Maintenance' (until Wed 2026-01-07 16:00)",
        [],
    )


def test_explain_calls_a_slot_before_the_earliest_the_queue_fills_too_soon() -> None:
    [(moment, verdict)] = explain_slots(
        schedule("daily 09:00"), now=local(5, 8), days=1, bookings=[], earliest=local(5, 10)
    )
    assert (moment, verdict.status, verdict.reason) == (
        local(5, 9),
        SlotStatus.BLOCKED,
        "too soon: the queue fills slots from Mon 2026-01-05 10:00 on",
    )
    with pytest.raises(InvalidInput, match="days -1"):
        explain_slots(schedule("daily 09:00"), now=NOW, days=-1, bookings=[])


def test_why_moved_names_what_holds_the_old_time() -> None:
    daily = schedule("daily 09:00", max_per_day=1)
    explainer = Explainer(daily, [Booking(local(5, 9), 7, "high priority"), Booking(local(6, 12), 8, "fixed time")])
    assert explainer.why_moved(local(5, 9), local(7, 9)) == "its slot went to post 7 (high priority)"
    assert explainer.why_moved(local(6, 9), local(7, 9)) == (
        "its slot is blocked: day full (at most 1 a day): post 8 at 12:00 (fixed time)"
    )
    assert explainer.why_moved(local(9, 9), local(7, 9)) == "an earlier slot came free"
    assert explainer.why_moved(local(8, 10), local(9, 9)) == (
        "Thu 2026-01-08 10:00 is no longer a slot (Daily 09:00 (Europe/Zurich); at most 1 a day)"
    )
