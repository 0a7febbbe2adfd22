"""Posts: create, read, list (filters, cursor), edit, and the editorial actions on them: submit,
approve, request changes, comment, review, share and adopt, language variants, preview, cancel and
retry. Each endpoint is a shell over the service the CLI's ``post`` commands call, with
``actor=caller.user``; the services authorize, reads here check ``authorize_view`` first."""

from __future__ import annotations

import threading
from datetime import datetime
from pathlib import Path as FilePath
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Response
from fastapi.responses import FileResponse
from pydantic import BaseModel, ConfigDict, Field

from scheduler.api.auth import Caller, RuntimeDep
from scheduler.api.media_refs import MediaRef, media_inputs
from scheduler.api.paths import PostId, ShareId
from scheduler.api.problems import ApiProblem
from scheduler.runtime import Runtime

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


# -- changing a post ------------------------------------------------------------------------------

ChannelName = Annotated[str, Field(min_length=1, max_length=100)]


class PostEdit(BaseModel):
    """What ``crosspost post edit`` changes; what is left out stays as it is."""

    model_config = ConfigDict(extra="forbid")

    text: str | None = Field(None, max_length=100_000)
    title: str | None = Field(None, max_length=500)
    link: str | None = Field(None, max_length=2000)
    at: str | None = Field(None, max_length=100, description="New due time: 'YYYY-MM-DD HH:MM' with tz, or an instant")
    tz: str | None = Field(None, max_length=100)
    add_channels: list[ChannelName] = Field(default_factory=list, max_length=50)
    remove_channels: list[ChannelName] = Field(default_factory=list, max_length=50)
    any_language: bool | None = Field(
        None, description="Whether the text may go out on channels of another language without a variant"
    )


@router.patch("/posts/{post_id}", summary="Edit a post's content, due time or channels (new content: new sign-off)")
def edit_post(post_id: PostId, body: PostEdit, caller: Caller, runtime: RuntimeDep) -> dict[str, Any]:
    from scheduler import posts

    posts.edit_post(
        runtime.db,
        runtime.settings,
        post_id,
        text=body.text,
        title=body.title,
        link=body.link,
        at=body.at,
        tz=body.tz,
        actor=caller.user,
        add_channels=body.add_channels,
        remove_channels=body.remove_channels,
        any_language=body.any_language,
        now=runtime.clock(),
    )
    return _view(runtime, post_id, caller.user)


class ChannelChoice(BaseModel):
    model_config = ConfigDict(extra="forbid")

    channel: ChannelName | None = Field(None, description="Only this channel (default: every channel it applies to)")


class Moved(BaseModel):
    channels: list[str] = Field(description="The channels the action applied to")
    post: dict[str, Any]


@router.post("/posts/{post_id}/cancel", summary="Cancel what has not been published yet")
def cancel_post(post_id: PostId, caller: Caller, runtime: RuntimeDep, body: ChannelChoice | None = None) -> Moved:
    from scheduler import posts

    channel = body.channel if body else None
    names = posts.cancel_post(runtime.db, post_id, channel=channel, actor=caller.user, now=runtime.clock())
    return Moved(channels=names, post=_view(runtime, post_id, caller.user))


@router.post("/posts/{post_id}/retry", summary="Send failed, cancelled or needs-attention publications again, now")
def retry_post(post_id: PostId, caller: Caller, runtime: RuntimeDep, body: ChannelChoice | None = None) -> Moved:
    from scheduler import posts

    channel = body.channel if body else None
    names = posts.retry_post(runtime.db, post_id, channel=channel, actor=caller.user, now=runtime.clock())
    return Moved(channels=names, post=_view(runtime, post_id, caller.user))


# -- the editorial workflow -------------------------------------------------------------------------


def _review(runtime: Runtime, post_id: int) -> dict[str, Any]:
    from scheduler.editorial import overview

    return overview.review_view(runtime.db.reader(), post_id, now=runtime.clock())


