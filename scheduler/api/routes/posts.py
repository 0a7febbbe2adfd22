"""Posts: create, read, list (filters, cursor), and the editorial actions on them."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from scheduler.api.auth import Caller, RuntimeDep
from scheduler.api.media_refs import MediaRef, media_inputs
from scheduler.api.problems import ApiProblem

router = APIRouter(tags=["posts"])


class NewPost(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str = Field("", max_length=100_000, description="The post's text (each channel's limit is checked)")
    channels: list[str] = Field(min_length=1, max_length=50, description="Channel names")
    at: str | None = Field(None, max_length=100, description="'YYYY-MM-DD HH:MM' with tz, or an ISO instant")
    tz: str | None = Field(None, max_length=100, description="IANA time zone of `at`, e.g. Europe/Zurich")
    now: bool = Field(False, description="Publish as soon as it is signed off")
    queue: bool = Field(False, description="Take each channel's next free queue slot")
    media: list[MediaRef] = Field(default_factory=list, max_length=20, description="Uploaded media (POST /media)")
    title: str | None = Field(None, max_length=500)
    link: str | None = Field(None, max_length=2000)
    language: str | None = Field(None, max_length=100, description="BCP 47 tag, default en")
    any_language: bool = False
    org: str | None = Field(None, max_length=100, description="The organisation the post belongs to")
    submit_to: str | None = Field(None, max_length=100, description="Submit to this organisation's review queue")
    importance: str = Field("routine", max_length=100)
    format: str | None = Field(None, max_length=100)
    priority: str = Field("normal", max_length=20)
    draft: bool = Field(False, description="Save without submitting it for sign-off")


class PostPage(BaseModel):
    items: list[dict[str, Any]]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last page")


def _view(runtime: Any, post_id: int, user: str) -> dict[str, Any]:
    from scheduler import posts
    from scheduler.editorial.authorization import authorize_view

    with runtime.db.read() as session:
        authorize_view(session, user, post_id)
    return posts.show_post(runtime.db, post_id)


@router.post("/posts", status_code=201, summary="Create a post on one or more channels")
def create_post(body: NewPost, caller: Caller, runtime: RuntimeDep, response: Response) -> dict[str, Any]:
    from scheduler import posts

    org = body.org or caller.org
    with media_inputs(runtime, body.media) as files:
        post_id = posts.create_post(
            runtime.db,
            runtime.settings,
            text=body.text,
            channels=body.channels,
            at=body.at,
            tz=body.tz,
            immediately=body.now,
            queue=body.queue,
            title=body.title,
            link=body.link,
            language=body.language,
            media=files,
            actor=caller.user,
            org=org,
            submit_to=body.submit_to,
            importance=body.importance,
            format=body.format,
            priority=body.priority,
            draft=body.draft,
            any_language=body.any_language,
            now=runtime.clock(),
        )
    response.headers["Location"] = f"/api/v1/posts/{post_id}"
    return _view(runtime, post_id, caller.user)


@router.get("/posts/{post_id}", summary="One post, its publications and review state")
def get_post(post_id: Annotated[int, Field(ge=1, le=2**31 - 1)], caller: Caller, runtime: RuntimeDep) -> dict[str, Any]:
    return _view(runtime, post_id, caller.user)


@router.get("/posts", summary="Posts, newest first, with filters and a cursor")
def list_posts(
    caller: Caller,
    runtime: RuntimeDep,
    state: Annotated[str | None, Query(max_length=40)] = None,
    channel: Annotated[str | None, Query(max_length=100)] = None,
    org: Annotated[str | None, Query(max_length=100, description="Default: the token's organisation")] = None,
    start: Annotated[datetime | None, Query(description="Due at or after (ISO instant)")] = None,
    end: Annotated[datetime | None, Query(description="Due before (ISO instant)")] = None,
    text: Annotated[str | None, Query(max_length=500)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=20, pattern=r"^[0-9]+$")] = None,
) -> PostPage:
    from scheduler import listing
    from scheduler.editorial.authorization import Action, authorize
    from scheduler.editorial.people import org_named

    org = org or caller.org
    if org is None:
        raise ApiProblem(422, "say which organisation's posts to list", field="org")
    for moment, name in ((start, "start"), (end, "end")):
        if moment is not None and moment.tzinfo is None:
            raise ApiProblem(422, f"{name} needs a UTC offset, e.g. 2027-03-08T09:00:00+01:00", field=name)

    def page() -> PostPage:
        with runtime.db.read() as session:
            authorize(session, caller.user, Action.VIEW, [org_named(session, org).id], subject=f"posts of {org}")
        items = listing.list_posts(
            runtime.db,
            state=state,
            channel=channel,
            org=org,
            start=start,
            end=end,
            text=text,
            limit=limit + 1,
            before=int(cursor) if cursor else None,
        )
        more = len(items) > limit
        items = items[:limit]
        return PostPage(items=items, next_cursor=str(items[-1]["id"]) if more and items else None)

    return page()
