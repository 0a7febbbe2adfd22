"""The composer: one text, per-channel tabs with each platform's count and the X thread as it will
be posted, language variants, media with upload progress and a focal point, importance and
format, and a time, the queue, or an awareness day."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from scheduler.web.templating import render
from scheduler.web.viewer import RuntimeDep, Seen, Viewer, check_csrf

router = APIRouter()


def _channels(runtime: Any, seen: Viewer) -> list[dict[str, Any]]:
    """The channels the viewer may post on or submit to: their organisations' and the hosts'."""
    from sqlalchemy import select

    from scheduler.store import Channel, Organisation

    mine = {m.org_id for m in seen.organisations}
    with runtime.db.read() as session:
        rows = session.execute(
            select(Channel, Organisation.name, Organisation.kind)
            .outerjoin(Organisation, Organisation.id == Channel.org_id)
            .order_by(Channel.name)
        ).all()
    return [
        {
            "name": channel.name,
            "platform": channel.platform,
            "org": org or "",
            "own": channel.org_id in mine,
            "timezone": channel.timezone,
            "language": channel.language,
            "dry_run": channel.dry_run,
        }
        for channel, org, kind in rows
        if channel.org_id in mine or kind == "host"
    ]


def _policy_choices(runtime: Any, seen: Viewer) -> tuple[list[str], list[str]]:
    from scheduler.editorial.people import org_named
    from scheduler.editorial.signoff import policy_of

    importances: list[str] = []
    formats: list[str] = []
    with runtime.db.read() as session:
        for membership in seen.organisations:
            policy = policy_of(org_named(session, membership.org))
            importances += [i for i in policy.importances if i not in importances]
            formats += [f for f in policy.formats if f not in formats]
    return importances or ["routine"], formats


@router.get("/compose")
def compose_page(
    request: Request,
    seen: Seen,
    runtime: RuntimeDep,
    day: dt.date | None = None,
    observance: Annotated[str | None, Query(max_length=100)] = None,
) -> HTMLResponse:
    from scheduler.calendar.visibility import visible_occurrences

    occurrence = None
    text = ""
    if day is not None and observance:
        mine = [m.org_id for m in seen.organisations]
        occurrence = next((o for o in visible_occurrences(runtime.db, mine, day, day) if o.id == observance), None)
        if occurrence is not None:
            text = f"{occurrence.observance.name}\n\n{' '.join(occurrence.hashtags)}".strip()
    importances, formats = _policy_choices(runtime, seen)
    return render(
        request,
        "compose.html",
        viewer=seen,
        channels=_channels(runtime, seen),
        importances=importances,
        formats=formats,
        day=day,
        occurrence=occurrence,
        text=text,
        error=None,
        form={},
    )


@router.post("/compose/check")
async def check_text(
    request: Request,
    seen: Seen,
    runtime: RuntimeDep,
    text: Annotated[str, Form(max_length=100_000)] = "",
    link: Annotated[str, Form(max_length=2000)] = "",
    channel: Annotated[list[str] | None, Form()] = None,
) -> HTMLResponse:
    """Counters per chosen channel, as each platform counts, and the X thread as it will be posted."""
    from media.specs import SPECS
    from media.text import split_thread
    from scheduler.publishing.content import Content
    from scheduler.publishing.preview import summarise

    known = {c["name"]: c["platform"] for c in _channels(runtime, seen)}
    chosen = [(name, known[name]) for name in channel or [] if name in known]
    content = Content(text=text, link=link or None)
    summaries = summarise(content, chosen)
    threads: dict[str, list[str]] = {}
    for summary in summaries:
        spec = SPECS[summary.platform].text
        if summary.parts > 1:
            try:
                threads[summary.channel] = split_thread(content.full_text, spec)
            except ValueError as problem:
                threads[summary.channel] = [f"cannot split: {problem}"]
    return render(request, "compose_counters.html", viewer=seen, summaries=summaries, threads=threads)


def _one_line(refused: Exception) -> str:
    """The refusal for a person: a media reference's validation as "field: problem", not pydantic's report."""
    if isinstance(refused, ValidationError):
        return "; ".join(f"media {'.'.join(map(str, e['loc']))}: {e['msg']}" for e in refused.errors())
    return str(refused)


@router.post("/compose")
async def compose(request: Request, seen: Seen, runtime: RuntimeDep) -> Response:
    """Create the post as a draft (then the previews), or scheduled / queued / for an awareness day."""
    from scheduler import posts
    from scheduler.api.media_refs import MediaRef, media_inputs
    from scheduler.errors import CrosspostError

    form = await request.form()
    check_csrf(seen, str(form.get("csrf", "")))
    values = {key: str(value) for key, value in form.items() if isinstance(value, str)}
    channels = [str(v) for v in form.getlist("channel")]
    media_ids = [str(v) for v in form.getlist("media_id")]
    alts = [str(v) for v in form.getlist("media_alt")]
    # the focal point picker's (x, y) per file, in the same order; empty until a person picks one
    focus_x, focus_y = ([str(v) for v in form.getlist(name)] for name in ("media_focus_x", "media_focus_y"))
    when = values.get("when", "draft")
    at = None
    if when in ("at", "draft") and values.get("at_date"):  # a draft keeps the time it was given
        at = f"{values['at_date']} {values.get('at_time') or '09:00'}"

    def create() -> int:
        refs = [
            MediaRef.model_validate(
                {
                    "id": media_id,
                    "alt_text": alts[i] if i < len(alts) and alts[i] else None,
                    "focus": (focus_x[i], focus_y[i]) if i < min(len(focus_x), len(focus_y)) and focus_x[i] else None,
                }
            )
            for i, media_id in enumerate(media_ids)
        ]
        with media_inputs(runtime, refs) as files:
            return posts.create_post(
                runtime.db,
                runtime.settings,
                text=values.get("text", ""),
                channels=channels,
                at=at,
                tz=values.get("tz") or None,
                queue=when == "queue",
                title=values.get("title") or None,
                link=values.get("link") or None,
                language=values.get("language") or None,
                media=files,
                actor=seen.user,
                org=values.get("org") or None,
                submit_to=values.get("submit_to") or None,
                importance=values.get("importance") or "routine",
                format=values.get("format") or None,
                draft=when == "draft",
                now=runtime.clock(),
            )

    try:
        post_id = await run_in_threadpool(create)
    except (CrosspostError, ValueError) as refused:
        importances, formats = _policy_choices(runtime, seen)
        return render(
            request,
            "compose.html",
            status_code=422,
            viewer=seen,
            channels=_channels(runtime, seen),
            importances=importances,
            formats=formats,
            day=None,
            occurrence=None,
            text=values.get("text", ""),
            error=_one_line(refused),
            form={**values, "channels": channels},
        )
    return RedirectResponse(f"/posts/{post_id}", status_code=303)
