"""Who is calling: an API token (``Authorization: Bearer cp_...``) or, for the web app, a session.

``principal`` is the dependency every endpoint takes. It authenticates, then sets the acting
context (``scheduler.acting``) for the rest of the request, so the services' one authorization
check sees the token's scope and every event records ``via``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from scheduler.accounts.tokens import Unauthenticated, authenticate
from scheduler.acting import Acting, acting_as
from scheduler.runtime import Runtime

bearer = HTTPBearer(auto_error=False, description="An API token: crosspost token create")


@dataclass(frozen=True)
class Principal:
    user: str
    via: str  # "token:<id>" or "session:<id>"
    org_id: int | None  # a token's organisation (None: a session, all the user's organisations)
    org: str | None
    role: str | None  # a token's effective role

    @property
    def acting(self) -> Acting:
        return Acting(via=self.via, org_id=self.org_id, max_role=self.role)


def runtime_of(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(runtime_of)]


async def principal(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> AsyncIterator[Principal]:
    runtime = runtime_of(request)
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Unauthenticated("no credentials: send Authorization: Bearer <token> (crosspost token create)")
    found = await run_in_threadpool(authenticate, runtime.db, credentials.credentials, now=runtime.clock())
    caller = Principal(
        user=found.user, via=f"token:{found.token_id}", org_id=found.org_id, org=found.org, role=found.role
    )
    # the endpoint (run in a worker thread with a copy of this context) acts as the caller
    with acting_as(caller.acting):
        yield caller


Caller = Annotated[Principal, Depends(principal)]
