"""Signing in and out (web sessions), who the caller is, and accepting an invitation.

``POST /session`` sets the ``crosspost_session`` cookie (HTTP-only, SameSite=Lax, Secure when
the web base URL is https) and answers the session's CSRF token, which every request the cookie
authenticates and that changes something sends back in ``X-CSRF-Token``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from scheduler.accounts.sessions import SESSION_COOKIE
from scheduler.api.auth import Caller, Principal, RuntimeDep
from scheduler.api.problems import MEDIA_TYPE, ApiProblem, Problem
from scheduler.runtime import Runtime

router = APIRouter(tags=["session"])

# answers that check a password may be throttled (scheduler/accounts/sessions.py)
THROTTLED: dict[int | str, dict[str, Any]] = {
    429: {
        "model": Problem,
        "content": {MEDIA_TYPE: {}},
        "description": "Too many failed sign-ins; Retry-After says when to try again",
    }
}


class Credentials(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100, description="The user name")
    password: str = Field(min_length=1, max_length=1024)
    totp: str | None = Field(None, max_length=12, description="The authenticator app's code, when the account has one")


class Membership(BaseModel):
    org: str
    role: str


class SignedInView(BaseModel):
    user: str
    csrf_token: str = Field(description="Send it as X-CSRF-Token with every request that changes something")
    expires_at: datetime = Field(description="The session ends then at the latest (and sooner when unused)")
    organisations: list[Membership]


class TokenScope(BaseModel):
    id: int
    org: str
    role: str


class Me(BaseModel):
    user: str
    display_name: str
    email: str | None
    via: str = Field(description="token:<id> or session:<id>")
    memberships: list[Membership] = Field(description="Every role the person holds")
    token: TokenScope | None = Field(description="A token acts only here, at most at this role")
    totp: bool = Field(description="Whether signing in needs an authenticator code")


class NewPassword(BaseModel):
    model_config = ConfigDict(extra="forbid")

    password: str = Field(min_length=1, max_length=1024, description="At least 12 characters, not the user name")


class Accepted(BaseModel):
    user: str


def _memberships(runtime: Runtime, user: str) -> list[Membership]:
    from sqlalchemy import select

    from scheduler.store import Membership as Member
    from scheduler.store import Organisation, User

    with runtime.db.read() as session:
        rows = session.execute(
            select(Organisation.name, Member.role)
            .join(Member, Member.org_id == Organisation.id)
            .join(User, User.id == Member.user_id)
            .where(User.name == user)
            .order_by(Organisation.name)
        ).all()
    return [Membership(org=org, role=role) for org, role in rows]


@router.post(
    "/session",
    summary="Sign in: sets the session cookie and answers the CSRF token",
    responses=THROTTLED,
)
def sign_in(body: Credentials, request: Request, runtime: RuntimeDep, response: Response) -> SignedInView:
    from scheduler.accounts import sessions

    try:
        started = sessions.sign_in(
            runtime.db,
            runtime.settings,
            body.name,
            body.password,
            body.totp,
            now=runtime.clock(),
            address=request.client.host if request.client else None,
            user_agent=request.headers.get("user-agent"),
        )
    except sessions.Throttled as throttled:
        raise HTTPException(429, str(throttled), headers={"Retry-After": str(throttled.retry_after)}) from None
    except sessions.SecondFactorRequired as needed:
        raise ApiProblem(401, str(needed), field="totp") from None
    found = sessions.authenticate_session(runtime.db, runtime.settings, started.token, now=runtime.clock())
    response.set_cookie(
        SESSION_COOKIE,
        started.token,
        max_age=int(runtime.settings.session_absolute_timeout),
        path="/",
        httponly=True,
        samesite="lax",
        secure=runtime.settings.web_base_url.lower().startswith("https://"),
    )
    return SignedInView(
        user=found.user,
        csrf_token=started.csrf_token,
        expires_at=found.expires_at,
        organisations=_memberships(runtime, found.user),
    )


@router.delete("/session", status_code=204, summary="Sign out: ends this session")
def sign_out(caller: Caller, request: Request, runtime: RuntimeDep, response: Response) -> None:
    from scheduler.accounts import sessions

    if not caller.via.startswith("session:"):
        raise ApiProblem(409, "signed in with an API token, not a session: revoke it instead (DELETE /tokens/ID)")
    sessions.sign_out(runtime.db, request.cookies.get(SESSION_COOKIE, ""))
    response.delete_cookie(SESSION_COOKIE, path="/")


@router.post(
    "/session/sign-out-everywhere",
    summary="End every web session of the caller (API tokens stay: revoke them apart)",
)
def sign_out_everywhere(caller: Caller, runtime: RuntimeDep, response: Response) -> dict[str, int]:
    from scheduler.accounts import sessions

    ended = sessions.sign_out_everywhere(runtime.db, caller.user, now=runtime.clock(), actor=caller.user)
    if caller.via.startswith("session:"):
        response.delete_cookie(SESSION_COOKIE, path="/")
    return {"sessions_ended": ended}


@router.get("/me", summary="Who the caller is: user, roles, how they are signed in, a token's scope")
def me(caller: Caller, runtime: RuntimeDep) -> Me:
    from scheduler.accounts import totp
    from scheduler.editorial.people import user_named

    with runtime.db.read() as session:
        person = user_named(session, caller.user)
        display_name, email, second_factor = person.display_name, person.email, totp.enabled(runtime.settings, person)
    token = None
    if caller.via.startswith("token:") and caller.org is not None and caller.role is not None:
        token = TokenScope(id=int(caller.via.partition(":")[2]), org=caller.org, role=caller.role)
    return Me(
        user=caller.user,
        display_name=display_name,
        email=email,
        via=caller.via,
        memberships=_memberships(runtime, caller.user),
        token=token,
        totp=second_factor,
    )


@router.post(
    "/invitations/{token}",
    summary="Set one's password with an invitation link's token (once; no sign-in needed)",
)
def accept_invitation(
    token: Annotated[str, Path(min_length=1, max_length=200)], body: NewPassword, runtime: RuntimeDep
) -> Accepted:
    from scheduler.accounts.invitations import accept_invitation as accept
    from scheduler.errors import InvalidInput

    try:
        user = accept(runtime.db, runtime.settings, token, body.password, now=runtime.clock())
    except InvalidInput as refused:
        if type(refused) is not InvalidInput:
            raise
        raise ApiProblem(422, str(refused), field="password") from None  # the password policy
    return Accepted(user=user)


# -- one's own account: password and second factor, proven by the current password -------------------


class PasswordChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    current: str = Field(min_length=1, max_length=1024, description="The password now")
    new: str = Field(min_length=1, max_length=1024, description="At least 12 characters, not the user name")


class PasswordProof(BaseModel):
    model_config = ConfigDict(extra="forbid")

    password: str = Field(min_length=1, max_length=1024, description="The current password")


class TotpCode(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: str = Field(min_length=6, max_length=12, description="The code the authenticator app shows now")


class TotpStarted(BaseModel):
    secret: str = Field(description="Base32, to type into the app")
    uri: str = Field(description="otpauth:// URI, for a QR code")


def _prove(runtime: Runtime, caller: Principal, password: str, request: Request) -> None:
    """A stolen session or token must not change how its owner signs in: the password first."""
    from scheduler.accounts import sessions
    from scheduler.accounts.tokens import Unauthenticated

    try:
        sessions.reauthenticate(
            runtime.db,
            runtime.settings,
            caller.user,
            password,
            now=runtime.clock(),
            address=request.client.host if request.client else None,
        )
    except sessions.Throttled as throttled:
        raise HTTPException(429, str(throttled), headers={"Retry-After": str(throttled.retry_after)}) from None
    except Unauthenticated as wrong:  # signed in all the same: 403, not 401
        raise ApiProblem(403, str(wrong), field="password") from None


@router.put(
    "/me/password", status_code=204, summary="Change one's password; ends every web session", responses=THROTTLED
)
def change_password(
    body: PasswordChange, caller: Caller, request: Request, runtime: RuntimeDep, response: Response
) -> None:
    from scheduler.accounts.passwords import set_password
    from scheduler.errors import InvalidInput

    _prove(runtime, caller, body.current, request)
    try:
        set_password(runtime.db, runtime.settings, caller.user, body.new, now=runtime.clock(), actor=caller.user)
    except InvalidInput as refused:
        raise ApiProblem(422, str(refused), field="new") from None
    response.delete_cookie(SESSION_COOKIE, path="/")


@router.post("/me/totp", summary="Start setting up a second factor (on once confirmed)", responses=THROTTLED)
def start_totp(body: PasswordProof, caller: Caller, request: Request, runtime: RuntimeDep) -> TotpStarted:
    from scheduler.accounts import totp

    _prove(runtime, caller, body.password, request)
    setup = totp.start_totp(runtime.db, runtime.settings, caller.user, now=runtime.clock(), actor=caller.user)
    return TotpStarted(secret=setup.secret, uri=setup.uri)


@router.post("/me/totp/confirm", status_code=204, summary="Turn the second factor on with a code from the app")
def confirm_totp(body: TotpCode, caller: Caller, runtime: RuntimeDep) -> None:
    from scheduler.accounts import totp

    totp.confirm_totp(runtime.db, runtime.settings, caller.user, body.code, now=runtime.clock(), actor=caller.user)


@router.post("/me/totp/off", status_code=204, summary="Turn the second factor off", responses=THROTTLED)
def disable_totp(body: PasswordProof, caller: Caller, request: Request, runtime: RuntimeDep) -> None:
    from scheduler.accounts import totp

    _prove(runtime, caller, body.password, request)
    totp.disable_totp(runtime.db, caller.user, now=runtime.clock(), actor=caller.user)
