"""Posting schedules: the slots a channel's queue fills, its daily limit, spacing and blackouts.

Pure domain code: the caller loads the channel's booked times and queued items, passes an explicit
``now`` and writes back what comes out. Every instant returned is aware UTC.

Slots are wall times in the channel's zone, so a 09:00 slot stays 09:00 across daylight-saving
changes. A slot inside a DST gap is moved forward by the length of the gap (what a wall clock that
missed the jump would show); a slot inside a fold is taken at its first occurrence, so it fires once.
"""

from __future__ import annotations

import heapq
import re
from bisect import bisect_left, bisect_right, insort
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from scheduler.errors import InvalidInput
from scheduler.when import get_zone

_DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_FULL_DAY_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_DAYS = {name: day for names in (_DAY_NAMES, _FULL_DAY_NAMES) for day, name in enumerate(names)}
_DAY_GROUPS = {"daily": tuple(range(7)), "weekdays": tuple(range(5)), "weekends": (5, 6)}
_DAY_HINT = "use mon, tue, ... or daily"
_TIME = re.compile(r"^(\d{1,2}):(\d{2})$")
_SPACING = re.compile(
    r"^(?:(?P<hours>\d+)\s*h(?:ours?|rs?)?)?\s*(?:(?P<minutes>\d+)\s*m(?:in(?:utes?|s)?)?)?$", re.IGNORECASE
)
_SPACING_HINT = "use minutes or hours such as 90m, 2h, 1h30m, 45min or 0"


class Priority(StrEnum):
    HIGH = "high"
    NORMAL = "normal"
    LOW = "low"

    @property
    def rank(self) -> int:
        """Sort key: lower goes first."""
        return _RANKS[self]


_RANKS = {Priority.HIGH: 0, Priority.NORMAL: 1, Priority.LOW: 2}


def parse_priority(value: str) -> Priority:
    try:
        return Priority(value.strip().lower())
    except ValueError:
        raise InvalidInput(f"unknown priority {value!r}; use high, normal or low") from None


# -- the schedule --------------------------------------------------------------------------------


