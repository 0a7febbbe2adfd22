"""Who is calling: an API token (``Authorization: Bearer cp_...``) or, for the web app, a session.

``principal`` is the dependency every endpoint takes. It authenticates, then sets the acting
context (``scheduler.acting``) for the rest of the request, so the services' one authorization
check sees the token's scope and every event records ``via``.

A session (the ``crosspost_session`` cookie, set by ``POST /session``) acts in all the user's
organisations; a request it authenticates that changes something must also carry the session's
CSRF token in ``X-CSRF-Token``, or it is refused (403). A bearer token, when sent, wins.
"""

from __future__ import annotations

import hmac
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import APIKeyCookie, HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from scheduler.accounts.sessions import SESSION_COOKIE
from scheduler.accounts.tokens import Unauthenticated, authenticate
from scheduler.acting import Acting, acting_as
from scheduler.api.problems import ApiProblem
from scheduler.runtime import Runtime

CSRF_HEADER = "X-CSRF-Token"
MUTATING = frozenset({"POST", "PUT", "PATCH", "DELETE"})

bearer = HTTPBearer(auto_error=False, description="An API token: crosspost token create")
session_cookie = APIKeyCookie(
    name=SESSION_COOKIE,
    auto_error=False,
    description=f"A web session (POST /api/v1/session); a request that changes something also sends {CSRF_HEADER}",
)


@dataclass(frozen=True)
class Principal:
    user: str
    via: str  # "token:<id>" or "session:<id>"
    org_id: int | None  # a token's organisation (None: a session, all the user's organisations)
    org: str | None
    role: str | None  # a token's effective role

    @property
    def acting(self) -> Acting:
        return Acting(via=self.via, org_id=self.org_id, max_role=self.role, user=self.user)


def runtime_of(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(runtime_of)]


async def principal(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    cookie: Annotated[str | None, Depends(session_cookie)],
) -> AsyncIterator[Principal]:
    runtime = runtime_of(request)
    if credentials is not None and credentials.scheme.lower() == "bearer":
        found = await run_in_threadpool(authenticate, runtime.db, credentials.credentials, now=runtime.clock())
        caller = Principal(
            user=found.user, via=f"token:{found.token_id}", org_id=found.org_id, org=found.org, role=found.role
        )
    elif cookie:
        caller = await run_in_threadpool(_session_caller, runtime, cookie, request)
    else:
        raise Unauthenticated(
            "no credentials: send Authorization: Bearer <token> (crosspost token create), or sign in (POST /session)"
        )
    # the endpoint (run in a worker thread with a copy of this context) acts as the caller
    with acting_as(caller.acting):
        yield caller


def _session_caller(runtime: Runtime, raw: str, request: Request) -> Principal:
    from scheduler.accounts.sessions import authenticate_session

    found = authenticate_session(runtime.db, runtime.settings, raw, now=runtime.clock())
    # a browser sends the cookie with any request another site makes it send; only a page of
    # crosspost's own knows the session's CSRF token
    if request.method in MUTATING and not hmac.compare_digest(
        request.headers.get(CSRF_HEADER, "").encode(), found.csrf_token.encode()
    ):
        raise ApiProblem(
            403,
            f"a request signed in by the session cookie that changes something must send the session's CSRF token "
            f"in {CSRF_HEADER} (given at sign-in)",
            field=CSRF_HEADER,
        )
    return Principal(user=found.user, via=f"session:{found.session_id}", org_id=None, org=None, role=None)


Caller = Annotated[Principal, Depends(principal)]
