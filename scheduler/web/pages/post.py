"""One post: its text, review state and, per channel, exactly what that channel will get (the
dry-run outbox's files: text as counted, the thread split, each rendition); submit it from here."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi import Path as PathParam
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from scheduler.web.templating import render
from scheduler.web.viewer import RuntimeDep, Seen, Viewer, check_csrf

router = APIRouter()
PostId = Annotated[int, PathParam(ge=1, le=2**31 - 1)]
SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,200}$")


def _folder(runtime: Any, post_id: int) -> Path:
    return Path(runtime.settings.data_dir) / "preview" / "web" / f"post-{post_id}"


def _post_and_previews(runtime: Any, user: str, post_id: int) -> tuple[dict[str, Any], list[Any], dict[str, Any]]:
    from scheduler import posts
    from scheduler.editorial.authorization import authorize_view
    from scheduler.editorial.overview import review_view
    from scheduler.publishing import media_prep
    from scheduler.publishing.preview import write_preview

    with runtime.db.read() as session:
        authorize_view(session, user, post_id)
    view = posts.show_post(runtime.db, post_id)
    previews = write_preview(
        runtime.db,
        post_id,
        runtime.settings,
        runtime.adapters,
        _folder(runtime, post_id),
        renditions=lambda publication_id: media_prep.preview_renditions(
            runtime.db, publication_id, settings=runtime.settings, clock=runtime.clock
        ),
    )
    return view, previews, review_view(runtime.db, post_id, now=runtime.clock())


async def _page(
    request: Request, seen: Viewer, runtime: Any, post_id: int, *, status_code: int = 200, error: str | None = None
) -> HTMLResponse:
    view, previews, review = await run_in_threadpool(_post_and_previews, runtime, seen.user, post_id)
    images = {
        preview.channel: [name for name in preview.media if name.lower().endswith((".jpg", ".jpeg", ".png", ".webp"))]
        for preview in previews
    }
    return render(
        request,
        "post.html",
        status_code=status_code,
        viewer=seen,
        post=view,
        previews=previews,
        images=images,
        review=review,
        error=error,
    )


async def _act(
    request: Request, seen: Viewer, runtime: Any, post_id: int, action: Callable[[], object], done: str
) -> Response:
    """Run ``action``; back to the post page, or the page again with the refusal shown in place."""
    from scheduler.errors import CrosspostError

    try:
        await run_in_threadpool(action)
    except CrosspostError as refused:
        return await _page(request, seen, runtime, post_id, status_code=422, error=str(refused))
    return RedirectResponse(done, status_code=303)


@router.get("/posts/{post_id}")
async def post_page(request: Request, post_id: PostId, seen: Seen, runtime: RuntimeDep) -> HTMLResponse:
    return await _page(request, seen, runtime, post_id)


@router.get("/posts/{post_id}/preview/{channel}/{name}")
async def preview_file(
    post_id: PostId,
    channel: Annotated[str, PathParam(max_length=100)],
    name: Annotated[str, PathParam(max_length=200)],
    seen: Seen,
    runtime: RuntimeDep,
) -> Response:
    from scheduler.editorial.authorization import authorize_view

    def allowed() -> None:
        with runtime.db.read() as session:
            authorize_view(session, seen.user, post_id)

    await run_in_threadpool(allowed)
    if not SAFE_NAME.match(channel) or not SAFE_NAME.match(name):  # no way out of the preview folder
        return Response(status_code=404)
    path = _folder(runtime, post_id) / channel / name
    if not path.is_file():
        return Response(status_code=404)
    return FileResponse(path)


@router.post("/posts/{post_id}/submit")
async def submit(
    request: Request, post_id: PostId, seen: Seen, runtime: RuntimeDep, csrf: Annotated[str, Form(max_length=200)] = ""
) -> Response:
    from scheduler.editorial import signoff

    check_csrf(seen, csrf)
    return await _act(
        request,
        seen,
        runtime,
        post_id,
        lambda: signoff.submit(runtime.db, post_id, now=runtime.clock(), actor=seen.user),
        f"/posts/{post_id}?submitted=1",
    )


@router.post("/posts/{post_id}/edit")
async def edit(
    request: Request,
    post_id: PostId,
    seen: Seen,
    runtime: RuntimeDep,
    csrf: Annotated[str, Form(max_length=200)] = "",
    text: Annotated[str, Form(max_length=100_000)] = "",
) -> Response:
    """Change the text; a signed post goes back for sign-off unless the policy counts it trivial,
    and the approver sees what changed."""
    from scheduler import posts

    check_csrf(seen, csrf)
    return await _act(
        request,
        seen,
        runtime,
        post_id,
        lambda: posts.edit_post(runtime.db, runtime.settings, post_id, now=runtime.clock(), text=text, actor=seen.user),
        f"/posts/{post_id}",
    )


@router.post("/posts/{post_id}/variants")
async def add_variant(
    request: Request,
    post_id: PostId,
    seen: Seen,
    runtime: RuntimeDep,
    csrf: Annotated[str, Form(max_length=200)] = "",
    text: Annotated[str, Form(max_length=100_000)] = "",
    language: Annotated[str, Form(max_length=100)] = "",
    channel: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    """The text in another language (for channels of that language) or for one channel only."""
    from scheduler import posts

    check_csrf(seen, csrf)
    return await _act(
        request,
        seen,
        runtime,
        post_id,
        lambda: posts.add_variant(
            runtime.db,
            runtime.settings,
            post_id,
            text=text,
            language=language.strip() or None,
            channel=channel.strip() or None,
            now=runtime.clock(),
            actor=seen.user,
        ),
        f"/posts/{post_id}",
    )
