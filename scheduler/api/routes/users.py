"""People: those who share an organisation with the caller, one of them, and a new one (an admin
of the organisation they join)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Response
from pydantic import BaseModel, ConfigDict, Field

from scheduler.acting import Acting, acting_as
from scheduler.api.auth import Caller, RuntimeDep
from scheduler.api.routes._access import default_org, visible_orgs
from scheduler.api.routes.organisations import ROLE_PATTERN
from scheduler.editorial.roles import ROLES
from scheduler.errors import NotFound, Refused

router = APIRouter(tags=["users"])


class UserView(BaseModel):
    name: str
    display_name: str
    email: str | None
    roles: dict[str, str] = Field(description="organisation -> role, in the caller's organisations")


def _people(runtime: Any, caller: Any) -> list[UserView]:
    """Everyone with a role in one of the caller's organisations, with the roles held there."""
    from scheduler.editorial import people
    from scheduler.editorial.people import org_named_by_id

    with runtime.db.read() as session:
        mine = {org_named_by_id(session, org_id) for org_id in visible_orgs(session, caller.user)}
    # list_users reads roles through the acting context, which caps them at the *caller's* token:
    # other people's roles are read unscoped, then only the caller's organisations are shown
    with acting_as(Acting(via=caller.via)):
        rows = people.list_users(runtime.db)
    views = []
    for row in rows:
        shared = {org: role for org, role in row["roles"].items() if org in mine}
        if shared or row["name"] == caller.user:
            views.append(UserView(**{**row, "roles": shared}))
    return views


@router.get("/users", summary="People in the caller's organisations (a token: its own), with their roles there")
def list_users(caller: Caller, runtime: RuntimeDep) -> list[UserView]:
    return _people(runtime, caller)


@router.get("/users/{name}", summary="One person who shares an organisation with the caller")
def get_user(name: Annotated[str, Path(max_length=100)], caller: Caller, runtime: RuntimeDep) -> UserView:
    from scheduler.editorial.people import user_named

    with runtime.db.read() as session:
        user_named(session, name)  # 404 naming an unknown user
    for view in _people(runtime, caller):
        if view.name == name:
            return view
    raise Refused(f"rule 'roles': {name} is in none of {caller.user}'s organisations (as this token sees them)")


class NewUser(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100, description="Lower-case letters, digits, '-', '_' or '.'")
    display_name: str | None = Field(None, max_length=200)
    email: str | None = Field(None, max_length=320, pattern=r"^[^@\s]+@[^@\s]+$", description="Where to reach them")
    org: str | None = Field(None, max_length=100, description="The organisation they join; default: the token's")
    role: str = Field("contributor", pattern=ROLE_PATTERN, description=" | ".join(ROLES))


@router.post("/users", status_code=201, summary="Add a person to an organisation (its admins)")
def add_user(body: NewUser, caller: Caller, runtime: RuntimeDep, response: Response) -> UserView:
    from scheduler.editorial import people
    from scheduler.editorial.authorization import Action, authorize

    org = default_org(body.org, caller.org, what="new member")
    with runtime.db.read() as session:
        # refused before the account exists, so a refusal leaves nobody behind
        authorize(session, caller.user, Action.MANAGE_MEMBERS, [people.org_named(session, org).id])
    now = runtime.clock()
    people.add_user(
        runtime.db, name=body.name, display_name=body.display_name, email=body.email, now=now, actor=caller.user
    )
    people.set_role(runtime.db, user=body.name, org=org, role=body.role, now=now, actor=caller.user)
    response.headers["Location"] = f"/api/v1/users/{body.name}"
    for view in _people(runtime, caller):
        if view.name == body.name:
            return view
    raise NotFound(f"user {body.name} was removed meanwhile")


class AccountState(BaseModel):
    name: str
    disabled: bool
    changed: bool = Field(description="False when it already was so")


def _set_disabled(name: str, disabled: bool, caller: Any, runtime: Any) -> AccountState:
    from scheduler.accounts.sessions import set_disabled

    changed = set_disabled(runtime.db, name, disabled=disabled, now=runtime.clock(), actor=caller.user)
    return AccountState(name=name, disabled=disabled, changed=changed)


@router.post(
    "/users/{name}/disable",
    summary="Disable an account (an admin of every organisation the person is in): sessions end, tokens refused",
)
def disable_user(name: Annotated[str, Path(max_length=100)], caller: Caller, runtime: RuntimeDep) -> AccountState:
    return _set_disabled(name, True, caller, runtime)


@router.post("/users/{name}/enable", summary="Enable a disabled account again")
def enable_user(name: Annotated[str, Path(max_length=100)], caller: Caller, runtime: RuntimeDep) -> AccountState:
    return _set_disabled(name, False, caller, runtime)
