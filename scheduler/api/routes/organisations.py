"""Organisations and their members: the caller's own, one with its members, a new one (host
admins), and members' roles (the organisation's admins)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Response
from pydantic import BaseModel, ConfigDict, Field

from scheduler.api.auth import Caller, RuntimeDep
from scheduler.api.routes._access import require_view, visible_orgs
from scheduler.editorial.roles import ROLES
from scheduler.errors import NotFound

router = APIRouter(tags=["organisations"])

OrgName = Annotated[str, Path(max_length=100, description="The organisation's name, e.g. collab")]
UserName = Annotated[str, Path(max_length=100, description="A user name, e.g. ana")]
ROLE_PATTERN = "^(" + "|".join(ROLES) + ")$"


class OrganisationView(BaseModel):
    name: str
    display_name: str
    kind: str = Field(description="host or partner")
    policy: str = Field(description="custom, or default (GET /organisations/{name}/policy)")
    members: dict[str, str] = Field(description="user name -> role")
    channels: list[str]


def _views(runtime: Any, names: set[str] | None = None) -> list[OrganisationView]:
    from scheduler.editorial import people

    return [OrganisationView(**row) for row in people.list_orgs(runtime.db) if names is None or row["name"] in names]


@router.get("/organisations", summary="The caller's organisations (a token: its own), with members and channels")
def list_organisations(caller: Caller, runtime: RuntimeDep) -> list[OrganisationView]:
    from scheduler.editorial.people import org_named_by_id

    with runtime.db.read() as session:
        names = {org_named_by_id(session, org_id) for org_id in visible_orgs(session, caller.user)}
    return _views(runtime, names)


def _one(runtime: Any, name: str, user: str) -> OrganisationView:
    from scheduler.editorial.people import org_named

    with runtime.db.read() as session:
        require_view(session, user, org_named(session, name).id, f"organisation {name}")
    found = _views(runtime, {name})
    if not found:  # removed meanwhile
        raise NotFound(f"no organisation named {name!r}")
    return found[0]


@router.get("/organisations/{name}", summary="One organisation, its members with their roles, its channels")
def get_organisation(name: OrgName, caller: Caller, runtime: RuntimeDep) -> OrganisationView:
    return _one(runtime, name, caller.user)


class NewOrganisation(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100, description="Lower-case letters, digits, '-', '_' or '.'")
    display_name: str | None = Field(None, max_length=200, description="The name people read")
    kind: str = Field("host", max_length=20, description="host or partner")
    admin: str | None = Field(
        None, max_length=100, description="Who administers it (adds members, sets its policy); default: the caller"
    )


@router.post("/organisations", status_code=201, summary="Add an organisation (an admin of a host organisation)")
def add_organisation(
    body: NewOrganisation, caller: Caller, runtime: RuntimeDep, response: Response
) -> OrganisationView:
    from scheduler.editorial import people
    from scheduler.editorial.authorization import Action, authorize

    admin = body.admin or caller.user
    with runtime.db.read() as session:
        authorize(session, caller.user, Action.MANAGE_MEMBERS, [], doing="add an organisation")
        people.user_named(session, admin)  # an unknown admin is refused before anything is stored
    now = runtime.clock()
    people.add_org(
        runtime.db, name=body.name, display_name=body.display_name, kind=body.kind, now=now, actor=caller.user
    )
    # a new organisation has no admin who could authorize its first member: the host admin who
    # added it names one (the operator's bootstrap, as `crosspost user role` at the console)
    people.set_role(runtime.db, user=admin, org=body.name, role="admin", now=now, actor=None)
    response.headers["Location"] = f"/api/v1/organisations/{body.name}"
    return _views(runtime, {body.name})[0]


class NewRole(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: str = Field(pattern=ROLE_PATTERN, description=" | ".join(ROLES))


class Membership(BaseModel):
    org: str
    user: str
    role: str


@router.put("/organisations/{name}/members/{user}", summary="Give a user a role in the organisation (its admins)")
def set_member(name: OrgName, user: UserName, body: NewRole, caller: Caller, runtime: RuntimeDep) -> Membership:
    from scheduler.editorial import people

    people.set_role(runtime.db, user=user, org=name, role=body.role, now=runtime.clock(), actor=caller.user)
    return Membership(org=name, user=user, role=body.role)


@router.delete(
    "/organisations/{name}/members/{user}",
    status_code=204,
    response_class=Response,
    summary="Take a user out of the organisation (its admins)",
)
def remove_member(name: OrgName, user: UserName, caller: Caller, runtime: RuntimeDep) -> Response:
    from scheduler.editorial import people

    people.set_role(runtime.db, user=user, org=name, role=None, now=runtime.clock(), actor=caller.user)
    return Response(status_code=204)
