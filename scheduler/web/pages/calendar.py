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


def _bounded(day: dt.date) -> dt.date:
    """Within the years the calendar covers: a month or week grid around it stays representable."""
    from scheduler.when import FIRST_YEAR, LAST_YEAR

    return min(max(day, dt.date(FIRST_YEAR, 1, 1)), dt.date(LAST_YEAR, 12, 1))


def _range(view: str, start: dt.date) -> tuple[dt.date, dt.date, dt.date]:
    """(first shown day, day after the last, the anchor for the previous/next links)."""
    start = _bounded(start)
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
    anchor = _bounded(anchor)
    if view == "month":
        moved = anchor + dt.timedelta(days=32 * direction) if direction > 0 else anchor - dt.timedelta(days=1)
        return moved.replace(day=1)
    return anchor + dt.timedelta(days=(7 if view == "week" else 28) * direction)


def _calendar(runtime: Any, seen: Viewer, view: str, start: dt.date, zone: str) -> dict[str, Any]:
    from scheduler.calendar.visibility import visible_campaigns, visible_occurrences
    from scheduler.planning.agenda import publications_between
    from scheduler.when import get_zone

    first, last, anchor = _range(view, start)
    viewer_zone = get_zone(zone)
    window_start = dt.datetime.combine(first, dt.time(), viewer_zone)
    window_end = dt.datetime.combine(last, dt.time(), viewer_zone)
    entries = publications_between(
        runtime.db, window_start, window_end, org_ids=[m.org_id for m in seen.organisations], zone=zone
    )
    mine = [m.org_id for m in seen.organisations]
    occurrences = visible_occurrences(runtime.db, mine, first, last - dt.timedelta(days=1))
    host_admin = any(m.role == "admin" and m.kind == "host" for m in seen.organisations)
    campaigns = [c for c in visible_campaigns(runtime.db, mine, instance_wide=host_admin) if c["active"]]
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
        "today": runtime.clock().astimezone(viewer_zone).date(),
    }


def _today(runtime: Any, zone: str) -> dt.date:
    from scheduler.when import get_zone

    now: dt.datetime = runtime.clock()
    return now.astimezone(get_zone(zone)).date()


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
    given = zone
    zone = _zone_or_utc(zone or request.cookies.get("crosspost_zone"))
    data = _calendar(runtime, seen, view, start or _today(runtime, zone), zone)
    page = render(request, "calendar.html", viewer=seen, layers=shown, refusal=None, **data)
    if given and given == zone:  # the zone a person chose is remembered for their next visit
        page.set_cookie("crosspost_zone", zone, max_age=365 * 24 * 3600, samesite="lax", httponly=True)
    return page


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
    zone: Annotated[str, Form(max_length=64)] = "",
) -> HTMLResponse:
    """Reschedule the post of ``publication`` to ``day`` at the same local time in its channel's
    zone (or ``time``, HH:MM): the whole post moves, as `post edit --at` does."""
    from scheduler import posts
    from scheduler.editorial.authorization import authorize_view
    from scheduler.errors import CrosspostError
    from scheduler.store import Publication
    from scheduler.when import get_zone

    check_csrf(seen, csrf or request.headers.get("x-csrf-token"))

    zone_shown = _zone_or_utc(zone or request.cookies.get("crosspost_zone"))

    def reschedule() -> str | None:
        with runtime.db.read() as session:
            row = session.get(Publication, publication)
            if row is None:
                return f"no publication {publication}"
            authorize_view(session, seen.user, row.post_id)  # before anything about it is shown
            post_id = row.post_id
            # a dropped post keeps its time of day as the viewer saw it, in the viewer's zone: the
            # grid's days are the viewer's days
            local = row.due_at.astimezone(get_zone(zone_shown))
        at = f"{day.isoformat()} {time or local.strftime('%H:%M')}"
        try:
            posts.edit_post(
                runtime.db, runtime.settings, post_id, now=runtime.clock(), at=at, tz=zone_shown, actor=seen.user
            )
        except CrosspostError as refused:
            return f"Post {post_id} was not moved to {at} ({zone_shown}): {refused}"
        return None

    refusal = await run_in_threadpool(reschedule)
    try:
        anchor = dt.date.fromisoformat(start) if start else day
    except ValueError:
        anchor = day
    data = await run_in_threadpool(_calendar, runtime, seen, view, anchor, zone_shown)
    return render(request, "calendar_grid.html", viewer=seen, layers={"posts", "days"}, refusal=refusal, **data)
