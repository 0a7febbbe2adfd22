"""Notifications to people (docs/notifications.md): one's own preferences per kind (now, digest,
off) and personal chat targets; an organisation's chat targets (its admins). Shells over
``scheduler.notify.notifications``, with ``actor=caller.user``."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Response
from pydantic import BaseModel, ConfigDict, Field

from scheduler.api.auth import Caller, RuntimeDep

router = APIRouter(tags=["notifications"])

OrgName = Annotated[str, Path(max_length=100, description="The organisation's name, e.g. collab")]
TargetId = Annotated[int, Path(ge=1, le=2**31 - 1, description="A chat target's id")]
Mode = Literal["now", "digest", "off"]
KIND_LIST = (
    "post.submitted, approval.deadline_near, post.approved, post.changes_requested, publication.failed, "
    "publication.needs_attention, channel.needs_reconnect"
)


class Preferences(BaseModel):
    preferences: dict[str, Mode] = Field(description="How one hears of each kind: now, digest (daily) or off")
    kinds: dict[str, str] = Field(description="Each kind, and what it is about")


class PreferenceChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    preferences: dict[Annotated[str, Field(max_length=60)], Mode] = Field(
        max_length=20, description=f"kind -> now | digest | off; kinds: {KIND_LIST}"
    )


class NewTarget(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str = Field(
        max_length=2000, description="An apprise URL: slack://..., mmost://..., msteams://..., matrix://..."
    )
    kinds: list[Annotated[str, Field(max_length=60)]] = Field(
        default_factory=list, max_length=20, description=f"Only these kinds ({KIND_LIST}); empty: every kind"
    )


class TargetView(BaseModel):
    id: int
    org: str | None
    user: str | None
    url: str = Field(description="Its scheme only: the rest holds tokens")
    kinds: list[str] = Field(description="The kinds it hears; empty: every kind")
    created_at: str


def _preferences(runtime: Any, user: str) -> Preferences:
    from scheduler.notify import notifications

    modes = notifications.preferences(runtime.db, user, actor=user)
    return Preferences(preferences=modes, kinds=notifications.KINDS)


@router.get("/me/notifications", summary="How I hear of each kind of event")
def my_preferences(caller: Caller, runtime: RuntimeDep) -> Preferences:
    return _preferences(runtime, caller.user)


@router.put("/me/notifications", summary="Change how I hear of some kinds (the others stay as they are)")
def change_my_preferences(body: PreferenceChange, caller: Caller, runtime: RuntimeDep) -> Preferences:
    from scheduler.notify import notifications

    notifications.set_preferences(runtime.db, caller.user, dict(body.preferences), actor=caller.user)
    return _preferences(runtime, caller.user)


@router.get("/me/notification-targets", summary="My personal chat targets")
def my_targets(caller: Caller, runtime: RuntimeDep) -> list[TargetView]:
    from scheduler.notify import notifications

    targets = notifications.list_targets(runtime.db, runtime.settings, user=caller.user, actor=caller.user)
    return [TargetView(**target) for target in targets]


@router.post("/me/notification-targets", status_code=201, summary="Add a personal chat target (an apprise URL)")
def add_my_target(body: NewTarget, caller: Caller, runtime: RuntimeDep) -> TargetView:
    from scheduler.notify import notifications

    target = notifications.add_target(
        runtime.db,
        runtime.settings,
        user=caller.user,
        url=body.url,
        kinds=body.kinds,
        now=runtime.clock(),
        actor=caller.user,
    )
    return TargetView(**target)


@router.delete(
    "/me/notification-targets/{target_id}",
    status_code=204,
    response_class=Response,
    summary="Remove one of my chat targets",
)
def remove_my_target(target_id: TargetId, caller: Caller, runtime: RuntimeDep) -> Response:
    from scheduler.notify import notifications

    notifications.remove_target(runtime.db, target_id, now=runtime.clock(), actor=caller.user, user=caller.user)
    return Response(status_code=204)


@router.get("/organisations/{org}/notification-targets", summary="The organisation's chat targets (its admins)")
def org_targets(org: OrgName, caller: Caller, runtime: RuntimeDep) -> list[TargetView]:
    from scheduler.notify import notifications

    targets = notifications.list_targets(runtime.db, runtime.settings, org=org, actor=caller.user)
    return [TargetView(**target) for target in targets]


@router.post(
    "/organisations/{org}/notification-targets",
    status_code=201,
    summary="Add a chat target for the organisation (its admins)",
)
def add_org_target(org: OrgName, body: NewTarget, caller: Caller, runtime: RuntimeDep) -> TargetView:
    from scheduler.notify import notifications

    target = notifications.add_target(
        runtime.db, runtime.settings, org=org, url=body.url, kinds=body.kinds, now=runtime.clock(), actor=caller.user
    )
    return TargetView(**target)


@router.delete(
    "/organisations/{org}/notification-targets/{target_id}",
    status_code=204,
    response_class=Response,
    summary="Remove one of the organisation's chat targets (its admins)",
)
def remove_org_target(org: OrgName, target_id: TargetId, caller: Caller, runtime: RuntimeDep) -> Response:
    from scheduler.notify import notifications

    notifications.remove_target(runtime.db, target_id, now=runtime.clock(), actor=caller.user, org=org)
    return Response(status_code=204)
