"""The calendar: posts per channel by month, week or as a list, with awareness days as a layer;
drag a post to another day to reschedule it (refusals shown in place)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse
from starlette.concurrency import run_in_threadpool

from scheduler.web.templating import render
from scheduler.web.viewer import RuntimeDep, Seen, Viewer, check_csrf

router = APIRouter()
VIEWS = ("month", "week", "list")


def _range(view: str, start: dt.date) -> tuple[dt.date, dt.date, dt.date]:
    """(first shown day, day after the last, the anchor for the previous/next links)."""
    if view == "month":
        first = start.replace(day=1)
        grid_start = first - dt.timedelta(days=first.weekday())
        following = (first + dt.timedelta(days=32)).replace(day=1)
        grid_end = following + dt.timedelta(days=(7 - following.weekday()) % 7)
        return grid_start, grid_end, first
    if view == "week":
        monday = start - dt.timedelta(days=start.weekday())
        return monday, monday + dt.timedelta(days=7), monday
    return start, start + dt.timedelta(days=28), start


def _step(view: str, anchor: dt.date, direction: int) -> dt.date:
    if view == "month":
        moved = anchor + dt.timedelta(days=32 * direction) if direction > 0 else anchor - dt.timedelta(days=1)
        return moved.replace(day=1)
    return anchor + dt.timedelta(days=(7 if view == "week" else 28) * direction)


def _calendar(runtime: Any, seen: Viewer, view: str, start: dt.date, zone: str) -> dict[str, Any]:
    from scheduler.calendar.campaigns import calendar_between, list_campaigns
    from scheduler.planning.agenda import publications_between
    from scheduler.when import get_zone

    first, last, anchor = _range(view, start)
    viewer_zone = get_zone(zone)
    window_start = dt.datetime.combine(first, dt.time(), viewer_zone)
    window_end = dt.datetime.combine(last, dt.time(), viewer_zone)
    entries = publications_between(
        runtime.db, window_start, window_end, org_ids=[m.org_id for m in seen.organisations], zone=zone
    )
    occurrences = calendar_between(runtime.db, first, last - dt.timedelta(days=1))
    campaigns = [c for c in list_campaigns(runtime.db) if c["active"]]
    days = []
    day = first
    while day < last:
        days.append(
            {
                "date": day,
                "in_range": view != "month" or day.month == anchor.month,
                "entries": [e for e in entries if e["due_viewer"].date() == day],
                "observances": [
                    {
                        "occurrence": o,
                        "campaigns": [c for c in campaigns if c["observance"] == o.id],
                    }
                    for o in occurrences
                    if o.start <= day <= o.end
                ],
            }
        )
        day += dt.timedelta(days=1)
    return {
        "view": view,
        "days": days,
        "first": first,
        "anchor": anchor,
        "previous": _step(view, anchor, -1),
        "next": _step(view, anchor, +1),
        "zone": zone,
        "entries": entries,
        "today": dt.datetime.now(viewer_zone).date(),
    }


def _zone_or_utc(zone: str | None) -> str:
    from scheduler.errors import InvalidInput
    from scheduler.when import get_zone

    try:
        get_zone(zone or "UTC")
    except InvalidInput:
        return "UTC"
    return zone or "UTC"


@router.get("/calendar")
def calendar_page(
    request: Request,
    seen: Seen,
    runtime: RuntimeDep,
    view: Annotated[str, Query(pattern="^(month|week|list)$")] = "month",
    start: dt.date | None = None,
    zone: Annotated[str | None, Query(max_length=64)] = None,
    layers: Annotated[list[str] | None, Query()] = None,
) -> HTMLResponse:
    shown = set(layers) if layers else {"posts", "days"}
    zone = _zone_or_utc(zone or request.cookies.get("crosspost_zone"))
    data = _calendar(runtime, seen, view, start or dt.date.today(), zone)
    return render(request, "calendar.html", viewer=seen, layers=shown, refusal=None, **data)


@router.post("/calendar/move")
async def move(
    request: Request,
    seen: Seen,
    runtime: RuntimeDep,
    publication: Annotated[int, Form(ge=1, le=2**31 - 1)],
    day: Annotated[dt.date, Form()],
    csrf: Annotated[str, Form(max_length=200)] = "",
    view: Annotated[str, Form(pattern="^(month|week|list)$")] = "month",
    start: Annotated[str, Form(max_length=20)] = "",
    time: Annotated[str, Form(max_length=5)] = "",
) -> HTMLResponse:
    """Reschedule the post of ``publication`` to ``day`` at the same local time in its channel's
    zone (or ``time``, HH:MM): the whole post moves, as `post edit --at` does."""
    from scheduler import posts
    from scheduler.errors import CrosspostError
    from scheduler.store import Publication
    from scheduler.when import get_zone

    check_csrf(seen, csrf or request.headers.get("x-csrf-token"))

    def reschedule() -> str | None:
        with runtime.db.read() as session:
            row = session.get(Publication, publication)
            if row is None:
                return f"no publication {publication}"
            zone = row.channel.timezone
            local = row.due_at.astimezone(get_zone(zone))
            post_id = row.post_id
        at = f"{day.isoformat()} {time or local.strftime('%H:%M')}"
        try:
            posts.edit_post(runtime.db, runtime.settings, post_id, now=runtime.clock(), at=at, tz=zone, actor=seen.user)
        except CrosspostError as refused:
            return f"Post {post_id} was not moved to {at} ({zone}): {refused}"
        return None

    refusal = await run_in_threadpool(reschedule)
    anchor = dt.date.fromisoformat(start) if start else day
    zone_shown = _zone_or_utc(request.cookies.get("crosspost_zone"))
    data = await run_in_threadpool(_calendar, runtime, seen, view, anchor, zone_shown)
    return render(request, "calendar_grid.html", viewer=seen, layers={"posts", "days"}, refusal=refusal, **data)