@dataclass(frozen=True)
class PostingSchedule:
    zone: str
    slots: dict[int, tuple[time, ...]]
    max_per_day: int | None = None
    min_spacing: timedelta = timedelta(0)

    def __post_init__(self) -> None:
        # Checked here, not only in parse: documents come back from storage and may have been edited.
        get_zone(self.zone)
        for day, times in self.slots.items():
            if isinstance(day, bool) or not isinstance(day, int) or not 0 <= day <= 6:
                raise InvalidInput(f"slot weekday {day!r}: use 0 (Monday) to 6 (Sunday)")
            for moment in times:
                if not isinstance(moment, time) or moment.tzinfo is not None:
                    raise InvalidInput(f"slot time {moment!r}: use a wall time without a time zone")
                if moment.second or moment.microsecond:
                    raise InvalidInput(f"slot time {moment.isoformat()}: slots are whole minutes, e.g. 09:00")
        # fold=0 so a slot in an autumn fold means its first occurrence (datetime.combine copies fold).
        normalised = {
            day: tuple(sorted({moment.replace(fold=0) for moment in times}))
            for day, times in sorted(self.slots.items())
            if times
        }
        object.__setattr__(self, "slots", normalised)
        if self.max_per_day is not None and (isinstance(self.max_per_day, bool) or self.max_per_day < 1):
            raise InvalidInput(
                f"max per day must be at least 1 (got {self.max_per_day}); leave it out for no daily limit"
            )
        if self.min_spacing < timedelta(0) or self.min_spacing.microseconds:
            raise InvalidInput(f"min spacing {self.min_spacing}: {_SPACING_HINT}")

    @classmethod
    def parse(
        cls,
        zone: str,
        slot_specs: Sequence[str],
        *,
        max_per_day: int | None = None,
        min_spacing: str | None = None,
    ) -> PostingSchedule:
        """Read the schedule as the CLI takes it, e.g. ``["mon-fri 09:00,13:30", "sat 11:00"]``."""
        slots: dict[int, list[time]] = {}
        for spec in slot_specs:
            days, times = _parse_slot_spec(spec)
            for day in days:
                slots.setdefault(day, []).extend(times)
        spacing = timedelta(0) if min_spacing is None else parse_spacing(min_spacing)
        return cls(
            zone=zone,
            slots={day: tuple(times) for day, times in slots.items()},
            max_per_day=max_per_day,
            min_spacing=spacing,
        )

    def to_document(self) -> dict[str, Any]:
        """Day names as keys: JSON object keys are strings, and a person reading the row sees 'mon'."""
        return {
            "zone": self.zone,
            "slots": {_DAY_NAMES[day]: [f"{moment:%H:%M}" for moment in times] for day, times in self.slots.items()},
            "max_per_day": self.max_per_day,
            "min_spacing_seconds": int(self.min_spacing.total_seconds()),
        }

    @classmethod
    def from_document(cls, document: dict[str, Any]) -> PostingSchedule:
        if not isinstance(document, dict):
            raise InvalidInput("schedule document: expected an object with 'zone' and 'slots'")
        zone = document.get("zone")
        raw_slots = document.get("slots")
        if not isinstance(zone, str):
            raise InvalidInput("schedule document: 'zone' must be an IANA zone name such as Europe/Zurich")
        if not isinstance(raw_slots, dict):
            raise InvalidInput("schedule document: 'slots' must map day names (mon..sun) to lists of 'HH:MM'")
        slots: dict[int, tuple[time, ...]] = {}
        for name, times in raw_slots.items():
            day = _DAYS.get(str(name).lower())
            if day is None:
                raise InvalidInput(f"schedule document: unknown day {name!r}; use mon, tue, ... sun")
            if not isinstance(times, list) or not all(isinstance(text, str) for text in times):
                raise InvalidInput(f"schedule document: the times for {name!r} must be a list of 'HH:MM'")
            slots[day] = tuple(_parse_time(text, f"schedule document, day {name!r}") for text in times)
        max_per_day = document.get("max_per_day")
        if max_per_day is not None and (isinstance(max_per_day, bool) or not isinstance(max_per_day, int)):
            raise InvalidInput("schedule document: 'max_per_day' must be a whole number or null")
        seconds = document.get("min_spacing_seconds", 0)
        if isinstance(seconds, bool) or not isinstance(seconds, int) or seconds < 0:
            raise InvalidInput("schedule document: 'min_spacing_seconds' must be a whole number >= 0")
        return cls(zone=zone, slots=slots, max_per_day=max_per_day, min_spacing=timedelta(seconds=seconds))

    def describe(self) -> str:
        groups: dict[tuple[time, ...], list[int]] = {}
        for day, times in self.slots.items():
            groups.setdefault(times, []).append(day)
        parts = [
            f"{_describe_days(days)} {', '.join(f'{moment:%H:%M}' for moment in times)}"
            for times, days in groups.items()
        ]
        text = f"{'; '.join(parts) if parts else 'no slots'} ({self.zone})"
        if self.max_per_day is not None:
            text += f"; at most {self.max_per_day} a day"
        if self.min_spacing:
            text += f"; {_describe_span(self.min_spacing)} apart"
        return text


def _describe_days(days: list[int]) -> str:
    if len(days) == 7:
        return "Daily"
    # Three or more days in a row read best as a range; two as a list ("Sat, Sun").
    runs: list[list[int]] = []
    for day in days:
        if runs and runs[-1][-1] == day - 1:
            runs[-1].append(day)
        else:
            runs.append([day])
    names: list[str] = []
    for run in runs:
        if len(run) >= 3:
            names.append(f"{_DAY_NAMES[run[0]].title()}-{_DAY_NAMES[run[-1]].title()}")
        else:
            names.extend(_DAY_NAMES[day].title() for day in run)
    return ", ".join(names)


def _describe_span(span: timedelta) -> str:
    seconds = int(span.total_seconds())
    if seconds % 86400 == 0:
        days = seconds // 86400
        return f"{days} day" if days == 1 else f"{days} days"
    if seconds % 3600 == 0:
        return f"{seconds // 3600} h"
    if seconds % 60 == 0:
        return f"{seconds // 60} min"
    return f"{seconds} s"


def _parse_slot_spec(spec: str) -> tuple[list[int], list[time]]:
    where = f"slot {spec!r}"
    # "mon - fri 09:00, 13:30" reads the same as "mon-fri 09:00,13:30".
    parts = re.sub(r"\s*([,-])\s*", r"\1", spec.strip()).split()
    if len(parts) != 2:
        raise InvalidInput(f"{where}: give the days, then the times, e.g. 'mon-fri 09:00,13:30' or 'daily 10:00'")
    day_text, time_text = parts
    return _parse_days(day_text, where), [_parse_time(text, where) for text in time_text.split(",")]


