"""The approval queue: what waits for me under the policy, what changed since the version before,
comments and deadlines; sign off, request changes or comment in place."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Path, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from scheduler.web.templating import render
from scheduler.web.viewer import RuntimeDep, Seen, check_csrf

router = APIRouter()
PostId = Annotated[int, Path(ge=1, le=2**31 - 1)]
ACTIONS = ("approve", "request-changes", "comment")


def _queue(runtime: Any, user: str) -> list[dict[str, Any]]:
    from scheduler.editorial.inbox import changes, waiting_for
    from scheduler.editorial.overview import review_view

    items = waiting_for(runtime.db, user, now=runtime.clock())
    for item in items:
        item["changes"] = changes(runtime.db, item["post_id"])
        item["comments"] = review_view(runtime.db, item["post_id"], now=runtime.clock())["comments"]
    return items


@router.get("/approvals")
async def approvals_page(request: Request, seen: Seen, runtime: RuntimeDep, done: str | None = None) -> HTMLResponse:
    items = await run_in_threadpool(_queue, runtime, seen.user)
    return render(request, "approvals.html", viewer=seen, items=items, flash=done, error=None)


@router.post("/approvals/{post_id}/{action}")
async def act(
    request: Request,
    post_id: PostId,
    action: Annotated[str, Path(pattern="^(approve|request-changes|comment)$")],
    seen: Seen,
    runtime: RuntimeDep,
    csrf: Annotated[str, Form(max_length=200)] = "",
    text: Annotated[str, Form(max_length=10_000)] = "",
) -> Response:
    from scheduler.editorial import signoff
    from scheduler.errors import CrosspostError

    check_csrf(seen, csrf)
    now = runtime.clock()

    def run() -> str:
        if action == "approve":
            signoff.approve(runtime.db, post_id, actor=seen.user, now=now, note=text.strip() or None)
            return f"Post {post_id} signed off."
        if action == "request-changes":
            signoff.request_changes(runtime.db, post_id, actor=seen.user, text=text, now=now)
            return f"Changes requested on post {post_id}."
        signoff.comment(runtime.db, post_id, actor=seen.user, text=text, now=now)
        return f"Comment added to post {post_id}."

    try:
        message = await run_in_threadpool(run)
    except CrosspostError as refused:
        items = await run_in_threadpool(_queue, runtime, seen.user)
        return render(
            request,
            "approvals.html",
            status_code=422,
            viewer=seen,
            items=items,
            flash=None,
            error=f"Post {post_id}: {refused}",
        )
    return RedirectResponse(f"/approvals?done={message}", status_code=303)
