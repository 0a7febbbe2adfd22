"""API tokens: made (the secret shown once), listed, revoked.

A token made through a token stays inside its maker: the same organisation, at most the same
role; a session may make one in any of the person's organisations, at most at the role held.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from scheduler.api.auth import Caller, RuntimeDep
from scheduler.api.problems import ApiProblem
from scheduler.api.routes.organisations import ROLE_PATTERN
from scheduler.editorial.roles import ROLES
from scheduler.errors import Refused

router = APIRouter(tags=["tokens"])


class NewToken(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100, description="To tell it apart later, e.g. 'CI pipeline'")
    org: str | None = Field(None, max_length=100, description="Its organisation; default: the calling token's")
    role: str | None = Field(
        None, pattern=ROLE_PATTERN, description=f"{' | '.join(ROLES)}; default: the role held there"
    )
    user: str | None = Field(None, max_length=100, description="Whose token (an admin's choice); default: one's own")
    expires_days: int | None = Field(90, ge=1, le=3650, description="Lifetime in days; null: never expires")


class TokenView(BaseModel):
    id: int
    name: str
    prefix: str = Field(description="The secret's first characters, to recognise it")
    user: str
    org: str
    role: str
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None


class CreatedToken(TokenView):
    token: str = Field(description="The secret: shown this once, never again")


@router.post("/tokens", status_code=201, summary="Make an API token (its secret is in this answer only)")
def create_token(body: NewToken, caller: Caller, runtime: RuntimeDep, response: Response) -> CreatedToken:
    from scheduler.accounts import tokens
    from scheduler.editorial.people import memberships, org_named, user_named

    org = body.org or caller.org
    if org is None:
        raise ApiProblem(422, "say which organisation the token acts in: org=NAME", field="org")
    owner = body.user or caller.user
    role = body.role
    with runtime.db.read() as session:
        held = memberships(session, user_named(session, caller.user))  # as the calling token sees them
        target = org_named(session, org).id
        if role is None:
            if owner != caller.user:
                raise ApiProblem(422, "say the role of a token made for someone else", field="role")
            role = held.get(target)
            if role is None:
                raise Refused(f"rule 'roles': {caller.user} is not a member of {org} (as this token sees it)")
    if caller.org_id is not None:  # a token cannot make a wider one than itself
        if org != caller.org:
            raise Refused(f"rule 'roles': this token acts in {caller.org} only; it cannot make one for {org}")
        if caller.role is not None and ROLES.index(role) > ROLES.index(caller.role):
            raise Refused(f"rule 'roles': this token is {caller.role}; it cannot make a {role} one")
    made = tokens.create_token(
        runtime.db,
        user=owner,
        org=org,
        role=role,
        name=body.name,
        now=runtime.clock(),
        expires_in=None if body.expires_days is None else timedelta(days=body.expires_days),
        actor=caller.user,
    )
    response.headers["Location"] = f"/api/v1/tokens/{made.id}"
    shown = next(row for row in tokens.list_tokens(runtime.db, user=made.user, org=made.org) if row["id"] == made.id)
    return CreatedToken(**shown, token=made.token)


@router.get("/tokens", summary="One's own tokens, and as an admin those of one's organisations")
def list_tokens(
    caller: Caller,
    runtime: RuntimeDep,
    user: Annotated[str | None, Query(max_length=100)] = None,
    org: Annotated[str | None, Query(max_length=100)] = None,
) -> list[TokenView]:
    from scheduler.accounts import tokens
    from scheduler.editorial.people import memberships, org_named_by_id, user_named

    with runtime.db.read() as session:
        held = memberships(session, user_named(session, caller.user))
        administered = {org_named_by_id(session, org_id) for org_id, role in held.items() if role == "admin"}
    rows: list[dict[str, Any]] = tokens.list_tokens(runtime.db, user=user, org=org)
    return [
        TokenView(**row)
        for row in rows
        if row["org"] in administered or (row["user"] == caller.user and (caller.org in (None, row["org"])))
    ]


@router.delete("/tokens/{token_id}", status_code=204, summary="Revoke a token at once (its owner or an admin)")
def revoke_token(token_id: Annotated[int, Path(ge=1, le=2**31 - 1)], caller: Caller, runtime: RuntimeDep) -> None:
    from scheduler.accounts import tokens

    tokens.revoke_token(runtime.db, token_id, now=runtime.clock(), actor=caller.user)
