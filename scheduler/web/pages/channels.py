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
    from scheduler.credentials import decrypt_credentials
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
            refreshable = "refresh_token" in credentials
            ends_at = _instant(credentials.get("refresh_expires_at") if refreshable else credentials.get("expires_at"))
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


def _instant(epoch: Any) -> dt.datetime | None:
    try:
        return None if epoch is None else dt.datetime.fromtimestamp(float(epoch), dt.UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        return None


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
