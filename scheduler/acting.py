"""Who is acting, and through what: the context every face sets before it calls a service.

The services take an ``actor`` (a user name) and check it with ``editorial.authorization``. The
face that reached them adds two facts the services need but should not have to be passed:

* ``via`` — how the actor got in, written on every event so the audit log tells the operator at
  the console acting for someone (``operator``: the CLI with ``--as``) from that person's own API
  token (``token:<id>``) or web session (``session:<id>``);
* a token's **scope** — an API token works in one organisation and at most at one role, whatever
  more its owner holds: ``authorize`` and the sign-off count read roles through ``scoped_roles``.

A context variable, so each request, thread or task has its own; nothing set means crosspost
itself (workers, the dispatcher) or a caller that set nothing (the tests of the core).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

from scheduler.editorial.roles import ROLES


@dataclass(frozen=True)
class Acting:
    via: str  # "operator", "token:<id>" or "session:<id>"
    org_id: int | None = None  # a token's organisation: roles elsewhere do not count
    max_role: str | None = None  # a token's role: a higher role held does not count
    user: str | None = None  # whose roles the scope narrows (a token's owner); others' roles are read as held


_current: ContextVar[Acting | None] = ContextVar("crosspost_acting", default=None)


def current() -> Acting | None:
    return _current.get()


def current_via() -> str | None:
    acting = _current.get()
    return None if acting is None else acting.via


@contextmanager
def acting_as(acting: Acting) -> Iterator[Acting]:
    token = _current.set(acting)
    try:
        yield acting
    finally:
        _current.reset(token)


def scoped_roles(roles: dict[int, str], user: str) -> dict[int, str]:
    """The roles (organisation id -> role) of ``user`` that count now: all of them, or, when
    ``user`` acts through a token, only its organisation's, capped at the token's role. Another
    person's roles (a list of members, who may sign a post) are never narrowed by the token."""
    acting = _current.get()
    if acting is None or acting.org_id is None or acting.user != user:
        return roles
    held = roles.get(acting.org_id)
    if held is None:
        return {}
    if acting.max_role is not None and ROLES.index(acting.max_role) < ROLES.index(held):
        held = acting.max_role
    return {acting.org_id: held}
