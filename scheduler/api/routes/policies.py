"""An organisation's approval policy (docs/policy.md): read by its members, set by its admins."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path
from pydantic import BaseModel, ConfigDict, Field

from scheduler.api.auth import Caller, RuntimeDep
from scheduler.api.routes._access import require_view

router = APIRouter(tags=["policies"])

OrgName = Annotated[str, Path(max_length=100, description="The organisation's name")]


class PolicyView(BaseModel):
    org: str
    rules: int = Field(description="How many rules it has")
    toml: str = Field(description="The policy as a policy file (what `crosspost policy show` prints)")
    document: dict[str, Any] = Field(description="The policy as JSON (`crosspost policy show --json`)")


class NewPolicy(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str = Field(
        min_length=1, max_length=200_000, description="A policy file, TOML or JSON, as `crosspost policy set` takes"
    )


def _view(org: str, policy: Any) -> PolicyView:
    from scheduler.editorial.policy import policy_as_toml

    return PolicyView(org=org, rules=len(policy.rules), toml=policy_as_toml(policy), document=policy.to_document())


@router.get("/organisations/{name}/policy", summary="The organisation's approval policy (its members)")
def get_policy(name: OrgName, caller: Caller, runtime: RuntimeDep) -> PolicyView:
    from scheduler.editorial import signoff
    from scheduler.editorial.people import org_named

    with runtime.db.read() as session:
        require_view(session, caller.user, org_named(session, name).id, f"the policy of {name}")
    return _view(name, signoff.show_policy(runtime.db, org=name))


@router.put(
    "/organisations/{name}/policy", summary="Replace the organisation's policy (its admins); a bad one changes nothing"
)
def set_policy(name: OrgName, body: NewPolicy, caller: Caller, runtime: RuntimeDep) -> PolicyView:
    from scheduler.editorial import signoff

    policy = signoff.set_policy(
        runtime.db, org=name, text=body.text, source="the request", now=runtime.clock(), actor=caller.user
    )
    return _view(name, policy)