def _parse_days(text: str, where: str) -> list[int]:
    days: list[int] = []
    for item in text.lower().split(","):
        if item in _DAY_GROUPS:
            days.extend(_DAY_GROUPS[item])
            continue
        first, dash, last = item.partition("-")
        start = _day(first, where)
        if not dash:
            days.append(start)
            continue
        end = _day(last, where)
        # A range may wrap over the weekend: fri-mon is Friday to Monday.
        days.extend((start + offset) % 7 for offset in range((end - start) % 7 + 1))
    return days


def _day(name: str, where: str) -> int:
    if name not in _DAYS:
        raise InvalidInput(f"{where}: unknown day {name!r}; {_DAY_HINT}")
    return _DAYS[name]


def _parse_time(text: str, where: str) -> time:
    match = _TIME.match(text.strip())
    if match is None or int(match[1]) > 23 or int(match[2]) > 59:
        raise InvalidInput(f"{where}: cannot read the time {text!r}; use HH:MM on the 24-hour clock, e.g. 09:00")
    return time(int(match[1]), int(match[2]))


def parse_spacing(text: str) -> timedelta:
    """A minimum spacing as people write it: "90m", "2h", "1h30m", "45min", "0"."""
    cleaned = text.strip()
    match = _SPACING.match(cleaned)
    if cleaned == "0":
        return timedelta(0)
    if not cleaned or match is None or (match["hours"] is None and match["minutes"] is None):
        raise InvalidInput(f"min spacing {text!r}: {_SPACING_HINT}")
    return timedelta(hours=int(match["hours"] or 0), minutes=int(match["minutes"] or 0))


# -- blackouts and the queue ---------------------------------------------------------------------


@dataclass(frozen=True)
class Window:
    """A blackout: nothing publishes in [starts_at, ends_at)."""

    name: str
    starts_at: datetime
    ends_at: datetime

    def __post_init__(self) -> None:
        _require_aware(self.starts_at, f"blackout {self.name!r} starts_at")
        _require_aware(self.ends_at, f"blackout {self.name!r} ends_at")
        if self.ends_at <= self.starts_at:
            raise InvalidInput(
                f"blackout {self.name!r} ends ({self.ends_at.isoformat()}) before it starts "
                f"({self.starts_at.isoformat()}); give an end after the start"
            )

    def covers(self, moment: datetime) -> bool:
        return self.starts_at <= moment < self.ends_at


@dataclass(frozen=True)
class Queued:
    key: int
    priority: Priority
    queued_at: datetime

    def __post_init__(self) -> None:
        _require_aware(self.queued_at, f"queued item {self.key} queued_at")


class NoFreeSlot(InvalidInput):
    pass


def _require_aware(moment: datetime, what: str) -> None:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{what} must be an aware datetime, got naive {moment.isoformat()}")


def _queue_order(item: Queued) -> tuple[int, datetime, int]:
    return (item.priority.rank, item.queued_at, item.key)


def _ordered(items: Sequence[Queued]) -> list[Queued]:
    keys = Counter(item.key for item in items)
    repeated = sorted(key for key, count in keys.items() if count > 1)
    if repeated:
        raise ValueError(f"queued keys must be unique; repeated: {repeated}")
    return sorted(items, key=_queue_order)


def _covering(moment: datetime, blackouts: Sequence[Window]) -> Window | None:
    """The covering blackout that ends last, so one jump clears overlapping windows that share the moment."""
    covering = [window for window in blackouts if window.covers(moment)]
    return max(covering, key=lambda window: window.ends_at) if covering else None


# -- slot instants -------------------------------------------------------------------------------


def _slot_instant(day: date, wall: time, zone: ZoneInfo) -> datetime:
    # With fold=0 zoneinfo reads a gap time with the offset from before the jump, which is exactly
    # "moved forward by the length of the gap", and a fold time as its first occurrence.
    return datetime.combine(day, wall, tzinfo=zone).astimezone(UTC)


