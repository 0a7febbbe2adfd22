"""Web sessions: sign-in with throttling, idle and absolute timeouts, sign-out (everywhere).

A session is a random token in an HTTP-only cookie; the database keeps its SHA-256 only, so a
copy of the database opens no session. Each session has its own CSRF token, which the web app
sends back in a header (or a form field) with every request that changes something.

Failed sign-ins are rows in ``login_attempts``, one per key: ``user:<name>`` and
``ip:<address>``. Too many in ``THROTTLE_WINDOW`` and the next sign-in is refused before the
password is even checked, with the time to wait; a successful one clears the account's rows.
"""

from __future__ import annotations

import math
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import NamedTuple

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from scheduler.accounts import passwords, totp
from scheduler.accounts.passwords import authorize_account_change
from scheduler.accounts.tokens import Unauthenticated, digest
from scheduler.editorial.people import user_named
from scheduler.errors import CrosspostError, InvalidInput, Refused
from scheduler.publishing.transitions import record_event
from scheduler.settings import Settings
from scheduler.store import Database, LoginAttempt, User, WebSession

PREFIX = "cps_"
THROTTLE_WINDOW = timedelta(minutes=15)
MAX_FAILURES_PER_ACCOUNT = 5
MAX_FAILURES_PER_ADDRESS = 20  # a shared office address has several people mistyping
# a session's last-seen time is written at most this often (one writer in SQLite)
LAST_SEEN_RESOLUTION = timedelta(minutes=1)
MAX_NAME = 100


# the browser cookie that holds a session token (the web app; the API takes it too)
SESSION_COOKIE = "crosspost_session"


class Throttled(CrosspostError):
    """Too many failed sign-ins: the API answers 429 with Retry-After."""

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class SecondFactorRequired(Unauthenticated):
    """The password was right; the account also needs its authenticator code."""


class SignedIn(NamedTuple):
    token: str  # for the cookie; shown once, never stored
    csrf_token: str


@dataclass(frozen=True)
class SessionPrincipal:
    session_id: int
    user: str
    csrf_token: str
    expires_at: datetime  # the absolute end; the idle one moves with each request


def _minutes(seconds: float) -> str:
    minutes = max(1, math.ceil(seconds / 60))
    return "1 minute" if minutes == 1 else f"{minutes} minutes"


def _retry_after(session: Session, key: str, limit: int, now: datetime) -> int | None:
    """Seconds until ``key`` is under ``limit`` failures in the window again; None if it is now."""
    times = session.scalars(
        select(LoginAttempt.at)
        .where(LoginAttempt.key == key, LoginAttempt.at > now - THROTTLE_WINDOW)
        .order_by(LoginAttempt.at)
    ).all()
    if len(times) < limit:
        return None
    freed = times[len(times) - limit] + THROTTLE_WINDOW
    return max(1, math.ceil((freed - now).total_seconds()))


def _keys(name: str, address: str | None) -> list[tuple[str, int, str]]:
    keys = [(f"user:{name[:MAX_NAME]}", MAX_FAILURES_PER_ACCOUNT, "this account")]
    if address:
        keys.append((f"ip:{address[:90]}", MAX_FAILURES_PER_ADDRESS, "this address"))
    return keys


def _check_throttle(db: Database, name: str, address: str | None, now: datetime) -> None:
    with db.read() as session:
        for key, limit, what in _keys(name, address):
            wait = _retry_after(session, key, limit, now)
            if wait is not None:
                raise Throttled(
                    f"too many failed sign-ins for {what} (at most {limit} in {_minutes(THROTTLE_WINDOW.seconds)}); "
                    f"try again in {_minutes(wait)}",
                    retry_after=wait,
                )


def _record_failure(db: Database, name: str, address: str | None, now: datetime) -> None:
    with db.transaction() as session:
        session.execute(delete(LoginAttempt).where(LoginAttempt.at <= now - THROTTLE_WINDOW))
        session.add_all(LoginAttempt(key=key, at=now) for key, _, _ in _keys(name, address))


def sign_in(
    db: Database,
    settings: Settings,
    name: str,
    password: str,
    totp_code: str | None,
    *,
    now: datetime,
    address: str | None = None,
    user_agent: str | None = None,
) -> SignedIn:
    """A new session for ``name``, or ``Unauthenticated`` / ``SecondFactorRequired`` / ``Throttled``.

    A wrong name and a wrong password get the same answer, in about the same time."""
    name = name.strip()
    if not name or len(name) > MAX_NAME or not name.isprintable():
        raise InvalidInput(f"give a user name of 1 to {MAX_NAME} printable characters")
    _check_throttle(db, name, address, now)
    with db.read() as session:
        person = session.scalar(select(User).where(User.name == name))
        user_id, hashed = (None, None) if person is None else (person.id, person.password_hash)
    # verified first, whatever else is wrong: an unknown name costs the same Argon2 work as a wrong
    # password, so the time of the answer does not tell which names exist
    matches = passwords.verify(settings, hashed, password)
    if user_id is None or hashed is None or not matches:
        _record_failure(db, name, address, now)
        raise Unauthenticated("wrong user name or password")
    passwords.rehash_if_needed(db, settings, user_id, hashed, password)
    token = PREFIX + secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(32)
    with db.transaction() as session:
        person = session.get(User, user_id)
        if person is None:
            raise Unauthenticated("wrong user name or password")
        if person.disabled_at is not None:
            raise Unauthenticated(f"the account {name} is disabled")
        accepted = totp.accept_code(settings, person, totp_code, now)
        if accepted is False and not totp_code:
            raise SecondFactorRequired(f"{name} signs in with a code from their authenticator app too: give it")
        if accepted is not False:
            session.execute(delete(LoginAttempt).where(LoginAttempt.key == f"user:{name}"))
            session.execute(delete(WebSession).where(WebSession.expires_at <= now))
            session.add(
                WebSession(
                    token_hash=digest(token),
                    user_id=person.id,
                    csrf_token=csrf,
                    created_at=now,
                    last_seen_at=now,
                    expires_at=now + timedelta(seconds=settings.session_absolute_timeout),
                    user_agent=(user_agent or "")[:300] or None,
                )
            )
    if accepted is False:  # a wrong second factor counts as a failed sign-in: 10^6 codes are guessable
        _record_failure(db, name, address, now)
        raise Unauthenticated("wrong or already used authenticator code")
    return SignedIn(token, csrf)


