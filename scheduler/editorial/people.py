"""Organisations and the people in them: names, accounts, roles and memberships."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from scheduler.acting import current_via, scoped_roles
from scheduler.editorial.authorization import Action, authorize
from scheduler.editorial.policy import (
    parse_role,
)
from scheduler.errors import InvalidInput, NotFound, StateConflict
from scheduler.publishing.transitions import record_event
from scheduler.store import (
    Channel,
    Database,
    Membership,
    Organisation,
    User,
)

NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,99}$")


def _check_name(kind: str, name: str) -> None:
    if not NAME.match(name):
        raise InvalidInput(f"{kind} name {name!r}: use lower-case letters, digits, '-', '_' or '.'")


def add_org(
    db: Database,
    *,
    name: str,
    now: datetime,
    display_name: str | None = None,
    kind: str = "host",
    actor: str | None = None,
) -> Organisation:
    _check_name("organisation", name)
    if kind not in ("host", "partner"):
        raise InvalidInput(f"organisation kind {kind!r}: use host or partner")
    with db.transaction() as session:
        if session.scalar(select(Organisation.id).where(Organisation.name == name)) is not None:
            raise InvalidInput(f"an organisation named {name!r} already exists")
        org = Organisation(name=name, display_name=display_name or name, kind=kind, policy=None, created_at=now)
        session.add(org)
        session.flush()
        record_event(session, "org.added", now=now, actor=actor, message=f"{name} ({kind})", data={"org": name})
        return org


def add_user(
    db: Database,
    *,
    name: str,
    now: datetime,
    display_name: str | None = None,
    email: str | None = None,
    actor: str | None = None,
) -> User:
    _check_name("user", name)
    with db.transaction() as session:
        if session.scalar(select(User.id).where(User.name == name)) is not None:
            raise InvalidInput(f"a user named {name!r} already exists")
        user = User(name=name, display_name=display_name or name, email=email, created_at=now)
        session.add(user)
        session.flush()
        record_event(session, "user.added", now=now, actor=actor, message=name, data={"user": name})
        return user


def set_role(db: Database, *, user: str, org: str, role: str | None, now: datetime, actor: str | None = None) -> None:
    """Give ``user`` a role in ``org`` (or remove them with ``role=None``)."""
    role = parse_role(role) if role is not None else None
    with db.transaction() as session:
        organisation = org_named(session, org)
        authorize(session, actor, Action.MANAGE_MEMBERS, [organisation.id])
        person = user_named(session, user)
        membership = session.scalar(
            select(Membership).where(Membership.user_id == person.id, Membership.org_id == organisation.id)
        )
        if role is None:
            if membership is None:
                raise StateConflict(f"{user} is not a member of {org}")
            session.delete(membership)
        elif membership is None:
            session.add(Membership(user_id=person.id, org_id=organisation.id, role=role))
        else:
            membership.role = role
        record_event(
            session,
            "user.role",
            now=now,
            actor=actor,
            message=f"{user} in {org}: {role or 'removed'}",
            data={"user": user, "org": org, "role": role},
        )


def org_named(session: Session, name: str) -> Organisation:
    org = session.scalar(select(Organisation).where(Organisation.name == name))
    if org is None:
        if current_via() not in (None, "operator"):  # through the API or the web app: no other names
            raise NotFound(f"no organisation named {name!r}")
        known = ", ".join(sorted(session.scalars(select(Organisation.name)))) or "none yet (crosspost org add)"
        raise NotFound(f"no organisation named {name!r}; known: {known}")
    return org


def user_named(session: Session, name: str) -> User:
    user = session.scalar(select(User).where(User.name == name))
    if user is None:
        raise NotFound(f"no user named {name!r}; add one with: crosspost user add {name}")
    return user


def role_of(session: Session, user: User, org_id: int) -> str | None:
    return memberships(session, user).get(org_id)


def memberships(session: Session, user: User) -> dict[int, str]:
    """The roles that count for ``user`` now: an API token's scope narrows them (``scheduler.acting``)."""
    return scoped_roles(
        dict(session.execute(select(Membership.org_id, Membership.role).where(Membership.user_id == user.id)).all()),
        user.name,
    )


def article(word: str | None) -> str:
    return "an" if word and word[0] in "aeiou" else "a"


def list_orgs(db: Database) -> list[dict[str, Any]]:
    with db.transaction() as session:
        rows = []
        for org in session.scalars(select(Organisation).order_by(Organisation.name)):
            members = session.execute(
                select(User.name, Membership.role)
                .join(Membership, Membership.user_id == User.id)
                .where(Membership.org_id == org.id)
                .order_by(User.name)
            ).all()
            channels = list(
                session.scalars(select(Channel.name).where(Channel.org_id == org.id).order_by(Channel.name))
            )
            rows.append(
                {
                    "name": org.name,
                    "display_name": org.display_name,
                    "kind": org.kind,
                    "policy": "custom" if org.policy else "default",
                    "members": {name: role for name, role in members},
                    "channels": channels,
                }
            )
        return rows


def list_users(db: Database) -> list[dict[str, Any]]:
    with db.transaction() as session:
        orgs = dict(session.execute(select(Organisation.id, Organisation.name)).all())
        return [
            {
                "name": user.name,
                "display_name": user.display_name,
                "email": user.email,
                "roles": {orgs[org_id]: role for org_id, role in memberships(session, user).items()},
            }
            for user in session.scalars(select(User).order_by(User.name))
        ]


def org_named_by_id(session: Session, org_id: int | None) -> str:
    org = session.get(Organisation, org_id) if org_id is not None else None
    return org.name if org else "no organisation"