def slot_instants(schedule: PostingSchedule, start: datetime, end: datetime) -> Iterator[datetime]:
    """Every slot instant in [start, end), ascending, as aware UTC datetimes."""
    _require_aware(start, "start")
    _require_aware(end, "end")
    if not schedule.slots or end <= start:
        return
    zone = get_zone(schedule.zone)
    start_utc, end_utc = start.astimezone(UTC), end.astimezone(UTC)
    # A UTC offset is always strictly within a day, so only wall dates in this range can land in [start, end).
    first_day = (start_utc - timedelta(days=1)).date()
    last_day = (end_utc + timedelta(days=1)).date()
    pending: list[datetime] = []
    last: datetime | None = None
    day = first_day
    while day <= last_day:
        for wall in schedule.slots.get(day.weekday(), ()):
            instant = _slot_instant(day, wall, zone)
            if start_utc <= instant < end_utc:
                heapq.heappush(pending, instant)
        # Gap shifts break the order of wall times, but no later date's slot can come before this
        # date's midnight read as UTC minus a day, so everything earlier than that is final.
        settled = datetime.combine(day, time(0), tzinfo=UTC)
        while pending and (day == last_day or pending[0] < settled):
            instant = heapq.heappop(pending)
            if instant != last:
                yield instant
                last = instant
        day += timedelta(days=1)


# -- bookings ------------------------------------------------------------------------------------


@dataclass
class _Bookings:
    """The posts on a channel so far, with what the limits need to ask of them."""

    zone: ZoneInfo
    spacing: timedelta
    max_per_day: int | None
    times: list[datetime] = field(default_factory=list)
    per_day: Counter[date] = field(default_factory=Counter)

    @classmethod
    def of(cls, schedule: PostingSchedule | None, fixed: Iterable[datetime]) -> _Bookings:
        if schedule is None:
            bookings = cls(zone=ZoneInfo("UTC"), spacing=timedelta(0), max_per_day=None)
        else:
            bookings = cls(get_zone(schedule.zone), schedule.min_spacing, schedule.max_per_day)
        for moment in fixed:
            _require_aware(moment, "fixed time")
            bookings.add(moment.astimezone(UTC))
        return bookings

    def add(self, moment: datetime) -> None:
        insort(self.times, moment)
        self.per_day[self.local_day(moment)] += 1

    def local_day(self, moment: datetime) -> date:
        return moment.astimezone(self.zone).date()

    def taken(self, moment: datetime) -> bool:
        index = bisect_left(self.times, moment)
        return index < len(self.times) and self.times[index] == moment

    def day_full(self, moment: datetime) -> bool:
        return self.max_per_day is not None and self.per_day[self.local_day(moment)] >= self.max_per_day

    def clear_from(self, moment: datetime) -> datetime | None:
        """None if ``moment`` is at least the spacing away from every post, else the first instant that could be."""
        if not self.spacing:
            return None
        low = bisect_right(self.times, moment - self.spacing)
        high = bisect_left(self.times, moment + self.spacing)
        return self.times[high - 1] + self.spacing if high > low else None

    def next_day_start(self, moment: datetime) -> datetime:
        """The first instant of the next local day, even where midnight falls in a gap or a fold."""
        day = self.local_day(moment)
        while True:
            day += timedelta(days=1)
            for fold in (0, 1):
                start = datetime.combine(day, time(0), tzinfo=self.zone).replace(fold=fold).astimezone(UTC)
                if start > moment:
                    return start


# -- the queue -----------------------------------------------------------------------------------


def allocate(
    schedule: PostingSchedule,
    *,
    now: datetime,
    fixed: Sequence[datetime],
    queued: Sequence[Queued],
    blackouts: Sequence[Window] = (),
    horizon: timedelta = timedelta(days=366),
) -> dict[int, datetime]:
    """Give every queued item a slot, in queue order; all or nothing.

    The caller passes every still-movable item, so a high-priority arrival takes the first usable
    slot and the items behind it each move one slot later.
    """
    _require_aware(now, "now")
    order = _ordered(queued)
    bookings = _Bookings.of(schedule, fixed)
    if not order:
        return {}
    assigned: dict[int, datetime] = {}
    seen = 0
    refused: Counter[str] = Counter()
    blocking: dict[str, None] = {}  # names of blackouts that refused a slot, in order, without repeats
    for slot in slot_instants(schedule, now, now + horizon):
        seen += 1
        window = _covering(slot, blackouts)
        if window is not None:
            refused["blackout"] += 1
            blocking[window.name] = None
            continue
        if bookings.taken(slot):
            refused["taken"] += 1
            continue
        if bookings.day_full(slot):
            refused["full"] += 1
            continue
        if bookings.clear_from(slot) is not None:
            refused["close"] += 1
            continue
        assigned[order[len(assigned)].key] = slot
        bookings.add(slot)
        if len(assigned) == len(order):
            return assigned
    missing = len(order) - len(assigned)
    raise NoFreeSlot(
        f"no free slot for {missing} {'post' if missing == 1 else 'posts'} within {_describe_span(horizon)}: "
        + _why_full(schedule, seen, len(assigned), refused, list(blocking))
    )


