""".ics export and import of observances (RFC 5545, with the icalendar library).

Export writes one all-day VEVENT per occurrence (``DTSTART;VALUE=DATE`` and an *exclusive*
``DTEND``), not an RRULE: a recurring event keeps the exact duration of its first instance, so a
February-long observance would break in leap years, and RFC 5545 durations have no months.
Google Calendar and Outlook read this form, and Awareness Days publishes the same.

Import takes all-day events: a yearly RRULE becomes a rule version, EXDATE a year not observed,
RDATE and single events per-year dates, grouped by their summary.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from typing import Any

import icalendar

from scheduler.calendar.observances import SKIP, Occurrence
from scheduler.errors import InvalidInput
from scheduler.when import FIRST_YEAR, LAST_YEAR

PRODID = "-//crosspost//awareness days//EN"


def export(occurrences: Sequence[Occurrence], *, stamp: dt.datetime) -> bytes:
    calendar = icalendar.Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("x-wr-calname", "Awareness days (crosspost)")
    for occurrence in occurrences:
        observance = occurrence.observance
        event = icalendar.Event()
        event.add("uid", f"{observance.id}-{occurrence.year}@crosspost")
        event.add("dtstamp", stamp)
        event.add("dtstart", occurrence.start)
        event.add("dtend", occurrence.end + dt.timedelta(days=1))  # all-day DTEND is exclusive
        event.add("summary", observance.name)
        lines = [" ".join(occurrence.hashtags), observance.body, *observance.sources]
        event.add("description", "\n".join(line for line in lines if line))
        if observance.tags:
            event.add("categories", observance.tags)
        event.add("transp", "TRANSPARENT")  # an observance does not make anyone busy
        calendar.add_component(event)
    return bytes(calendar.to_ical())


MAX_BYTES = 2_000_000  # an .ics file of observances is a few kilobytes; this bounds the work of a bad one


def import_documents(data: bytes, *, prefix: str, source: str) -> list[dict[str, Any]]:
    """Observance documents (``Observance.model_validate`` input) from an .ics file's all-day events.

    Every value is checked where it is read: a date, duration, RRULE or EXDATE that icalendar cannot
    parse, or that lies outside the calendar's years, is refused naming the event and the property.
    """
    if len(data) > MAX_BYTES:
        raise InvalidInput(f"{source}: {len(data):,} bytes; an .ics file of observances is at most {MAX_BYTES:,}")
    try:
        calendar = icalendar.Calendar.from_ical(data)
        events = list(calendar.walk("VEVENT"))
    except (ValueError, TypeError, KeyError, IndexError, RecursionError) as error:
        raise InvalidInput(f"{source}: not an iCalendar file: {_short(error)}") from None
    grouped: dict[str, dict[str, Any]] = {}
    for event in events:
        summary = _text(event.get("summary", ""), source).strip()
        if not summary:
            raise InvalidInput(f"{source}: an event has no SUMMARY; every observance needs a name")
        start = _date(_read(event, "dtstart", "dt", summary, source), "DTSTART", summary, source)
        end = _end(event, start, summary, source)
        document = grouped.setdefault(
            summary,
            {
                "id": _slug(f"{prefix}-{summary}"),
                "name": summary,
                "kind": "day" if end == start else "week",
                "first_year": start.year,
                "sources": [source],
                "confidence": "unverified",
                "rule": [],
                "overrides": {},
                "notes": f"imported from {source}",
            },
        )
        document["first_year"] = min(document["first_year"], start.year)
        rule = event.get("rrule")
        if rule is not None:
            document["rule"].append(_rule_version(rule, start, end, summary, source))
            for excluded in _dates(event, "exdate", summary, source):
                document["overrides"][str(excluded.year)] = SKIP
            for added in _dates(event, "rdate", summary, source):
                document["overrides"][str(added.year)] = added.isoformat()
        else:
            span = start.isoformat() if end == start else f"{start.isoformat()}/{end.isoformat()}"
            document["overrides"][str(start.year)] = span
    if not grouped:
        raise InvalidInput(f"{source}: no events to import")
    return list(grouped.values())


def _short(error: BaseException) -> str:
    text = " ".join(str(error).split())
    return text if len(text) <= 160 else text[:157] + "..."


def _text(value: Any, source: str) -> str:
    text = str(value)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidInput(f"{source}: a SUMMARY is not valid UTF-8 text") from None
    return text


def _read(event: Any, name: str, attribute: str, summary: str, source: str) -> Any:
    """``event[name].attribute`` (``dt``, ``dts``, ...): icalendar parses a property when it is read,
    and raises for a malformed one."""
    value = event.get(name)
    if value is None:
        return None
    try:
        return getattr(value, attribute)
    except Exception as error:  # icalendar's own errors for a broken property (BrokenCalendarProperty, ValueError)
        raise InvalidInput(f"{source}: {summary!r} has a {name.upper()} that cannot be read: {_short(error)}") from None


def _rule_version(rule: Any, start: dt.date, end: dt.date, summary: str, source: str) -> dict[str, Any]:
    try:
        parts = {key.upper(): value for key, value in rule.items()}
    except Exception as error:  # a broken RRULE (a bad UNTIL, say) raises when it is read
        raise InvalidInput(f"{source}: {summary!r} has an RRULE that cannot be read: {_short(error)}") from None
    frequency = (parts.get("FREQ") or ["no frequency"])[0]
    if frequency != "YEARLY":
        raise InvalidInput(f"{source}: {summary!r} repeats {frequency}; an observance happens once a year")
    until = parts.pop("UNTIL", None)
    parts.pop("COUNT", None)
    # a bare yearly rule takes its month and day from DTSTART; ours expand from 1 January
    if "BYMONTH" not in parts:
        parts["BYMONTH"] = [start.month]
    if "BYMONTHDAY" not in parts and "BYDAY" not in parts and "BYYEARDAY" not in parts:
        parts["BYMONTHDAY"] = [start.day]
    try:
        text = icalendar.vRecur(parts).to_ical().decode()  # type: ignore[no-untyped-call]
    except Exception as error:
        raise InvalidInput(f"{source}: {summary!r} has an RRULE that cannot be read: {_short(error)}") from None
    version: dict[str, Any] = {"from": start.year, "rrule": text, "days": (end - start).days + 1}
    if until:
        version["to"] = _date(until[0], "RRULE UNTIL", summary, source).year
    return version


def _date(value: Any, name: str, summary: str, source: str) -> dt.date:
    moment = getattr(value, "dt", value)
    if isinstance(moment, dt.datetime):
        moment = moment.date()
    if not isinstance(moment, dt.date):
        raise InvalidInput(f"{source}: {summary!r} has no {name} date")
    if not FIRST_YEAR <= moment.year <= LAST_YEAR:
        raise InvalidInput(
            f"{source}: {summary!r} has {name} {moment}; the calendar covers {FIRST_YEAR} to {LAST_YEAR}"
        )
    return moment


def _end(event: Any, start: dt.date, summary: str, source: str) -> dt.date:
    if event.get("dtend") is not None:
        end = _read(event, "dtend", "dt", summary, source)
        moment = end.date() if isinstance(end, dt.datetime) else end
        if not isinstance(moment, dt.date):
            raise InvalidInput(f"{source}: {summary!r} has no DTEND date")
        if not FIRST_YEAR <= moment.year <= LAST_YEAR + 1:  # exclusive: 1 January after the last year ends it
            raise InvalidInput(
                f"{source}: {summary!r} has DTEND {moment}; the calendar covers {FIRST_YEAR} to {LAST_YEAR}"
            )
        last = moment - dt.timedelta(days=1)
    elif event.get("duration") is not None:
        duration = _read(event, "duration", "dt", summary, source)
        if not isinstance(duration, dt.timedelta) or not 0 <= duration.days <= 366:
            shown = event.get("duration").to_ical().decode(errors="replace")
            raise InvalidInput(
                f"{source}: {summary!r} has DURATION {shown!r}; an observance lasts whole days, at most 366"
            )
        last = start + dt.timedelta(days=duration.days - 1)
    else:
        last = start
    last = max(last, start)
    if (last - start).days >= 366:
        raise InvalidInput(f"{source}: {summary!r} lasts from {start} to {last}; an observance lasts at most 366 days")
    return last


def _dates(event: Any, name: str, summary: str, source: str) -> list[dt.date]:
    value = event.get(name)
    if value is None:
        return []
    lists = value if isinstance(value, list) else [value]
    found = []
    for entry in lists:
        try:
            items = list(entry.dts)
        except Exception as error:  # icalendar parses the dates when they are read
            raise InvalidInput(
                f"{source}: {summary!r} has an {name.upper()} that cannot be read: {_short(error)}"
            ) from None
        found += [_date(item, name.upper(), summary, source) for item in items]
    return found


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:80]