@router.get("/posts/{post_id}/review", summary="Where a post stands in review: needs, deadlines, comments")
def review_post(post_id: PostId, caller: Caller, runtime: RuntimeDep) -> dict[str, Any]:
    from scheduler.editorial.authorization import authorize_view

    with runtime.db.read() as session:
        authorize_view(session, caller.user, post_id)
    return _review(runtime, post_id)


@router.post("/posts/{post_id}/submit", summary="Submit a draft (or a post changes were requested on) for sign-off")
def submit_post(post_id: PostId, caller: Caller, runtime: RuntimeDep) -> dict[str, Any]:
    from scheduler.editorial import signoff

    signoff.submit(runtime.db, post_id, now=runtime.clock(), actor=caller.user)
    return _review(runtime, post_id)


class ApproveBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    note: str | None = Field(None, max_length=2000, description="A note for the sign-off record")


class ApprovalResult(BaseModel):
    post: int
    signed: list[str] = Field(description="What this sign-off counted for: 'org (variant)'")
    review: str = Field(description="The post's review state now")
    waiting: list[str] = Field(description="The sign-offs still missing")


@router.post("/posts/{post_id}/approve", summary="Sign off the post's current content, where the policy lets you")
def approve_post(
    post_id: PostId, caller: Caller, runtime: RuntimeDep, body: ApproveBody | None = None
) -> ApprovalResult:
    from scheduler.editorial import signoff

    approval = signoff.approve(
        runtime.db, post_id, actor=caller.user, note=body.note if body else None, now=runtime.clock()
    )
    return ApprovalResult(post=post_id, signed=approval.signed, review=approval.review, waiting=approval.waiting)


class CommentBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str = Field(min_length=1, max_length=10_000)


@router.post("/posts/{post_id}/request-changes", summary="Send the post back to its author with the changes wanted")
def request_changes(post_id: PostId, body: CommentBody, caller: Caller, runtime: RuntimeDep) -> dict[str, Any]:
    from scheduler.editorial import signoff

    signoff.request_changes(runtime.db, post_id, actor=caller.user, text=body.text, now=runtime.clock())
    return _review(runtime, post_id)


@router.post("/posts/{post_id}/comments", status_code=201, summary="Comment on a post (kept with its version)")
def add_comment(post_id: PostId, body: CommentBody, caller: Caller, runtime: RuntimeDep) -> dict[str, Any]:
    from scheduler.editorial import signoff

    signoff.comment(runtime.db, post_id, actor=caller.user, text=body.text, now=runtime.clock())
    mine = [c for c in _review(runtime, post_id)["comments"] if c["author"] == caller.user]
    return dict(mine[-1])


@router.get("/posts/{post_id}/comments", summary="A post's comments and change requests, oldest first")
def list_comments(post_id: PostId, caller: Caller, runtime: RuntimeDep) -> list[dict[str, Any]]:
    comments: list[dict[str, Any]] = review_post(post_id, caller, runtime)["comments"]
    return comments


class VariantBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str = Field(min_length=1, max_length=100_000)
    language: str | None = Field(None, max_length=100, description="For the channels of this language (BCP 47)")
    channel: ChannelName | None = Field(None, description="For this one channel")
    title: str | None = Field(None, max_length=500)


@router.post("/posts/{post_id}/variants", status_code=201, summary="Add the text in another language or for a channel")
def add_variant(post_id: PostId, body: VariantBody, caller: Caller, runtime: RuntimeDep) -> dict[str, Any]:
    from scheduler import posts

    names = posts.add_variant(
        runtime.db,
        runtime.settings,
        post_id,
        text=body.text,
        language=body.language,
        channel=body.channel,
        title=body.title,
        actor=caller.user,
        now=runtime.clock(),
    )
    return {"used_on": names, "review": _review(runtime, post_id)}


# -- shares -----------------------------------------------------------------------------------------


class ShareBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    org: str = Field(min_length=1, max_length=100, description="The partner organisation")
    may_edit: bool = Field(False, description="The partner may change the text")