def _why_full(schedule: PostingSchedule, seen: int, assigned: int, refused: Counter[str], blocking: list[str]) -> str:
    if not schedule.slots:
        return "the schedule has no slots; add some, e.g. 'mon-fri 09:00'"
    if not seen:
        return f"the schedule ({schedule.describe()}) has no slot in that time"
    names = ", ".join(blocking)
    if refused["blackout"] == seen:
        return f"every slot in that time falls in a blackout ({names})"
    reasons = []
    if assigned:
        reasons.append(f"{assigned} went to the posts ahead in the queue")
    if refused["blackout"]:
        reasons.append(f"{refused['blackout']} fall in a blackout ({names})")
    if refused["taken"]:
        reasons.append(f"{refused['taken']} already have a post")
    if refused["full"]:
        reasons.append(f"{refused['full']} are on days at the limit of {schedule.max_per_day} a day")
    if refused["close"]:
        reasons.append(f"{refused['close']} are closer than {_describe_span(schedule.min_spacing)} to another post")
    return f"of the {seen} slots in that time, {', '.join(reasons)}; add slots or loosen the limits"


def release(
    schedule: PostingSchedule | None,
    *,
    now: datetime,
    fixed: Sequence[datetime],
    backlog: Sequence[Queued],
    blackouts: Sequence[Window] = (),
) -> dict[int, datetime]:
    """Due times for overdue items (after a pause or a blackout): as soon as possible, not in slots,
    but within the channel's limits, so a resume does not burst a backlog through them."""
    _require_aware(now, "now")
    start = now.astimezone(UTC)
    bookings = _Bookings.of(schedule, fixed)
    released: dict[int, datetime] = {}
    for item in _ordered(backlog):
        moment = _earliest_allowed(start, bookings, blackouts)
        released[item.key] = moment
        bookings.add(moment)
    return released


def _earliest_allowed(start: datetime, bookings: _Bookings, blackouts: Sequence[Window]) -> datetime:
    # Each step skips only instants that are refused, and only moves forward past a finite set of
    # windows, full days and posts, so the first instant no rule moves is the earliest allowed one.
    moment = start
    while True:
        window = _covering(moment, blackouts)
        if window is not None:
            moment = window.ends_at.astimezone(UTC)
        elif bookings.day_full(moment):
            moment = bookings.next_day_start(moment)
        elif (clear := bookings.clear_from(moment)) is not None:
            moment = clear
        else:
            return moment


def upcoming(
    schedule: PostingSchedule,
    *,
    now: datetime,
    days: int,
    booked: Mapping[datetime, str],
    blackouts: Sequence[Window] = (),
) -> list[tuple[datetime, str | None]]:
    """The slots of the next ``days`` days with what holds each: a booked label, a blackout, or None."""
    if days < 0:
        raise InvalidInput(f"days {days}: give a number of days of at least 0, e.g. 7")
    shown: list[tuple[datetime, str | None]] = []
    for slot in slot_instants(schedule, now, now + timedelta(days=days)):
        window = _covering(slot, blackouts)
        label = booked.get(slot)
        if label is None and window is not None:
            label = f"blackout: {window.name}"
        shown.append((slot, label))
    return shown


# -- explanations --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Booking:
    """A post holding a time on a channel, as explanations name it."""

    at: datetime
    post: int
    note: str | None = None  # how it got there, e.g. "fixed time", "published", "high priority"

    def __post_init__(self) -> None:
        _require_aware(self.at, f"booking of post {self.post}")

    @property
    def name(self) -> str:
        return f"post {self.post}" + (f" ({self.note})" if self.note else "")

    def describe(self, zone: ZoneInfo, *, on: date | None = None) -> str:
        """Such as 'post 5 at 11:00 (fixed time)'; the date too unless the post is on the local day ``on``."""
        local = self.at.astimezone(zone)
        when = f"{local:%H:%M}" if local.date() == on else f"{local:%a %Y-%m-%d %H:%M}"
        return f"post {self.post} at {when}" + (f" ({self.note})" if self.note else "")


class SlotStatus(StrEnum):
    FREE = "free"
    TAKEN = "taken"
    BLOCKED = "blocked"


