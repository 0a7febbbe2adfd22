"""Who is looking at a page: the signed-in person (a web session), their organisations and roles.

``viewer`` is the dependency every page takes: without a valid session it sends the browser to
the sign-in page and back afterwards. While the page runs, the acting context says
``session:<id>``, so authorization and the audit log see the person and how they came in.
Every form post carries the session's CSRF token (``check_csrf``); htmx sends it as a header.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Annotated
from urllib.parse import quote

from fastapi import Depends, Request
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from scheduler.accounts.sessions import SESSION_COOKIE
from scheduler.acting import Acting, acting_as
from scheduler.api.auth import RuntimeDep as RuntimeDep
from scheduler.api.auth import runtime_of
from scheduler.runtime import Runtime
from scheduler.store import Membership, Organisation, User


class SignInRequired(Exception):
    """No valid session: the page answers with a redirect to the sign-in page."""

    def __init__(self, next_path: str) -> None:
        super().__init__(next_path)
        self.next_path = next_path


class CsrfRefused(Exception):
    """A form post without the session's CSRF token: refused, nothing done."""


@dataclass(frozen=True)
class OrgRole:
    org: str
    org_display: str
    org_id: int
    role: str
    kind: str


@dataclass(frozen=True)
class Viewer:
    user: str
    display_name: str
    session_id: int
    csrf_token: str
    organisations: tuple[OrgRole, ...]

    def role_in(self, org: str) -> str | None:
        return next((m.role for m in self.organisations if m.org == org), None)

    @property
    def org_names(self) -> list[str]:
        return [m.org for m in self.organisations]


def _load(runtime: Runtime, raw: str) -> Viewer | None:
    from scheduler.accounts.sessions import authenticate_session
    from scheduler.accounts.tokens import Unauthenticated

    try:
        session_info = authenticate_session(runtime.db, runtime.settings, raw, now=runtime.clock())
    except Unauthenticated:
        return None
    with runtime.db.read() as session:
        user = session.scalar(select(User).where(User.name == session_info.user))
        if user is None:
            return None
        rows = session.execute(
            select(Organisation.name, Organisation.display_name, Organisation.id, Membership.role, Organisation.kind)
            .join(Membership, Membership.org_id == Organisation.id)
            .where(Membership.user_id == user.id)
            .order_by(Organisation.name)
        ).all()
        return Viewer(
            user=user.name,
            display_name=user.display_name or user.name,
            session_id=session_info.session_id,
            csrf_token=session_info.csrf_token,
            organisations=tuple(OrgRole(*row) for row in rows),
        )


async def viewer(request: Request) -> AsyncIterator[Viewer]:
    raw = request.cookies.get(SESSION_COOKIE)
    found = await run_in_threadpool(_load, runtime_of(request), raw) if raw else None
    if found is None:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise SignInRequired(target)
    with acting_as(Acting(via=f"session:{found.session_id}")):
        yield found


def check_csrf(seen: Viewer, token: str | None) -> None:
    if not token or token != seen.csrf_token:
        raise CsrfRefused()


def sign_in_url(next_path: str) -> str:
    return f"/signin?next={quote(next_path, safe='/')}"


Seen = Annotated[Viewer, Depends(viewer)]
