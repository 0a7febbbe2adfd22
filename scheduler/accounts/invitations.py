"""Invitation links: how a person sets their (first, or forgotten) password, once.

The link carries a random token; the database keeps its SHA-256 only. A link works once and
until it expires; a new invitation for the same person replaces any unused one.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update

from scheduler.accounts import passwords
from scheduler.accounts.passwords import authorize_account_change
from scheduler.accounts.tokens import digest
from scheduler.editorial.people import user_named
from scheduler.errors import InvalidInput, NotFound, StateConflict
from scheduler.publishing.transitions import record_event
from scheduler.settings import Settings
from scheduler.store import Database, Invitation, User

VALID_FOR = timedelta(days=7)
MAX_TOKEN = 200


@dataclass(frozen=True)
class NewInvitation:
    user: str
    token: str  # shown once, never stored
    url: str
    expires_at: datetime


def link(settings: Settings, token: str) -> str:
    return f"{settings.web_base_url.rstrip('/')}/invite/{token}"


def invite(
    db: Database,
    settings: Settings,
    user: str,
    *,
    now: datetime,
    actor: str | None = None,
    valid_for: timedelta = VALID_FOR,
) -> NewInvitation:
    """A one-time link for ``user`` to set a password; earlier unused links stop working."""
    if valid_for <= timedelta(0):
        raise InvalidInput("an invitation must be valid for some time")
    token = secrets.token_urlsafe(32)
    with db.transaction() as session:
        person = user_named(session, user)
        # not even for oneself: a stolen session must not be turned into a password of the thief's
        authorize_account_change(session, actor, person, f"invite {user}", oneself=False)
        session.execute(delete(Invitation).where(Invitation.user_id == person.id, Invitation.used_at.is_(None)))
        session.add(
            Invitation(
                user_id=person.id,
                token_hash=digest(token),
                created_by=actor,
                created_at=now,
                expires_at=now + valid_for,
            )
        )
        record_event(
            session,
            "user.invited",
            now=now,
            actor=actor,
            message=f"{user}: a link valid until {(now + valid_for).isoformat()}",
            data={"user": user},
        )
    return NewInvitation(user, token, link(settings, token), now + valid_for)


def accept_invitation(db: Database, settings: Settings, token: str, password: str, *, now: datetime) -> str:
    """Set the invited person's password from their link; whose it was. A used, expired or
    unknown link is refused, saying which; a refused password leaves the link usable."""
    token = token.strip()
    if not token or len(token) > MAX_TOKEN:
        raise NotFound("unknown invitation link")
    with db.read() as session:
        row = session.execute(
            select(Invitation, User.name)
            .join(User, User.id == Invitation.user_id)
            .where(Invitation.token_hash == digest(token))
        ).first()
        if row is None:
            raise NotFound("unknown invitation link; ask for a new one")
        invitation, user = row
        _check_usable(invitation, now)
        invitation_id = invitation.id
    hashed = passwords.hash_password(settings, user, password)  # the policy, before the link is spent
    with db.transaction() as session:
        taken = session.execute(
            update(Invitation).where(Invitation.id == invitation_id, Invitation.used_at.is_(None)).values(used_at=now)
        ).rowcount  # type: ignore[attr-defined]
        if not taken:  # used by a concurrent request between our read and this write
            raise StateConflict("this invitation link was already used; ask for a new one")
        person = user_named(session, user)
        passwords.store_password(session, person, hashed, now=now)
        record_event(
            session, "user.password_set", now=now, actor=user, message=f"{user}, by invitation", data={"user": user}
        )
    return str(user)


def _check_usable(invitation: Invitation, now: datetime) -> None:
    if invitation.used_at is not None:
        raise StateConflict(
            f"this invitation link was already used (at {invitation.used_at.isoformat(timespec='minutes')}); "
            "ask for a new one"
        )
    if invitation.expires_at <= now:
        raise StateConflict(
            f"this invitation link expired at {invitation.expires_at.isoformat(timespec='minutes')}; ask for a new one"
        )
