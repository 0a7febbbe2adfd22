"""The partner inbox: posts partners submitted to my organisations' channels, and shares offered
to or adopted by partners; adopt an offered share onto my channels from here."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from scheduler.web.templating import render
from scheduler.web.viewer import RuntimeDep, Seen, check_csrf

router = APIRouter()


@router.get("/partners")
async def partners_page(
    request: Request, seen: Seen, runtime: RuntimeDep, done: Annotated[str | None, Query(max_length=300)] = None
) -> HTMLResponse:
    from scheduler import posts
    from scheduler.editorial.inbox import partner_inbox

    inbox = await run_in_threadpool(partner_inbox, runtime.db, [m.org_id for m in seen.organisations])
    mine = [m.org_id for m in seen.organisations]
    channels = [c.name for c in await run_in_threadpool(posts.list_channels, runtime.db) if c.org_id in mine]
    return render(
        request,
        "partners.html",
        viewer=seen,
        flash=done,
        channels=channels,
        submissions=inbox["submissions"],
        shares=inbox["shares"],
    )


@router.post("/partners/shares/{share_id}/adopt")
async def adopt(
    share_id: Annotated[int, Path(ge=1, le=2**31 - 1)],
    seen: Seen,
    runtime: RuntimeDep,
    csrf: Annotated[str, Form(max_length=200)] = "",
    channel: Annotated[list[str] | None, Form()] = None,
) -> Response:
    from urllib.parse import quote

    from scheduler import posts
    from scheduler.errors import CrosspostError

    check_csrf(seen, csrf)
    try:
        post_id = await run_in_threadpool(
            lambda: posts.adopt_share(
                runtime.db,
                runtime.settings,
                share_id,
                channels=channel or [],
                now=runtime.clock(),
                actor=seen.user,
                draft=True,
            )
        )
        message = f"Share {share_id} adopted as post {post_id} (a draft: submit it when ready)."
    except CrosspostError as refused:
        message = f"Share {share_id} not adopted: {refused}"
    return RedirectResponse(f"/partners?done={quote(message)}", status_code=303)
