"""Awareness days: the observance model, its rules over the years, and occurrences for any dates.

An observance (International Women's Day, LGBTQ+ STEM Day, Black History Month, ...) is a
*floating date*, the same calendar date everywhere. Days move and rules change, so an
observance holds **rule versions** valid for ranges of years, and **per-year overrides** (a
moved date, a year not observed, a one-off year). Month-long observances are "month N" in the
model, never an RFC 5545 duration (which has no months and breaks February in leap years);
they and every other rule are expanded per year with python-dateutil.

The built-in dataset (``scheduler/data/observances.toml``) follows
``shared/reference/awareness-days.md``; organisations add their own, or import them from
``.ics`` files (``ics.py``).
"""

from __future__ import annotations

import calendar as _gregorian  # monthrange only; the module is the standard library's, not ours
import datetime as dt
import functools
import itertools
import tomllib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any, Literal

from dateutil.rrule import rrulestr
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from scheduler.errors import InvalidInput

Kind = Literal["day", "week", "month", "anniversary", "announcement"]
Tone = Literal["celebratory", "commemorative"]
SKIP = "not observed"
# The years the calendar answers for: any observance's dates, a year either side, and a day past the
# end (an .ics DTEND is exclusive) stay within what dates can hold.
MAX_SPAN_DAYS = 3660  # one listing covers at most ten years: the work per command stays bounded


