"""Channels: status, sign-in expiry warnings, dry run, posting schedule, blackouts; connect and
reconnect through the platform's sign-in page (OAuth in the browser); pause and resume."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from scheduler.web.templating import render
from scheduler.web.viewer import RuntimeDep, Seen, Viewer, check_csrf

router = APIRouter()
WARN_BEFORE = dt.timedelta(days=7)  # a sign-in that ends within this is shown as a warning


def _channels(runtime: Any, seen: Viewer) -> dict[str, Any]:
    from scheduler import posts
    from scheduler.credentials import decrypt_credentials, sign_in_times
    from scheduler.planning import timetable

    now = runtime.clock()
    mine = {m.org_id: m for m in seen.organisations}
    rows = []
    with runtime.db.read() as session:
        paused = timetable.is_paused(session)
        for channel in posts.list_channels(runtime.db):
            if channel.org_id not in mine:
                continue
            credentials = decrypt_credentials(channel.credentials, runtime.settings, channel.name) or {}
            # when signing in again becomes necessary: the refresh token's end, else the access token's
            ends_at = sign_in_times(credentials).sign_in_ends_at
            schedule = timetable.schedule_of(session, channel.id)
            rows.append(
                {
                    "name": channel.name,
                    "platform": channel.platform,
                    "org": mine[channel.org_id].org,
                    "admin": mine[channel.org_id].role == "admin",
                    "timezone": channel.timezone,
                    "language": channel.language,
                    "dry_run": channel.dry_run,
                    "status": channel.status,
                    "sign_in_ends_at": ends_at,
                    "warn": channel.status != "active" or (ends_at is not None and ends_at - now < WARN_BEFORE),
                    "schedule": schedule.describe() if schedule else None,
                    "blackouts": [
                        f"{w.name}: {w.starts_at:%d %b %H:%M} to {w.ends_at:%d %b %H:%M} UTC"
                        for w in timetable.blackouts_for(session, channel.id, after=now)
                    ],
                }
            )
    host_admin = any(m.role == "admin" and m.kind == "host" for m in seen.organisations)
    return {"channels": rows, "paused": paused, "host_admin": host_admin}


@router.get("/channels")
async def channels_page(
    request: Request, seen: Seen, runtime: RuntimeDep, done: Annotated[str | None, Query(max_length=300)] = None
) -> HTMLResponse:
    data = await run_in_threadpool(_channels, runtime, seen)
    return render(request, "channels.html", viewer=seen, flash=done, **data)


@router.post("/channels/{action}")
async def pause_or_resume(
    action: str,
    seen: Seen,
    runtime: RuntimeDep,
    csrf: Annotated[str, Form(max_length=200)] = "",
    reason: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    from urllib.parse import quote

    from scheduler.errors import CrosspostError
    from scheduler.planning import timetable

    check_csrf(seen, csrf)
    if action not in ("pause", "resume"):
        return Response(status_code=404)

    def run() -> str:
        if action == "pause":
            timetable.pause(runtime.db, now=runtime.clock(), reason=reason or None, actor=seen.user)
            return "Publishing is paused everywhere."
        moved = timetable.resume(runtime.db, now=runtime.clock(), actor=seen.user)
        return f"Publishing resumed ({sum(moved.values())} publications released)."

    try:
        message = await run_in_threadpool(run)
    except CrosspostError as refused:
        message = f"Not done: {refused}"
    return RedirectResponse(f"/channels?done={quote(message)}", status_code=303)


@router.post("/channels/new/add")
async def add_channel(
    seen: Seen,
    runtime: RuntimeDep,
    csrf: Annotated[str, Form(max_length=200)] = "",
    name: Annotated[str, Form(max_length=100)] = "",
    platform: Annotated[str, Form(max_length=20)] = "",
    org: Annotated[str, Form(max_length=100)] = "",
    timezone: Annotated[str, Form(max_length=64)] = "UTC",
    language: Annotated[str, Form(max_length=50)] = "",
    dry_run: Annotated[str, Form(max_length=5)] = "",
) -> Response:
    """A new channel of one of my organisations (admins); sign it in on its platform afterwards."""
    from scheduler import posts
    from scheduler.errors import CrosspostError

    check_csrf(seen, csrf)
    try:
        await run_in_threadpool(
            lambda: posts.add_channel(
                runtime.db,
                runtime.settings,
                name=name.strip(),
                platform=platform,
                timezone=timezone.strip() or "UTC",
                language=language.strip() or None,
                dry_run=bool(dry_run),
                org=org,
                now=runtime.clock(),
                actor=seen.user,
            )
        )
        message = f"Channel {name} added" + ("" if dry_run else f": sign it in on {platform} below")
    except CrosspostError as refused:
        message = f"Channel {name} not added: {refused}"
    return _back(message)


@router.post("/channels/{channel}/schedule")
async def set_schedule(
    channel: str,
    seen: Seen,
    runtime: RuntimeDep,
    csrf: Annotated[str, Form(max_length=200)] = "",
    slots: Annotated[str, Form(max_length=2000)] = "",
    max_per_day: Annotated[str, Form(max_length=6)] = "",
    min_spacing: Annotated[str, Form(max_length=20)] = "",
) -> Response:
    """The channel's posting schedule: days and wall times (one line each), a daily limit, spacing."""
    from scheduler.errors import CrosspostError
    from scheduler.planning import timetable

    check_csrf(seen, csrf)
    lines = [line.strip() for line in slots.splitlines() if line.strip()]
    try:
        limit = int(max_per_day) if max_per_day.strip() else None
        await run_in_threadpool(
            lambda: timetable.set_schedule(
                runtime.db,
                channel=channel,
                slots=lines,
                max_per_day=limit,
                min_spacing=min_spacing.strip() or None,
                now=runtime.clock(),
                actor=seen.user,
            )
        )
        message = f"{channel}: posting schedule saved"
    except ValueError:
        message = f"{channel}: the daily limit must be a whole number"
    except CrosspostError as refused:
        message = f"{channel}: schedule not saved: {refused}"
    return _back(message)


@router.post("/channels/{channel}/blackout")
async def add_blackout(
    channel: str,
    seen: Seen,
    runtime: RuntimeDep,
    csrf: Annotated[str, Form(max_length=200)] = "",
    name: Annotated[str, Form(max_length=100)] = "",
    start: Annotated[str, Form(max_length=40)] = "",
    end: Annotated[str, Form(max_length=40)] = "",
    tz: Annotated[str, Form(max_length=64)] = "",
) -> Response:
    """Nothing goes out on the channel in [start, end); what was due inside moves to after it."""
    from scheduler.errors import CrosspostError
    from scheduler.planning import timetable

    check_csrf(seen, csrf)
    try:
        _, moved = await run_in_threadpool(
            lambda: timetable.add_blackout(
                runtime.db,
                name=name.strip() or "blackout",
                start=start.replace("T", " "),
                end=end.replace("T", " "),
                tz=tz.strip() or None,
                channel=channel,
                now=runtime.clock(),
                actor=seen.user,
            )
        )
        message = f"{channel}: blackout added ({sum(moved.values())} publications moved after it)"
    except CrosspostError as refused:
        message = f"{channel}: blackout not added: {refused}"
    return _back(message)


def _back(message: str) -> Response:
    from urllib.parse import quote

    return RedirectResponse(f"/channels?done={quote(message)}", status_code=303)