def _share_row(runtime: Runtime, share_id: int) -> dict[str, Any]:
    from scheduler.editorial import shares
    from scheduler.errors import NotFound

    for row in shares.list_shares(runtime.db.reader()):
        if row["id"] == share_id:
            return row
    raise NotFound(f"no share with id {share_id}")


@router.post("/posts/{post_id}/share", status_code=201, summary="Offer an approved post to a partner organisation")
def share_post(
    post_id: PostId, body: ShareBody, caller: Caller, runtime: RuntimeDep, response: Response
) -> dict[str, Any]:
    from scheduler.editorial import shares

    share_id = shares.share(
        runtime.db, post_id, to_org=body.org, may_edit=body.may_edit, actor=caller.user, now=runtime.clock()
    )
    response.headers["Location"] = f"/api/v1/shares/{share_id}"
    return _share_row(runtime, share_id)


@router.get("/shares", summary="Shares offered to or by an organisation")
def list_shares(
    caller: Caller,
    runtime: RuntimeDep,
    org: Annotated[str | None, Query(max_length=100, description="Default: the token's organisation")] = None,
) -> list[dict[str, Any]]:
    from scheduler.editorial import shares
    from scheduler.editorial.authorization import Action, authorize
    from scheduler.editorial.people import org_named

    org = org or caller.org
    if org is None:
        raise ApiProblem(422, "say which organisation's shares to list", field="org")
    with runtime.db.read() as session:
        authorize(session, caller.user, Action.VIEW, [org_named(session, org).id], subject=f"shares of {org}")
    return shares.list_shares(runtime.db.reader(), org=org)


class AdoptBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    channels: list[ChannelName] = Field(min_length=1, max_length=50, description="Your channels")
    at: str | None = Field(None, max_length=100)
    tz: str | None = Field(None, max_length=100)
    now: bool = Field(False, description="Publish as soon as it is signed off")
    queue: bool = Field(False, description="Take each channel's next free queue slot")
    text: str | None = Field(None, max_length=100_000, description="Your text (default: the original's)")
    importance: str | None = Field(None, max_length=100)
    format: str | None = Field(None, max_length=100)
    priority: str | None = Field(None, max_length=20)
    org: str | None = Field(None, max_length=100, description="Your organisation (default: the token's)")


@router.post("/shares/{share_id}/adopt", status_code=201, summary="Adopt a share: a copy on your channels, your policy")
def adopt_share(
    share_id: ShareId, body: AdoptBody, caller: Caller, runtime: RuntimeDep, response: Response
) -> dict[str, Any]:
    from scheduler import posts

    post_id = posts.adopt_share(
        runtime.db,
        runtime.settings,
        share_id,
        channels=body.channels,
        at=body.at,
        tz=body.tz,
        immediately=body.now,
        queue=body.queue,
        text=body.text,
        actor=caller.user,
        org=body.org or caller.org,
        importance=body.importance,
        format=body.format,
        priority=body.priority,
        now=runtime.clock(),
    )
    response.headers["Location"] = f"/api/v1/posts/{post_id}"
    return _view(runtime, post_id, caller.user)


@router.delete("/shares/{share_id}", summary="Withdraw a share; the partner's copy is cancelled unless it is out")
def withdraw_share(share_id: ShareId, caller: Caller, runtime: RuntimeDep) -> dict[str, Any]:
    from scheduler.editorial import shares

    cancelled = shares.withdraw_share(runtime.db, share_id, actor=caller.user, now=runtime.clock())
    return {**_share_row(runtime, share_id), "cancelled": cancelled}


# -- preview ----------------------------------------------------------------------------------------

_previewing: dict[int, threading.Lock] = {}
_previewing_guard = threading.Lock()


def _preview_lock(post_id: int) -> threading.Lock:
    """One preview of a post at a time in this process: each rewrites the post's preview folder."""
    with _previewing_guard:
        return _previewing.setdefault(post_id, threading.Lock())


def _preview_folder(runtime: Runtime, post_id: int) -> FilePath:
    return runtime.settings.data_dir / "preview" / "api" / f"post-{post_id}"


