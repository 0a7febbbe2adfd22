"""Due times: a local wall time in an IANA zone, or an instant with an offset, stored in UTC.

Wall times are checked against the zone's transitions: a time inside a DST gap never happens on
the clock and is refused, naming the last valid minute before the gap and the first one after it;
a time inside a DST fold happens twice and is refused unless the offset picks one of the two.
"""

from __future__ import annotations

import difflib
import re
import zoneinfo
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from functools import lru_cache

from scheduler.errors import (
    AmbiguousLocalTime,
    InvalidTime,
    NonexistentLocalTime,
    TimeInPast,
    UnknownTimeZone,
)

_OFFSET_AT_END = re.compile(r"(Z|[+-]\d{2}:?\d{2})$", re.IGNORECASE)
# Due times lie in these years: a time at the edge of what datetime holds (9999-12-31T23:59-12:00)
# overflowed when it was turned into UTC or into a zone's time.
FIRST_YEAR, LAST_YEAR = 1900, 2999
_MAX_TEXT = 100  # a time or a zone name is short; a longer one is refused before it is read


@dataclass(frozen=True)
class DueTime:
    utc: datetime  # aware, UTC
    zone: str | None  # the zone the user thought in, kept for display


@lru_cache(maxsize=1)
def _zone_names() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def get_zone(name: str) -> zoneinfo.ZoneInfo:
    """The IANA zone ``name``, or UnknownTimeZone with the closest real names."""
    if len(name) > _MAX_TEXT:
        raise UnknownTimeZone(f"unknown time zone {name[:40]!r}...: use an IANA name such as Europe/Zurich")
    try:
        if name not in _zone_names() and name != "UTC":
            raise zoneinfo.ZoneInfoNotFoundError(name)
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        close = difflib.get_close_matches(name, sorted(_zone_names()), n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else "; use an IANA name such as Europe/Zurich"
        raise UnknownTimeZone(f"unknown time zone {name!r}{hint}") from None


def _fmt_offset(moment: datetime) -> str:
    offset = moment.utcoffset() or timedelta(0)
    sign = "-" if offset < timedelta(0) else "+"
    minutes = abs(int(offset.total_seconds())) // 60
    return f"{sign}{minutes // 60:02d}:{minutes % 60:02d}"


def _label(moment: datetime) -> str:
    return f"{moment:%H:%M} {moment.tzname()} ({_fmt_offset(moment)})"


def _transition_between(earlier: datetime, later: datetime, zone: tzinfo) -> datetime:
    """The first UTC instant in (earlier, later] whose offset in ``zone`` differs from ``earlier``'s."""
    before = earlier.astimezone(zone).utcoffset()
    low, high = earlier, later
    while high - low > timedelta(seconds=1):
        middle = low + (high - low) / 2
        if middle.astimezone(zone).utcoffset() == before:
            low = middle
        else:
            high = middle
    return high.replace(microsecond=0)


def resolve_wall_time(wall: datetime, zone_name: str) -> datetime:
    """Turn a naive wall time in ``zone_name`` into an aware UTC instant, refusing gaps and folds."""
    zone = get_zone(zone_name)
    first = wall.replace(tzinfo=zone, fold=0)
    second = wall.replace(tzinfo=zone, fold=1)
    first_utc, second_utc = first.astimezone(UTC), second.astimezone(UTC)
    round_trips = first_utc.astimezone(zone).replace(tzinfo=None) == wall
    if not round_trips:
        # In a gap, fold=1 maps to the earlier instant; the transition lies between the two.
        start, end = sorted((first_utc, second_utc))
        change = _transition_between(start, end, zone)
        last_before = (change - timedelta(minutes=1)).astimezone(zone)
        first_after = change.astimezone(zone)
        raise NonexistentLocalTime(
            f"{wall:%Y-%m-%d %H:%M} does not exist in {zone_name}: it falls in the daylight-saving gap "
            f"when clocks jump from {last_before.tzname()} to {first_after.tzname()}. "
            f"The valid times on either side are {wall:%Y-%m-%d} {_label(last_before)} "
            f"and {first_after:%Y-%m-%d} {_label(first_after)}."
        )
    if first_utc != second_utc:
        raise AmbiguousLocalTime(
            f"{wall:%Y-%m-%d %H:%M} happens twice in {zone_name} (clocks go back): "
            f"once at {_fmt_offset(first)} {first.tzname()} and once at {_fmt_offset(second)} "
            f"{second.tzname()}. Give the offset, e.g. --at '{wall:%Y-%m-%dT%H:%M}{_fmt_offset(first)}'."
        )
    return first_utc


def _parse_iso(text: str) -> datetime:
    cleaned = text.strip()
    usage = "use 'YYYY-MM-DD HH:MM' with --tz ZONE, or an ISO instant with an offset such as 2027-03-08T10:00+01:00"
    if len(cleaned) > _MAX_TEXT:
        raise InvalidTime(f"cannot read the time {cleaned[:40]!r}...: {usage}")
    try:
        moment = datetime.fromisoformat(cleaned.replace(" ", "T", 1) if "T" not in cleaned else cleaned)
    except ValueError:
        raise InvalidTime(f"cannot read the time {text!r}: {usage}") from None
    if not FIRST_YEAR <= moment.year <= LAST_YEAR:
        raise InvalidTime(f"{cleaned}: give a time in the years {FIRST_YEAR} to {LAST_YEAR}")
    return moment


def parse_due(
    at: str | None,
    zone_name: str | None,
    *,
    now: datetime,
    immediately: bool = False,
    allow_past: bool = False,
) -> DueTime:
    """Read a due time as the CLI and API take it; ``now`` is aware UTC.

    * ``at`` with an offset: an instant; if a zone is given too, the offset must be one the zone uses then.
    * ``at`` without an offset: a wall time in ``zone_name`` (required).
    * ``immediately``: now.
    * ``allow_past``: a time already past is fine (the start of a window already running).
    """
    if immediately:
        if at:
            raise InvalidTime("give either a time (--at) or --now, not both")
        if zone_name:
            get_zone(zone_name)
        return DueTime(utc=now, zone=zone_name)
    if not at:
        raise InvalidTime("no time given: use --at 'YYYY-MM-DD HH:MM' --tz ZONE, an ISO instant, or --now")

    moment = _parse_iso(at)
    if moment.tzinfo is not None:
        utc = moment.astimezone(UTC)
        if zone_name:
            local = utc.astimezone(get_zone(zone_name))
            if local.utcoffset() != moment.utcoffset():
                raise InvalidTime(
                    f"{at} has offset {_fmt_offset(moment)}, but {zone_name} is at {_fmt_offset(local)} "
                    f"then ({local:%Y-%m-%d %H:%M} {local.tzname()}); drop --tz or fix the offset"
                )
    else:
        if not zone_name:
            raise InvalidTime(f"{at} has no offset: say which time zone it is in with --tz ZONE (e.g. Europe/Zurich)")
        utc = resolve_wall_time(moment, zone_name)

    if utc < now and not allow_past:
        shown = utc.astimezone(get_zone(zone_name)) if zone_name else utc
        raise TimeInPast(
            f"{shown:%Y-%m-%d %H:%M %Z} is in the past (now is {now:%Y-%m-%d %H:%M:%S} UTC); "
            "use --now to publish immediately"
        )
    return DueTime(utc=utc, zone=zone_name)


def utcnow() -> datetime:
    return datetime.now(UTC)
