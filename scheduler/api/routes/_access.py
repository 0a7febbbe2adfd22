"""What a caller may read: the organisations whose things they see, and lookups that say which name
is unknown without listing other organisations' names.

Writes are checked by the services themselves (``authorize`` inside each one); reads of an
organisation's things need membership of it (``Action.VIEW``), checked here before the service is
called. A token sees only its own organisation (``scoped_roles``, through the acting context).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from scheduler.api.problems import ApiProblem
from scheduler.editorial.authorization import Action, authorize
from scheduler.editorial.people import memberships, org_named, user_named
from scheduler.errors import NotFound
from scheduler.store import Channel


def visible_orgs(session: Session, user: str) -> dict[int, str]:
    """The caller's organisations (id -> role) that count now: a token's one, or all of a session's."""
    return memberships(session, user_named(session, user))


def is_host_admin(session: Session, user: str) -> bool:
    """Whether the caller may act instance-wide (things that belong to no organisation)."""
    from scheduler.errors import Refused

    try:
        authorize(session, user, Action.VIEW, [])
    except Refused:
        return False
    return True


def require_view(session: Session, user: str, org_id: int | None, subject: str) -> None:
    """Refused (403) unless the caller is a member of ``org_id`` (a host admin, for no organisation)."""
    authorize(session, user, Action.VIEW, [org_id], subject=subject)


def org_id_of(session: Session, name: str) -> int:
    return org_named(session, name).id


def channel_named(session: Session, name: str) -> Channel:
    """The channel, or 404 naming it (without the list of every organisation's channels)."""
    channel = session.scalar(select(Channel).where(Channel.name == name))
    if channel is None:
        raise NotFound(f"no channel named {name!r}")
    return channel


def default_org(org: str | None, caller_org: str | None, *, what: str) -> str:
    """The organisation a read is about: the one asked for, else the token's."""
    chosen = org or caller_org
    if chosen is None:
        raise ApiProblem(422, f"say which organisation's {what}: org=NAME", field="org")
    return chosen


def parse_instant(text: str, tz: str | None, *, now: datetime, field: str) -> datetime:
    """An instant as the CLI takes it: an ISO instant with an offset, or a wall time with ``tz``
    (a time in a DST gap or fold is refused naming the valid times around it)."""
    from scheduler.errors import InvalidInput
    from scheduler.when import parse_due

    zone = tz
    if zone is None:  # without a zone, a time without an offset is UTC (as `crosspost report` reads it)
        try:
            zone = None if datetime.fromisoformat(text.strip()).tzinfo is not None else "UTC"
        except ValueError:
            zone = "UTC"
    try:
        return parse_due(text, zone, now=now, allow_past=True).utc
    except InvalidInput as error:
        raise ApiProblem(422, f"{field}: {error}", field=field) from None