class RuleVersion(BaseModel):
    """How the date is found in the years ``first`` to ``last`` (inclusive; ``last`` None: open)."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    first: int = Field(alias="from")
    last: int | None = Field(default=None, alias="to")
    rrule: str | None = None  # RFC 5545 RRULE, expanded from 1 January of each year
    month: int | None = Field(default=None, ge=1, le=12)  # a whole calendar month
    days: int = Field(default=1, ge=1, le=366)  # how long each occurrence lasts (rrule only)
    region: str = "global"

    @model_validator(mode="after")
    def _one_way(self) -> RuleVersion:
        if (self.rrule is None) == (self.month is None):
            raise ValueError("give either rrule or month")
        if self.last is not None and self.last < self.first:
            raise ValueError(f"to = {self.last} is before from = {self.first}")
        if self.rrule is not None:
            try:
                rrulestr(self.rrule, dtstart=dt.datetime(2000, 1, 1))
            except (ValueError, TypeError) as error:
                raise ValueError(f"rrule {self.rrule!r} does not parse: {error}") from None
        return self

    def covers(self, year: int) -> bool:
        return self.first <= year and (self.last is None or year <= self.last)


class Observance(BaseModel):
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{1,80}$")
    name: str = Field(min_length=1)
    kind: Kind
    tone: Tone = "celebratory"
    auto_publish: bool = True  # commemorative days and announcements never auto-publish, whatever this says
    tags: list[str] = []
    hashtags: list[str] = []  # may hold {yyyy} and {yy}, e.g. "#IWD{yyyy}"
    first_year: int  # the first edition; {ordinal} counts editions from it (anniversaries: years since)
    body: str = ""
    rules: list[RuleVersion] = Field(default=[], alias="rule")
    # year -> "YYYY-MM-DD" (moved or one-off), "YYYY-MM-DD/YYYY-MM-DD" (a span), or "not observed"
    overrides: dict[str, str] = {}
    sources: list[str] = []
    verified_on: dt.date | None = None
    confidence: Literal["primary", "secondary", "unverified"] = "primary"
    notes: str = ""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    @field_validator("overrides")
    @classmethod
    def _overrides(cls, value: dict[str, str]) -> dict[str, str]:
        for year, when in value.items():
            if not year.isdigit():
                raise ValueError(f"override year {year!r} is not a year")
            if when != SKIP:
                start, end = _span(when)
                if start.year != int(year):
                    raise ValueError(f"override for {year} gives a date in {start.year}: {when}")
                if end < start:
                    raise ValueError(f"override for {year} ends before it starts: {when}")
        return value

    @model_validator(mode="after")
    def _versions(self) -> Observance:
        if not self.rules and not self.overrides:
            raise ValueError("needs at least one rule version or one override")
        ordered = sorted(self.rules, key=lambda rule: rule.first)
        for earlier, later in itertools.pairwise(ordered):
            if earlier.last is None or earlier.last >= later.first:
                raise ValueError(
                    f"rule versions overlap: from {earlier.first} to {earlier.last or 'open'} "
                    f"and from {later.first}; give the earlier one a 'to' year before {later.first}"
                )
        return self

    @property
    def auto_publishes(self) -> bool:
        return self.auto_publish and self.tone == "celebratory" and self.kind != "announcement"

    def occurrence(self, year: int) -> Occurrence | None:
        """This observance in ``year``, or None when it is not observed that year."""
        if year < self.first_year and str(year) not in self.overrides:
            return None
        override = self.overrides.get(str(year))
        if override == SKIP:
            return None
        if override is not None:
            start, end = _span(override)
        else:
            rule = next((rule for rule in self.rules if rule.covers(year)), None)
            if rule is None:
                return None
            found = _expand(rule, year)
            if found is None:
                return None
            start, end = found
        return Occurrence(observance=self, year=year, start=start, end=end)

    def occurrences(self, start: dt.date, end: dt.date) -> list[Occurrence]:
        """Every occurrence overlapping [start, end] (inclusive), in order."""
        found = []
        for year in range(start.year - 1, end.year + 1):  # a span may begin the year before
            occurrence = self.occurrence(year)
            if occurrence is not None and occurrence.start <= end and occurrence.end >= start:
                found.append(occurrence)
        return found

    def edition(self, year: int) -> int:
        """1 for the first edition; for an anniversary, the years since the event."""
        if self.kind == "anniversary":
            return year - self.first_year
        skipped = sum(1 for y, when in self.overrides.items() if when == SKIP and self.first_year <= int(y) < year)
        return year - self.first_year + 1 - skipped


def _span(text: str) -> tuple[dt.date, dt.date]:
    first, _, last = text.partition("/")
    try:
        start = dt.date.fromisoformat(first.strip())
        end = dt.date.fromisoformat(last.strip()) if last else start
    except ValueError:
        raise ValueError(f"{text!r} is not a date (YYYY-MM-DD), a span (YYYY-MM-DD/YYYY-MM-DD) or {SKIP!r}") from None
    return start, end


@functools.lru_cache(maxsize=4096)
def _expand(rule: RuleVersion, year: int) -> tuple[dt.date, dt.date] | None:
    if rule.month is not None:
        last_day = _gregorian.monthrange(year, rule.month)[1]  # 29 in a leap February
        return dt.date(year, rule.month, 1), dt.date(year, rule.month, last_day)
    assert rule.rrule is not None
    recurrence = rrulestr(rule.rrule, dtstart=dt.datetime(year, 1, 1))
    first = recurrence.after(dt.datetime(year, 1, 1), inc=True)
    if first is None or first.year != year:
        return None
    start = first.date()
    return start, start + dt.timedelta(days=rule.days - 1)


@dataclass(frozen=True)
class Occurrence:
    observance: Observance
    year: int
    start: dt.date
    end: dt.date  # inclusive

    @property
    def id(self) -> str:
        return self.observance.id

    @property
    def hashtags(self) -> list[str]:
        return [expand_year(tag, self.year) for tag in self.observance.hashtags]

    @property
    def ordinal(self) -> str:
        return ordinal(self.observance.edition(self.year))

    def as_dict(self) -> dict[str, Any]:
        o = self.observance
        return {
            "id": o.id,
            "name": o.name,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "kind": o.kind,
            "tone": o.tone,
            "auto_publish": o.auto_publishes,
            "hashtags": self.hashtags,
            "tags": o.tags,
            "edition": o.edition(self.year),
        }


def expand_year(template: str, year: int) -> str:
    return template.replace("{yyyy}", f"{year:04d}").replace("{yy}", f"{year % 100:02d}")


def ordinal(number: int) -> str:
    suffix = "th" if 10 <= number % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(number % 10, "th")
    return f"{number}{suffix}"


def parse_dataset(text: str, *, source: str) -> list[Observance]:
    """Observances from TOML (``[[observance]]`` tables); InvalidInput names the entry and the field."""
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise InvalidInput(f"{source}: not valid TOML: {error}") from None
    entries = document.get("observance", [])
    if not isinstance(entries, list) or not entries:
        raise InvalidInput(f"{source}: no [[observance]] entries")
    return observances_from(entries, source=source)


def observances_from(entries: Iterable[dict[str, Any]], *, source: str) -> list[Observance]:
    found: list[Observance] = []
    problems = []
    for index, entry in enumerate(entries, start=1):
        label = f"entry {index} ({entry.get('id', '?')})" if isinstance(entry, dict) else f"entry {index}"
        try:
            found.append(Observance.model_validate(entry))
        except ValidationError as error:
            for detail in error.errors():
                where = ".".join(str(part) for part in detail["loc"]) or "entry"
                problems.append(f"{source}: {label}: {where}: {detail['msg']}")
    seen: set[str] = set()
    for observance in found:
        if observance.id in seen:
            problems.append(f"{source}: id {observance.id!r} is used twice")
        seen.add(observance.id)
    if problems:
        raise InvalidInput("\n".join(problems))
    return found


@functools.cache
def builtin() -> tuple[Observance, ...]:
    """The dataset shipped with crosspost."""
    text = resources.files("scheduler").joinpath("data/observances.toml").read_text(encoding="utf-8")
    return tuple(parse_dataset(text, source="scheduler/data/observances.toml"))


def occurrences(
    observances: Sequence[Observance], start: dt.date, end: dt.date, *, tag: str | None = None
) -> list[Occurrence]:
    """Every occurrence overlapping [start, end], by start date then name."""
    if end < start:
        raise InvalidInput(f"the range ends ({end}) before it starts ({start})")
    chosen = [o for o in observances if tag is None or tag in o.tags]
    found = [occurrence for o in chosen for occurrence in o.occurrences(start, end)]
    return sorted(found, key=lambda occ: (occ.start, occ.observance.name))


def find(observances: Sequence[Observance], observance_id: str) -> Observance:
    for observance in observances:
        if observance.id == observance_id:
            return observance
    raise InvalidInput(f"no observance with id {observance_id!r}; see crosspost calendar list")
