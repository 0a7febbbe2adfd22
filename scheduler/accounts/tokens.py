"""API tokens: shown once, stored as a hash, scoped to one organisation and a role, revocable.

A token is ``cp_`` and 43 URL-safe characters (256 random bits): a SHA-256 of it is all the
database keeps, which is enough for a secret that cannot be guessed (a slow password hash would
only slow every API request). Each use re-checks the owner's membership, so a token never acts
above what its owner holds *now*: demoting or removing a person narrows their tokens at once.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select

from scheduler.editorial.authorization import Action, authorize
from scheduler.editorial.people import org_named, user_named
from scheduler.editorial.policy import parse_role
from scheduler.editorial.roles import ROLES
from scheduler.errors import InvalidInput, NotFound, Refused
from scheduler.publishing.transitions import record_event
from scheduler.store import ApiToken, Database, Membership, Organisation, User

PREFIX = "cp_"
# a token's last-used time is written at most this often: a busy client must not turn every
# read into a write (SQLite has one writer)
LAST_USED_RESOLUTION = timedelta(minutes=1)


class Unauthenticated(Exception):
    """No valid credentials: the API answers 401. The message says which check failed."""


def digest(raw: str) -> str:
    return hashlib.sha256(raw.encode("utf-8", "surrogateescape")).hexdigest()


@dataclass(frozen=True)
class TokenPrincipal:
    token_id: int
    user: str
    org_id: int
    org: str
    role: str  # the lower of the token's role and what its owner holds in org now


@dataclass(frozen=True)
class NewToken:
    id: int
    token: str  # shown once, never stored
    name: str
    user: str
    org: str
    role: str
    expires_at: datetime | None


def create_token(
    db: Database,
    *,
    user: str,
    org: str,
    role: str,
    name: str,
    now: datetime,
    expires_in: timedelta | None = timedelta(days=90),
    actor: str | None = None,
) -> NewToken:
    """A token for ``user`` in ``org`` at ``role`` (at most the role ``user`` holds there).

    People make their own tokens; an admin of the organisation may make one for anyone in it (a
    partner's integration account, say)."""
    role = parse_role(role)
    name = name.strip()
    if not name or len(name) > 100:
        raise InvalidInput("a token needs a name of 1 to 100 characters, to tell it apart later")
    if expires_in is not None and expires_in <= timedelta(0):
        raise InvalidInput("a token's lifetime must be positive")
    with db.transaction() as session:
        organisation = org_named(session, org)
        owner = user_named(session, user)
        if actor is not None and actor != user:
            authorize(session, actor, Action.MANAGE_MEMBERS, [organisation.id], doing=f"make a token for {user}")
        held = session.scalar(
            select(Membership.role).where(Membership.user_id == owner.id, Membership.org_id == organisation.id)
        )
        if held is None:
            raise Refused(f"rule 'roles': {user} is not a member of {org}; a token acts only where its owner does")
        if ROLES.index(role) > ROLES.index(held):
            raise Refused(f"rule 'roles': {user} is {held} in {org}; a token cannot be {role}, above its owner")
        raw = PREFIX + secrets.token_urlsafe(32)
        token = ApiToken(
            name=name,
            prefix=raw[:10],
            token_hash=digest(raw),
            user_id=owner.id,
            org_id=organisation.id,
            role=role,
            created_by=actor,
            created_at=now,
            expires_at=None if expires_in is None else now + expires_in,
        )
        session.add(token)
        session.flush()
        record_event(
            session,
            "token.created",
            now=now,
            actor=actor,
            message=f"token {token.id} ({name}) for {user} in {org} as {role}",
            data={"token": token.id, "user": user, "org": org, "role": role},
        )
        return NewToken(token.id, raw, name, user, org, role, token.expires_at)


def list_tokens(db: Database, *, user: str | None = None, org: str | None = None) -> list[dict[str, Any]]:
    """Tokens as a person may see them: never the secret, only its first characters."""
    with db.read() as session:
        query = (
            select(ApiToken, User.name, Organisation.name)
            .join(User, User.id == ApiToken.user_id)
            .join(Organisation, Organisation.id == ApiToken.org_id)
            .order_by(ApiToken.id)
        )
        if user is not None:
            query = query.where(User.name == user)
        if org is not None:
            query = query.where(Organisation.name == org)
        return [
            {
                "id": token.id,
                "name": token.name,
                "prefix": token.prefix,
                "user": user_name,
                "org": org_name,
                "role": token.role,
                "created_at": token.created_at.isoformat(),
                "expires_at": token.expires_at.isoformat() if token.expires_at else None,
                "revoked_at": token.revoked_at.isoformat() if token.revoked_at else None,
                "last_used_at": token.last_used_at.isoformat() if token.last_used_at else None,
            }
            for token, user_name, org_name in session.execute(query)
        ]


def revoke_token(db: Database, token_id: int, *, now: datetime, actor: str | None = None) -> None:
    """Revoke at once; its owner or an admin of its organisation may."""
    with db.transaction() as session:
        token = session.get(ApiToken, token_id)
        if token is None:
            raise NotFound(f"no token {token_id}; see crosspost token list")
        owner = session.get(User, token.user_id)
        if actor is not None and (owner is None or owner.name != actor):
            authorize(session, actor, Action.MANAGE_MEMBERS, [token.org_id], doing=f"revoke token {token_id}")
        if token.revoked_at is None:
            token.revoked_at = now
            record_event(session, "token.revoked", now=now, actor=actor, message=f"token {token_id} revoked")


def authenticate(db: Database, raw: str, *, now: datetime) -> TokenPrincipal:
    """The principal a bearer token stands for, or ``Unauthenticated`` naming why not."""
    if not raw.startswith(PREFIX) or len(raw) > 200:
        raise Unauthenticated("not a crosspost API token")
    with db.read() as session:
        row = session.execute(
            select(ApiToken, User, Organisation)
            .join(User, User.id == ApiToken.user_id)
            .join(Organisation, Organisation.id == ApiToken.org_id)
            .where(ApiToken.token_hash == digest(raw))
        ).first()
        if row is None:
            raise Unauthenticated("unknown token")
        token, owner, organisation = row
        if token.revoked_at is not None:
            raise Unauthenticated(f"token {token.id} was revoked")
        if token.expires_at is not None and token.expires_at <= now:
            raise Unauthenticated(f"token {token.id} expired at {token.expires_at.isoformat()}")
        if owner.disabled_at is not None:
            raise Unauthenticated(f"the account {owner.name} is disabled")
        held = session.scalar(
            select(Membership.role).where(Membership.user_id == owner.id, Membership.org_id == token.org_id)
        )
        if held is None:
            raise Unauthenticated(f"{owner.name} is no longer a member of {organisation.name}")
        role = min(held, token.role, key=ROLES.index)
        stale = token.last_used_at is None or now - token.last_used_at >= LAST_USED_RESOLUTION
        principal = TokenPrincipal(token.id, owner.name, organisation.id, organisation.name, role)
    if stale:
        with db.transaction() as session:
            fresh = session.get(ApiToken, principal.token_id)
            if fresh is not None:
                fresh.last_used_at = now
    return principal
