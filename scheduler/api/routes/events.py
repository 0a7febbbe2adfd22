"""The event log, oldest first, from a cursor: what the caller may see of it.

An event is shown when it is about a post the caller may see (its organisation's, submitted to or
shared with theirs) or about one of their organisations' channels; a token sees its own
organisation's. Events about neither (a new organisation, the global pause) are not shown here.
A page scans at most ``SCAN`` events: it may hold fewer than ``limit`` items, and ``next_cursor``
goes on from where the scan stopped.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from scheduler.api.auth import Caller, RuntimeDep
from scheduler.api.routes._access import visible_orgs

router = APIRouter(tags=["events"])

SCAN = 5000  # events looked at per request, whatever is shown


class EventItem(BaseModel):
    id: int
    at: str
    kind: str
    actor: str | None
    channel: str | None
    post_id: int | None
    publication_id: int | None
    from_state: str | None
    to_state: str | None
    message: str | None


class EventPage(BaseModel):
    items: list[EventItem]
    next_cursor: str | None = Field(
        description="Pass as `after` for the next page; null: nothing more was there when this page was read "
        "(poll again with the last item's id for new events)"
    )


@router.get("/events", summary="Events after a cursor, oldest first, of posts and channels the caller may see")
def list_events(
    caller: Caller,
    runtime: RuntimeDep,
    after: Annotated[str | None, Query(max_length=20, pattern=r"^[0-9]+$", description="A cursor or event id")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    post_id: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
    kind: Annotated[
        str | None, Query(max_length=100, description="One kind (publication.published), or a prefix ending in '.'")
    ] = None,
) -> EventPage:
    from sqlalchemy import select

    from scheduler import listing
    from scheduler.editorial.authorization import post_orgs
    from scheduler.store import Channel

    position = int(after) if after else 0
    items: list[EventItem] = []
    scanned = 0
    exhausted = False
    with runtime.db.read() as session:
        mine = set(visible_orgs(session, caller.user))
        channel_orgs = dict(session.execute(select(Channel.name, Channel.org_id)).all())
        post_seen: dict[int, bool] = {}

        def visible(event: Any) -> bool:
            if event.post_id is not None:
                if event.post_id not in post_seen:
                    post_seen[event.post_id] = bool(post_orgs(session, event.post_id) & mine)
                return post_seen[event.post_id]
            return event.channel is not None and channel_orgs.get(event.channel) in mine

        while len(items) < limit and scanned < SCAN:
            batch = listing.read_events(runtime.db, after=position, limit=min(500, SCAN - scanned), post_id=post_id)
            if not batch:
                exhausted = True
                break
            for event in batch:
                position, scanned = event.id, scanned + 1
                if kind is not None and not (
                    event.kind == kind or (kind.endswith(".") and event.kind.startswith(kind))
                ):
                    continue
                if visible(event):
                    items.append(EventItem(**event.as_dict()))
                    if len(items) == limit:
                        break
    return EventPage(items=items, next_cursor=None if exhausted else str(position))
