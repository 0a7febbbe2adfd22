"""An organisation's calendar feed: its secret URL (members), and a new one (admins).

The feed itself is served at the root, ``GET /feeds/<token>.ics``, without a token: calendar apps
cannot send one, so the URL is the secret (scheduler/api/ops.py, scheduler/calendar/feed.py).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path
from pydantic import BaseModel, Field

from scheduler.api.auth import Caller, RuntimeDep

router = APIRouter(tags=["feeds"])

OrgName = Annotated[str, Path(max_length=100, description="The organisation's name, e.g. collab")]


class Feed(BaseModel):
    organisation: str
    url: str = Field(description="Subscribe to it in a calendar app; whoever has it can read the calendar")


@router.get("/organisations/{org}/feed", summary="The organisation's calendar feed URL (made on first use)")
def get_feed(org: OrgName, caller: Caller, runtime: RuntimeDep) -> Feed:
    from scheduler.calendar.feed import feed_url

    url = feed_url(runtime.db, org, actor=caller.user, base_url=runtime.settings.web_base_url, now=runtime.clock())
    return Feed(organisation=org, url=url)


@router.post(
    "/organisations/{org}/feed/rotate", summary="Give the calendar feed a new URL; the old one stops working (admins)"
)
def rotate_feed(org: OrgName, caller: Caller, runtime: RuntimeDep) -> Feed:
    from scheduler.calendar.feed import feed_url

    url = feed_url(
        runtime.db, org, actor=caller.user, base_url=runtime.settings.web_base_url, now=runtime.clock(), rotate=True
    )
    return Feed(organisation=org, url=url)