@dataclass(frozen=True)
class Verdict:
    """What a moment is to the queue: free, taken (by which posts), or blocked (why, by which posts)."""

    status: SlotStatus
    reason: str | None = None
    by: tuple[Booking, ...] = ()


class Explainer:
    """Why the queue would or would not put a post at a moment, by the rules ``allocate`` applies
    (in its order: a post there, a blackout, the daily maximum, the spacing)."""

    def __init__(
        self,
        schedule: PostingSchedule,
        bookings: Iterable[Booking],
        blackouts: Sequence[Window] = (),
        *,
        earliest: datetime | None = None,
    ) -> None:
        self.schedule = schedule
        self.zone = get_zone(schedule.zone)
        self.bookings = sorted(bookings, key=lambda booking: (booking.at, booking.post))
        self._limits = _Bookings.of(schedule, (booking.at for booking in self.bookings))
        self._blackouts = blackouts
        if earliest is not None:
            _require_aware(earliest, "earliest")
        self._earliest = earliest

    def local(self, moment: datetime) -> str:
        return f"{moment.astimezone(self.zone):%a %Y-%m-%d %H:%M}"

    def on_day_of(self, moment: datetime) -> list[Booking]:
        """The posts on the local day of ``moment``: those that count against its maximum."""
        day = self._limits.local_day(moment)
        return [booking for booking in self.bookings if self._limits.local_day(booking.at) == day]

    def explain(self, moment: datetime) -> Verdict:
        _require_aware(moment, "moment")
        moment = moment.astimezone(UTC)
        there = tuple(booking for booking in self.bookings if booking.at == moment)
        if there:
            return Verdict(SlotStatus.TAKEN, None, there)
        window = _covering(moment, self._blackouts)
        if window is not None:
            return Verdict(SlotStatus.BLOCKED, f"blackout {window.name!r} (until {self.local(window.ends_at)})")
        if self._earliest is not None and moment < self._earliest:
            return Verdict(SlotStatus.BLOCKED, f"too soon: the queue fills slots from {self.local(self._earliest)} on")
        if self._limits.day_full(moment):
            day = self._limits.local_day(moment)
            same_day = tuple(self.on_day_of(moment))
            listed = ", ".join(booking.describe(self.zone, on=day) for booking in same_day)
            return Verdict(
                SlotStatus.BLOCKED, f"day full (at most {self.schedule.max_per_day} a day): {listed}", same_day
            )
        if self._limits.clear_from(moment) is not None:
            spacing = self.schedule.min_spacing
            day = self._limits.local_day(moment)
            close = tuple(booking for booking in self.bookings if abs(booking.at - moment) < spacing)
            listed = ", ".join(booking.describe(self.zone, on=day) for booking in close)
            return Verdict(SlotStatus.BLOCKED, f"too close: less than {_describe_span(spacing)} from {listed}", close)
        return Verdict(SlotStatus.FREE)

    def why_moved(self, old: datetime, new: datetime) -> str:
        """Why the queue moved a post from ``old`` to ``new``; the explainer holds the bookings after the
        move (without the moved post)."""
        if new < old:
            return "an earlier slot came free"
        verdict = self.explain(old)
        if verdict.status is SlotStatus.TAKEN:
            return f"its slot went to {', '.join(booking.name for booking in verdict.by)}"
        if verdict.status is SlotStatus.BLOCKED:
            return f"its slot is blocked: {verdict.reason}"
        if old not in set(slot_instants(self.schedule, old, old + timedelta(seconds=1))):
            return f"{self.local(old)} is no longer a slot ({self.schedule.describe()})"
        return "the queue was reordered"


def explain_slots(
    schedule: PostingSchedule,
    *,
    now: datetime,
    days: int,
    bookings: Iterable[Booking],
    blackouts: Sequence[Window] = (),
    earliest: datetime | None = None,
) -> list[tuple[datetime, Verdict]]:
    """The slots of the next ``days`` days, each free, taken or blocked (and why). ``bookings`` are every
    post on the channel from the day before ``now`` on, so daily counts and spacing see them all."""
    if days < 0:
        raise InvalidInput(f"days {days}: give a number of days of at least 0, e.g. 7")
    explainer = Explainer(schedule, bookings, blackouts, earliest=earliest)
    return [(slot, explainer.explain(slot)) for slot in slot_instants(schedule, now, now + timedelta(days=days))]