class ChannelPreview(BaseModel):
    channel: str
    platform: str
    state: str
    text: str = Field(description="The text as counted and escaped for the platform")
    parts: list[str] = Field(description="The text as posted: one part, or a thread's parts")
    notes: list[str] = Field(description="What the adapter changed or noticed (upscaled, trimmed, a Short...)")
    media: list[str] = Field(description="URLs of the renditions this channel gets, in the order they are sent")
    files: list[str] = Field(description="URLs of every file the platform would receive (request.json, text.txt)")


@router.get("/posts/{post_id}/preview", summary="Exactly what each channel would receive; publishes nothing")
def preview_post(
    post_id: PostId,
    caller: Caller,
    runtime: RuntimeDep,
    channel: Annotated[list[str] | None, Query(max_length=50, description="Only these channels")] = None,
) -> list[ChannelPreview]:
    from scheduler.editorial.authorization import authorize_view
    from scheduler.publishing import media_prep
    from scheduler.publishing.preview import write_preview

    with runtime.db.read() as session:
        authorize_view(session, caller.user, post_id)
    folder = _preview_folder(runtime, post_id)
    with _preview_lock(post_id):
        made = write_preview(
            runtime.db,
            post_id,
            runtime.settings,
            runtime.adapters,
            folder,
            channels=channel or [],
            renditions=lambda publication_id: media_prep.preview_renditions(
                runtime.db, publication_id, settings=runtime.settings, clock=runtime.clock
            ),
        )
    base = f"/api/v1/posts/{post_id}/preview"
    return [
        ChannelPreview(
            channel=item.channel,
            platform=item.platform,
            state=item.state,
            text=item.text,
            parts=list(item.parts),
            notes=list(item.notes),
            media=[f"{base}/{item.channel}/{name}" for name in item.media],
            files=[f"{base}/{item.channel}/{name}" for name in ("request.json", "text.txt")],
        )
        for item in made
    ]


# what a preview folder holds: the request body, the text, and media (images and videos)
FILE_TYPES = {
    media_type: {"schema": {"type": "string", "format": "binary"}}
    for media_type in (
        "application/json",
        "text/plain",
        "image/jpeg",
        "image/png",
        "image/webp",
        "image/gif",
        "video/mp4",
        "video/quicktime",
        "application/octet-stream",
    )
}


def safe_file(folder: FilePath, *parts: str) -> FilePath | None:
    """The file ``folder/parts...`` names, only if it lies inside ``folder`` once resolved
    (``..``, symbolic links): a path parameter can never reach another file."""
    try:
        root = folder.resolve()
        target = root.joinpath(*parts).resolve()
        inside = target.is_relative_to(root) and target != root and target.is_file()
    except (OSError, RuntimeError, ValueError):  # a link loop, a NUL, a name too long
        return None
    return target if inside else None


@router.get(
    "/posts/{post_id}/preview/{channel}/{file}",
    summary="One file of a channel's preview (a rendition, request.json, text.txt)",
    response_class=FileResponse,
    responses={200: {"content": FILE_TYPES, "description": "The file"}},
)
def preview_file(
    post_id: PostId,
    channel: Annotated[str, Path(max_length=100)],
    file: Annotated[str, Path(max_length=255)],
    caller: Caller,
    runtime: RuntimeDep,
) -> FileResponse:
    from scheduler.editorial.authorization import authorize_view

    with runtime.db.read() as session:
        authorize_view(session, caller.user, post_id)
    folder = _preview_folder(runtime, post_id)
    # one channel's folder, one file in it: no ".", "..", nor a file beside the channels' folders
    target = None if {channel, file} & {".", ".."} else safe_file(folder, channel, file)
    if target is None or target.parent != (folder / channel).resolve():
        missing = f"no preview file {channel}/{file} of post {post_id}; make the preview first"
        raise ApiProblem(404, missing)
    return FileResponse(target, headers={"X-Content-Type-Options": "nosniff", "Cache-Control": "no-store"})
