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

from scheduler.errors import InvalidInput
from scheduler.observances import SKIP, Occurrence

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


def import_documents(data: bytes, *, prefix: str, source: str) -> list[dict[str, Any]]:
    """Observance documents (``Observance.model_validate`` input) from an .ics file's all-day events."""
    try:
        calendar = icalendar.Calendar.from_ical(data)
    except ValueError as error:
        raise InvalidInput(f"{source}: not an iCalendar file: {error}") from None
    grouped: dict[str, dict[str, Any]] = {}
    for event in calendar.walk("VEVENT"):
        summary = str(event.get("summary", "")).strip()
        if not summary:
            raise InvalidInput(f"{source}: an event has no SUMMARY; every observance needs a name")
        start = _date(event.get("dtstart"), summary, source)
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
            for excluded in _dates(event.get("exdate")):
                document["overrides"][str(excluded.year)] = SKIP
            for added in _dates(event.get("rdate")):
                document["overrides"][str(added.year)] = added.isoformat()
        else:
            span = start.isoformat() if end == start else f"{start.isoformat()}/{end.isoformat()}"
            document["overrides"][str(start.year)] = span
    if not grouped:
        raise InvalidInput(f"{source}: no events to import")
    return list(grouped.values())


def _rule_version(rule: Any, start: dt.date, end: dt.date, summary: str, source: str) -> dict[str, Any]:
    parts = {key.upper(): value for key, value in rule.items()}
    frequency = parts.get("FREQ", ["?"])[0]
    if frequency != "YEARLY":
        raise InvalidInput(f"{source}: {summary!r} repeats {frequency}; an observance happens once a year")
    until = parts.pop("UNTIL", None)
    parts.pop("COUNT", None)
    # a bare yearly rule takes its month and day from DTSTART; ours expand from 1 January
    if "BYMONTH" not in parts:
        parts["BYMONTH"] = [start.month]
    if "BYMONTHDAY" not in parts and "BYDAY" not in parts and "BYYEARDAY" not in parts:
        parts["BYMONTHDAY"] = [start.day]
    text = icalendar.vRecur(parts).to_ical().decode()  # type: ignore[no-untyped-call]
    version: dict[str, Any] = {"from": start.year, "rrule": text, "days": (end - start).days + 1}
    if until:
        version["to"] = _date(until[0], summary, source).year
    return version


def _date(value: Any, summary: str, source: str) -> dt.date:
    moment = getattr(value, "dt", value)
    if isinstance(moment, dt.datetime):
        return moment.date()
    if isinstance(moment, dt.date):
        return moment
    raise InvalidInput(f"{source}: {summary!r} has no DTSTART date")


def _end(event: Any, start: dt.date, summary: str, source: str) -> dt.date:
    if event.get("dtend") is not None:
        last = _date(event.get("dtend"), summary, source) - dt.timedelta(days=1)  # exclusive
    elif event.get("duration") is not None:
        last = start + event.get("duration").dt - dt.timedelta(days=1)
    else:
        last = start
    return max(last, start)


def _dates(value: Any) -> list[dt.date]:
    if value is None:
        return []
    lists = value if isinstance(value, list) else [value]
    return [
        item.dt if not isinstance(item.dt, dt.datetime) else item.dt.date() for entry in lists for item in entry.dts
    ]


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:80]
