"""The queue: a channel's slots and what holds them, its next free slots, the global pause, blackouts."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from scheduler.api.auth import Caller, RuntimeDep
from scheduler.api.routes._access import channel_named, is_host_admin, require_view, visible_orgs

router = APIRouter(tags=["queue"])

Days = Annotated[int, Query(ge=1, le=366, description="How many days ahead")]


def _queue(runtime: Any, user: str, channel: str, days: int) -> dict[str, Any]:
    from scheduler.planning import timetable

    with runtime.db.read() as session:
        require_view(session, user, channel_named(session, channel).org_id, f"the queue of {channel}")
    return timetable.queue_view(runtime.db, channel=channel, now=runtime.clock(), days=days)


@router.get("/queue", summary="A channel's slots (free, taken by which posts, or blocked and why) and posts due")
def get_queue(
    caller: Caller,
    runtime: RuntimeDep,
    channel: Annotated[str, Query(max_length=100, description="The channel")],
    days: Days = 7,
) -> dict[str, Any]:
    return _queue(runtime, caller.user, channel, days)


class FreeSlots(BaseModel):
    channel: str
    zone: str = Field(description="The channel's time zone: slots are wall times there")
    schedule: str | None = Field(description="The posting schedule in words; null: none, so no slots")
    slots: list[str] = Field(description="The free slots, ISO instants, earliest first")


@router.get("/channels/{name}/slots", summary="A channel's next free queue slots")
def free_slots(
    name: Annotated[str, Path(max_length=100)], caller: Caller, runtime: RuntimeDep, days: Days = 7
) -> FreeSlots:
    view = _queue(runtime, caller.user, name, days)
    return FreeSlots(
        channel=name,
        zone=view["zone"],
        schedule=view["schedule"],
        slots=[slot["at"] for slot in view["slots"] if slot["status"] == "free"],
    )


# -- the global pause ----------------------------------------------------------------------------


class PauseRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str | None = Field(None, max_length=500, description="Why, for the event log")


class PauseState(BaseModel):
    paused: bool
    moved: dict[str, int] = Field(default_factory=dict, description="Publications moved to new times, per channel")


@router.post("/pause", summary="Stop publishing everywhere (an admin of a host organisation)")
def pause(caller: Caller, runtime: RuntimeDep, body: PauseRequest | None = None) -> PauseState:
    from scheduler.planning import timetable

    timetable.pause(runtime.db, now=runtime.clock(), reason=body.reason if body else None, actor=caller.user)
    return PauseState(paused=True)


@router.post("/resume", summary="Publish again; what fell due is spread within each channel's limits (host admin)")
def resume(caller: Caller, runtime: RuntimeDep) -> PauseState:
    from scheduler.planning import timetable

    return PauseState(paused=False, moved=timetable.resume(runtime.db, now=runtime.clock(), actor=caller.user))


# -- blackouts -----------------------------------------------------------------------------------


class BlackoutView(BaseModel):
    id: int
    name: str
    starts_at: str
    ends_at: str
    channel: str | None = Field(description="The channel; 'all' for every channel")


@router.get("/blackouts", summary="Blackouts running or to come on the caller's channels and on every channel")
def list_blackouts(caller: Caller, runtime: RuntimeDep) -> list[BlackoutView]:
    from sqlalchemy import select

    from scheduler.planning import timetable
    from scheduler.store import Channel

    with runtime.db.read() as session:
        mine = set(visible_orgs(session, caller.user))
        instance_wide = is_host_admin(session, caller.user)
        owners = dict(session.execute(select(Channel.name, Channel.org_id)).all())
    rows = timetable.list_blackouts(runtime.db, now=runtime.clock())
    return [
        BlackoutView(**row)
        for row in rows
        if row["channel"] == "all"  # it holds everyone's posts: everyone sees it
        or owners.get(row["channel"]) in mine
        or (owners.get(row["channel"]) is None and instance_wide)
    ]


class NewBlackout(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200, description="Why, e.g. 'annual closure'")
    start: str = Field(max_length=100, description="'YYYY-MM-DD HH:MM' with tz, or an ISO instant")
    end: str = Field(max_length=100, description="The end (exclusive), written the same way")
    tz: str | None = Field(None, max_length=100, description="IANA time zone of start and end")
    channel: str | None = Field(None, max_length=100, description="Only this channel (default: every channel)")


class BlackoutAdded(BlackoutView):
    moved: dict[str, int] = Field(description="Publications moved out of it, per channel")


@router.post(
    "/blackouts", status_code=201, summary="Publish nothing between two times (admin; every channel: host admin)"
)
def add_blackout(body: NewBlackout, caller: Caller, runtime: RuntimeDep) -> BlackoutAdded:
    from scheduler.errors import NotFound
    from scheduler.planning import timetable

    now = runtime.clock()
    blackout_id, moved = timetable.add_blackout(
        runtime.db,
        name=body.name,
        start=body.start,
        end=body.end,
        tz=body.tz,
        channel=body.channel,
        now=now,
        actor=caller.user,
    )
    for row in timetable.list_blackouts(runtime.db, now=now):
        if row["id"] == blackout_id:
            return BlackoutAdded(**row, moved=moved)
    raise NotFound(f"blackout {blackout_id} was removed meanwhile")


@router.delete(
    "/blackouts/{blackout_id}",
    status_code=204,
    response_class=Response,
    summary="Remove a blackout (admin of its channel's organisation)",
)
def remove_blackout(
    blackout_id: Annotated[int, Path(ge=1, le=2**31 - 1)], caller: Caller, runtime: RuntimeDep
) -> Response:
    from scheduler.planning import timetable

    timetable.remove_blackout(runtime.db, blackout_id, now=runtime.clock(), actor=caller.user)
    return Response(status_code=204)