def reauthenticate(
    db: Database, settings: Settings, name: str, password: str, *, now: datetime, address: str | None = None
) -> None:
    """The password again, before a signed-in person changes how they sign in (a stolen session
    or token must not); throttled and counted like a sign-in. ``Unauthenticated`` when wrong."""
    _check_throttle(db, name, address, now)
    with db.read() as session:
        hashed = session.scalar(select(User.password_hash).where(User.name == name))
    matches = passwords.verify(settings, hashed, password)  # the same work with or without a hash
    if hashed is None or not matches:
        _record_failure(db, name, address, now)
        raise Unauthenticated("the current password is not right")


def authenticate_session(db: Database, settings: Settings, raw: str, *, now: datetime) -> SessionPrincipal:
    """The session a cookie stands for, or ``Unauthenticated`` naming why not (an ended one is removed)."""
    if not raw.startswith(PREFIX) or len(raw) > 200:
        raise Unauthenticated("not a crosspost session")
    idle = timedelta(seconds=settings.session_idle_timeout)
    ended: str | None = None
    with db.read() as session:
        row = session.execute(
            select(WebSession, User)
            .join(User, User.id == WebSession.user_id)
            .where(WebSession.token_hash == digest(raw))
        ).first()
        if row is None:
            raise Unauthenticated("unknown or ended session; sign in again")
        web, person = row
        if web.expires_at <= now:
            ended = f"the session ended {_minutes(settings.session_absolute_timeout)} after sign-in; sign in again"
        elif now - web.last_seen_at >= idle:
            ended = f"the session ended after {_minutes(idle.total_seconds())} without use; sign in again"
        elif person.disabled_at is not None:
            ended = f"the account {person.name} is disabled"
        found = SessionPrincipal(web.id, person.name, web.csrf_token, web.expires_at)
        stale = now - web.last_seen_at >= LAST_SEEN_RESOLUTION
    if ended is not None:
        with db.transaction() as session:
            session.execute(delete(WebSession).where(WebSession.id == found.session_id))
        raise Unauthenticated(ended)
    if stale:
        with db.transaction() as session:
            seen = session.get(WebSession, found.session_id)
            if seen is not None:
                seen.last_seen_at = now
    return found


def sign_out(db: Database, raw: str) -> bool:
    """End one session; whether there was one."""
    with db.transaction() as session:
        return bool(session.execute(delete(WebSession).where(WebSession.token_hash == digest(raw))).rowcount)  # type: ignore[attr-defined]


def sign_out_everywhere(db: Database, user: str, *, now: datetime, actor: str | None = None) -> int:
    """End every web session of ``user`` (a lost laptop, a changed password); how many there were.
    API tokens are not sessions: revoke them apart."""
    with db.transaction() as session:
        person = user_named(session, user)
        authorize_account_change(session, actor, person, f"sign {user} out")
        ended = session.scalar(select(func.count()).select_from(WebSession).where(WebSession.user_id == person.id))
        session.execute(delete(WebSession).where(WebSession.user_id == person.id))
        record_event(
            session,
            "user.signed_out_everywhere",
            now=now,
            actor=actor,
            message=f"{user}: {ended or 0} session(s) ended",
            data={"user": user, "sessions": ended or 0},
        )
        return int(ended or 0)


def set_disabled(db: Database, user: str, *, disabled: bool, now: datetime, actor: str | None = None) -> bool:
    """Disable an account (someone who left) or enable it again; True when that changed anything.

    A disabled person cannot sign in, their web sessions end now and their API tokens stop
    working (``tokens.authenticate`` checks it on every use); their posts and sign-offs stay.
    Nobody disables themselves; an admin of every organisation the person is in, or the operator,
    may."""
    with db.transaction() as session:
        person = user_named(session, user)
        if actor == user:
            raise Refused(f"rule 'roles': {user} cannot {'disable' if disabled else 'enable'} their own account")
        authorize_account_change(session, actor, person, f"{'disable' if disabled else 'enable'} {user}", oneself=False)
        if (person.disabled_at is not None) == disabled:
            return False
        person.disabled_at = now if disabled else None
        if disabled:
            session.execute(delete(WebSession).where(WebSession.user_id == person.id))
        record_event(
            session,
            "user.disabled" if disabled else "user.enabled",
            now=now,
            actor=actor,
            message=user,
            data={"user": user},
        )
        return True
