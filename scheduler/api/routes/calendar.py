"""The calendar: awareness days (built in, and the caller's organisations' own), the posts due or
published on an organisation's channels, importing observances from .ics, and exporting them."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from scheduler.api.auth import Caller, RuntimeDep
from scheduler.api.problems import ApiProblem
from scheduler.api.routes._access import default_org, parse_instant, require_view, visible_orgs

router = APIRouter(tags=["calendar"])

Tag = Annotated[str | None, Query(max_length=100, description="Only observances with this tag, e.g. lgbtq")]
MAX_POST_SPAN = dt.timedelta(days=400)  # a calendar view shows a month or a year, not a decade
MAX_POSTS = 2000


def _dates(start: dt.date | None, end: dt.date | None, today: dt.date) -> tuple[dt.date, dt.date]:
    from scheduler.calendar.observances import MAX_SPAN_DAYS
    from scheduler.when import FIRST_YEAR, LAST_YEAR

    first = start or today
    last = end or min(first + dt.timedelta(days=365), dt.date(LAST_YEAR, 12, 31))
    for value, name in ((first, "start"), (last, "end")):
        if not FIRST_YEAR <= value.year <= LAST_YEAR:
            raise ApiProblem(422, f"{name} {value}: the calendar covers {FIRST_YEAR} to {LAST_YEAR}", field=name)
    if last < first:
        raise ApiProblem(422, f"end {last} is before start {first}", field="end")
    if (last - first).days > MAX_SPAN_DAYS:
        raise ApiProblem(422, f"{first} to {last}: at most ten years at a time", field="end")
    return first, last


def _occurrences(runtime: Any, user: str, first: dt.date, last: dt.date, tag: str | None) -> list[Any]:
    from scheduler.calendar.visibility import visible_occurrences

    with runtime.db.read() as session:
        mine = set(visible_orgs(session, user))
    return visible_occurrences(runtime.db, mine, first, last, tag=tag)


class ObservanceDay(BaseModel):
    id: str
    name: str
    start: dt.date
    end: dt.date = Field(description="The last day (inclusive)")
    kind: str
    tone: str
    auto_publish: bool = Field(description="Campaign posts are submitted by themselves; false: drafted for a person")
    hashtags: list[str]
    tags: list[str]
    edition: int


@router.get("/calendar/observances", summary="Awareness days between two dates, with kind, tone and hashtags")
def list_observances(
    caller: Caller,
    runtime: RuntimeDep,
    start: Annotated[dt.date | None, Query(description="From this date (default: today)")] = None,
    end: Annotated[dt.date | None, Query(description="To this date, inclusive (default: a year later)")] = None,
    tag: Tag = None,
) -> list[ObservanceDay]:
    first, last = _dates(start, end, runtime.clock().date())
    return [ObservanceDay(**o.as_dict()) for o in _occurrences(runtime, caller.user, first, last, tag)]


@router.get(
    "/calendar/export.ics",
    response_class=Response,
    responses={200: {"content": {"text/calendar": {"schema": {"type": "string"}}}, "description": "iCalendar"}},
    summary="The awareness days as .ics: one all-day event per occurrence",
)
def export_ics(
    caller: Caller,
    runtime: RuntimeDep,
    start: Annotated[dt.date | None, Query(description="From this date (default: today)")] = None,
    end: Annotated[dt.date | None, Query(description="To this date, inclusive (default: a year later)")] = None,
    tag: Tag = None,
) -> Response:
    from scheduler.calendar import ics

    first, last = _dates(start, end, runtime.clock().date())
    data = ics.export(_occurrences(runtime, caller.user, first, last, tag), stamp=runtime.clock())
    return Response(
        data,
        media_type="text/calendar; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="crosspost-calendar.ics"'},
    )


class NewObservances(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ics: str = Field(min_length=1, max_length=1_000_000, description="An .ics file of all-day events, as text")
    org: str | None = Field(None, max_length=100, description="The organisation they belong to; default: the token's")
    source: str = Field("upload.ics", max_length=200, description="The file's name, for messages and the event log")


class Imported(BaseModel):
    org: str
    imported: list[str] = Field(description="The observances' ids (added, or replaced)")


@router.post("/calendar/import", status_code=201, summary="Add an organisation's own awareness days from .ics (admin)")
def import_observances(body: NewObservances, caller: Caller, runtime: RuntimeDep) -> Imported:
    from scheduler.calendar import campaigns

    org = default_org(body.org, caller.org, what="calendar")
    ids = campaigns.import_ics(
        runtime.db, body.ics.encode(), source=body.source, org=org, now=runtime.clock(), actor=caller.user
    )
    return Imported(org=org, imported=ids)


class CalendarEntry(BaseModel):
    post: int
    publication: int
    state: str
    due_at: str
    due_local: str | None = Field(description="The due time in the zone it was given in")
    published_at: str | None
    remote_url: str | None
    author: str | None
    text: str = Field(description="The start of the post's text")


class PostCalendar(BaseModel):
    org: str
    start: dt.datetime
    end: dt.datetime
    channels: dict[str, list[CalendarEntry]] = Field(description="channel -> its publications, by due time")
    truncated: bool = Field(description="More posts fall in the range than one answer holds: ask for less")


@router.get(
    "/calendar/posts",
    summary="Publications due in [start, end) on an organisation's channels and of its posts, per channel "
    "(every state but cancelled)",
)
def calendar_posts(
    caller: Caller,
    runtime: RuntimeDep,
    start: Annotated[str, Query(max_length=100, description="ISO instant, or a wall time/date with tz")],
    end: Annotated[str, Query(max_length=100, description="Written the same way (exclusive)")],
    tz: Annotated[str | None, Query(max_length=100, description="IANA zone of start and end without offset")] = None,
    org: Annotated[str | None, Query(max_length=100, description="Default: the token's organisation")] = None,
) -> PostCalendar:
    from scheduler import listing
    from scheduler.editorial.people import org_named

    now = runtime.clock()
    first = parse_instant(start, tz, now=now, field="start")
    last = parse_instant(end, tz, now=now, field="end")
    if last <= first:
        raise ApiProblem(422, f"end {last.isoformat()} is not after start {first.isoformat()}", field="end")
    if last - first > MAX_POST_SPAN:
        raise ApiProblem(422, f"at most {MAX_POST_SPAN.days} days at a time", field="end")
    org = default_org(org, caller.org, what="posts")
    with runtime.db.read() as session:
        require_view(session, caller.user, org_named(session, org).id, f"posts of {org}")
    found = listing.list_posts(runtime.db, org=org, start=first, end=last, limit=MAX_POSTS + 1)
    channels: dict[str, list[CalendarEntry]] = {}
    for post in found[:MAX_POSTS]:
        for publication in post["publications"]:
            due = dt.datetime.fromisoformat(publication["due_at"])
            if publication["state"] == "cancelled" or not first <= due < last:
                continue
            channels.setdefault(publication["channel"], []).append(
                CalendarEntry(
                    post=post["id"],
                    publication=publication["id"],
                    state=publication["state"],
                    due_at=publication["due_at"],
                    due_local=publication["due_local"],
                    published_at=publication["published_at"],
                    remote_url=publication["remote_url"],
                    author=post["author"],
                    text=post["text"][:280],
                )
            )
    for entries in channels.values():
        entries.sort(key=lambda entry: (entry.due_at, entry.publication))
    return PostCalendar(
        org=org, start=first, end=last, channels=dict(sorted(channels.items())), truncated=len(found) > MAX_POSTS
    )
