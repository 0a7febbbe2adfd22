"""Publications (one post on one channel): state, retry, cancel, and a person's word on one the
pipeline could not settle (``unknown``, ``needs_attention``)."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from scheduler.api.auth import Caller, RuntimeDep
from scheduler.api.paths import PublicationId
from scheduler.runtime import Runtime

router = APIRouter(tags=["publications"])


def publication(runtime: Runtime, publication_id: int, user: str) -> dict[str, Any]:
    """The publication as ``post show`` shows it, with the post it belongs to and its lateness;
    refused unless ``user`` may see the post."""
    from scheduler.editorial.authorization import authorize_view
    from scheduler.errors import NotFound
    from scheduler.posts import publication_view
    from scheduler.redaction import redact_optional
    from scheduler.store import Publication

    with runtime.db.read() as session:
        row = session.get(Publication, publication_id)
        if row is None:
            raise NotFound(f"no publication with id {publication_id}")
        authorize_view(session, user, row.post_id)
        view = publication_view(row)
        next_attempt = row.next_attempt_at.isoformat() if row.next_attempt_at else None
        view |= {"post": row.post_id, "next_attempt_at": next_attempt}
    view["last_error"] = redact_optional(view["last_error"])
    view["late_s"] = _late(view)
    return view


def _late(view: dict[str, Any]) -> float | None:
    """Seconds from the due time to publication (negative: early); None until published."""
    from datetime import datetime

    if not view["published_at"]:
        return None
    return round(
        (datetime.fromisoformat(view["published_at"]) - datetime.fromisoformat(view["due_at"])).total_seconds(), 3
    )


@router.get("/publications/{publication_id}", summary="A publication: state, attempts, last error, lateness, remote id")
def get_publication(publication_id: PublicationId, caller: Caller, runtime: RuntimeDep) -> dict[str, Any]:
    return publication(runtime, publication_id, caller.user)


def _post_and_channel(runtime: Runtime, publication_id: int, user: str) -> tuple[int, str]:
    view = publication(runtime, publication_id, user)
    return view["post"], view["channel"]


@router.post("/publications/{publication_id}/retry", summary="Send a failed, cancelled or needs-attention one again")
def retry_publication(publication_id: PublicationId, caller: Caller, runtime: RuntimeDep) -> dict[str, Any]:
    from scheduler import posts

    post_id, channel = _post_and_channel(runtime, publication_id, caller.user)
    posts.retry_post(runtime.db, post_id, channel=channel, actor=caller.user, now=runtime.clock())
    return publication(runtime, publication_id, caller.user)


@router.post("/publications/{publication_id}/cancel", summary="Cancel it, unless it is out or going out")
def cancel_publication(publication_id: PublicationId, caller: Caller, runtime: RuntimeDep) -> dict[str, Any]:
    from scheduler import posts

    post_id, channel = _post_and_channel(runtime, publication_id, caller.user)
    posts.cancel_post(runtime.db, post_id, channel=channel, actor=caller.user, now=runtime.clock())
    return publication(runtime, publication_id, caller.user)


class Resolution(BaseModel):
    model_config = ConfigDict(extra="forbid")

    outcome: Literal["published", "not_published"] = Field(
        description="published: it is on the platform; not_published: it is not (it is cancelled; retry sends it)"
    )
    reason: str = Field(min_length=1, max_length=2000, description="How you know: kept in the event log")
    remote_id: str | None = Field(None, max_length=500, description="The platform's id of the post, if published")
    remote_url: str | None = Field(None, max_length=2000, description="Its address on the platform, if published")


@router.post(
    "/publications/{publication_id}/resolve",
    summary="Say by hand whether an unknown or needs-attention publication is out (editors and above)",
)
def resolve_publication(
    publication_id: PublicationId, body: Resolution, caller: Caller, runtime: RuntimeDep
) -> dict[str, Any]:
    from scheduler.publishing.publications import resolve_by_hand

    publication(runtime, publication_id, caller.user)  # who may not see it learns nothing more
    resolve_by_hand(
        runtime.db,
        publication_id,
        outcome=body.outcome,
        reason=body.reason,
        remote_id=body.remote_id,
        remote_url=body.remote_url,
        actor=caller.user,
        now=runtime.clock(),
    )
    return publication(runtime, publication_id, caller.user)
