"""The publication board: every publication per channel with its state, the platform's own error,
lateness; retry and cancel; and what waits for a person (``unknown``, ``needs_attention``) with
the facts to decide, resolved in place."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from scheduler.web.templating import render
from scheduler.web.viewer import RuntimeDep, Seen, Viewer, check_csrf

router = APIRouter()
PublicationId = Annotated[int, Path(ge=1, le=2**31 - 1)]
NEEDS_A_PERSON = ("unknown", "needs_attention")


def _board(runtime: Any, seen: Viewer, state: str | None, post: int | None) -> dict[str, Any]:
    from scheduler import listing, posts
    from scheduler.editorial.authorization import authorize_view
    from scheduler.planning.agenda import waiting_for_a_person

    rows: list[dict[str, Any]] = []
    seen_posts: set[int] = set()
    if post is not None:
        with runtime.db.read() as session:
            authorize_view(session, seen.user, post)
        views = [posts.show_post(runtime.db, post)]
    else:
        views = []
        for org in seen.org_names:
            for view in listing.list_posts(runtime.db, org=org, state=state, limit=100):
                if view["id"] not in seen_posts:
                    seen_posts.add(view["id"])
                    views.append(view)
    for view in views:
        for publication in view["publications"]:
            if state and publication["state"] != state:
                continue
            rows.append({**publication, "post_id": view["id"], "text": view["text"], "author": view["author"]})
    rows.sort(key=lambda r: r["due_at"], reverse=True)
    if post is not None:
        waiting = [r for r in rows if r["state"] in NEEDS_A_PERSON]
    else:  # however old their post: not only those among the newest posts listed below
        waiting = publication_views(
            runtime.db, waiting_for_a_person(runtime.db, org_ids=[m.org_id for m in seen.organisations])
        )
    return {"rows": rows, "waiting": waiting}


def publication_views(db: Any, ids: list[int]) -> list[dict[str, Any]]:
    """The board's rows for these publications, in this order, in one query."""
    from sqlalchemy import select
    from sqlalchemy.orm import selectinload

    from scheduler.posts import publication_view
    from scheduler.store import Publication

    with db.read() as session:
        rows = session.scalars(
            select(Publication)
            .where(Publication.id.in_(ids))
            .options(selectinload(Publication.channel), selectinload(Publication.post))
        ).all()
        found = {
            row.id: {**publication_view(row), "post_id": row.post_id, "text": row.post.text, "author": row.post.author}
            for row in rows
        }
    return [found[i] for i in ids if i in found]


@router.get("/board")
async def board_page(
    request: Request,
    seen: Seen,
    runtime: RuntimeDep,
    state: Annotated[str | None, Query(max_length=40)] = None,
    post: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
    done: Annotated[str | None, Query(max_length=300)] = None,
) -> HTMLResponse:
    from scheduler.errors import CrosspostError

    try:
        data = await run_in_threadpool(_board, runtime, seen, state or None, post)
        error = None
    except CrosspostError as refused:
        data, error = {"rows": [], "waiting": []}, str(refused)
    return render(request, "board.html", viewer=seen, state=state, post=post, flash=done, error=error, **data)


@router.post("/board/{publication_id}/{action}")
async def act(
    publication_id: PublicationId,
    action: Annotated[str, Path(pattern="^(retry|cancel|resolve)$")],
    seen: Seen,
    runtime: RuntimeDep,
    csrf: Annotated[str, Form(max_length=200)] = "",
    outcome: Annotated[str, Form(max_length=20)] = "",
    reason: Annotated[str, Form(max_length=2000)] = "",
    remote_url: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    from scheduler import posts
    from scheduler.editorial.authorization import authorize_view
    from scheduler.errors import CrosspostError, NotFound
    from scheduler.publishing.publications import resolve_by_hand
    from scheduler.store import Publication

    check_csrf(seen, csrf)
    now = runtime.clock()

    def run() -> str:
        with runtime.db.read() as session:
            row = session.get(Publication, publication_id)
            if row is None:
                raise NotFound(f"no publication {publication_id}")
            authorize_view(session, seen.user, row.post_id)
            post_id, channel = row.post_id, row.channel.name
        if action == "retry":
            posts.retry_post(runtime.db, post_id, channel=channel, actor=seen.user, now=now)
            return f"{channel}: sent again"
        if action == "cancel":
            posts.cancel_post(runtime.db, post_id, channel=channel, actor=seen.user, now=now)
            return f"{channel}: cancelled"
        resolve_by_hand(
            runtime.db,
            publication_id,
            outcome=outcome,
            reason=reason,
            remote_url=remote_url or None,
            actor=seen.user,
            now=now,
        )
        return f"{channel}: recorded as {outcome.replace('_', ' ')}"

    try:
        message = await run_in_threadpool(run)
    except CrosspostError as refused:
        message = f"Publication {publication_id} not changed: {refused}"
    from urllib.parse import quote

    return RedirectResponse(f"/board?done={quote(message)}", status_code=303)
