"""Passwords: Argon2id hashes, a short policy, and who may set whose.

The cost comes from the settings (OWASP's Argon2id recommendation by default). A hash made with
other parameters still verifies, and is redone with the current ones at the next successful
sign-in, so raising the cost needs no migration. A person without a password cannot sign in.
"""

from __future__ import annotations

from datetime import datetime

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from scheduler.editorial.authorization import Action, authorize
from scheduler.editorial.people import user_named
from scheduler.errors import InvalidInput
from scheduler.publishing.transitions import record_event
from scheduler.settings import Settings
from scheduler.store import Database, Membership, User, WebSession

MIN_LENGTH = 12
# long passphrases are welcome; a megabyte "password" would only make the hash a denial of service
MAX_LENGTH = 1024


def hasher(settings: Settings) -> PasswordHasher:
    return PasswordHasher(
        time_cost=settings.password_hash_time_cost,
        memory_cost=settings.password_hash_memory_kib,
        parallelism=1,
        type=Type.ID,
    )


def check_policy(user: str, password: str) -> None:
    """Refuse a password that is too short, too long or the user's own name, saying which."""
    if len(password) < MIN_LENGTH:
        raise InvalidInput(
            f"the password is {len(password)} characters; it must be at least {MIN_LENGTH} "
            "(a few unrelated words make a good one)"
        )
    if len(password) > MAX_LENGTH:
        raise InvalidInput(f"the password is {len(password)} characters; at most {MAX_LENGTH} are accepted")
    if password.strip().casefold() == user.strip().casefold():
        raise InvalidInput("the password may not be the user name")


def hash_password(settings: Settings, user: str, password: str) -> str:
    """The Argon2id hash of an acceptable password (``check_policy`` first)."""
    check_policy(user, password)
    return hasher(settings).hash(password)


def authorize_account_change(
    session: Session, actor: str | None, user: User, doing: str, *, oneself: bool = True
) -> None:
    """The operator and the person themselves may change an account; otherwise an admin of every
    organisation the person belongs to (of a host, for someone in none), so that an admin of a
    partner cannot take over a host's editor who is also in the partner."""
    if actor is None or (oneself and actor == user.name):
        return
    orgs = session.scalars(select(Membership.org_id).where(Membership.user_id == user.id)).all()
    authorize(session, actor, Action.MANAGE_MEMBERS, orgs, doing=doing)


def set_password(
    db: Database, settings: Settings, user: str, password: str, *, now: datetime, actor: str | None = None
) -> None:
    """Set ``user``'s password and sign them out everywhere (a changed password ends every session)."""
    hashed = hash_password(settings, user, password)  # slow: outside the write transaction
    with db.transaction() as session:
        person = user_named(session, user)
        authorize_account_change(session, actor, person, f"set the password of {user}")
        store_password(session, person, hashed, now=now)
        record_event(session, "user.password_set", now=now, actor=actor, message=user, data={"user": user})


def store_password(session: Session, person: User, hashed: str, *, now: datetime) -> None:
    person.password_hash = hashed
    person.password_changed_at = now
    session.execute(delete(WebSession).where(WebSession.user_id == person.id))


def verify(settings: Settings, hashed: str | None, password: str) -> bool:
    """Whether ``password`` matches; with no hash a dummy one is checked, so an account without a
    password takes as long to refuse as one with a wrong password."""
    if len(password) > MAX_LENGTH:
        return False
    try:
        return hasher(settings).verify(hashed or _dummy(settings), password) and hashed is not None
    except (VerificationError, InvalidHashError):
        return False


_dummies: dict[tuple[int, int], str] = {}


def _dummy(settings: Settings) -> str:
    key = (settings.password_hash_memory_kib, settings.password_hash_time_cost)
    if key not in _dummies:
        _dummies[key] = hasher(settings).hash("not anyone's password")
    return _dummies[key]


def rehash_if_needed(db: Database, settings: Settings, user_id: int, hashed: str, password: str) -> None:
    """After a successful check: redo a hash made with other parameters than the settings'."""
    current = hasher(settings)
    try:
        stale = current.check_needs_rehash(hashed)
    except InvalidHashError:
        stale = True
    if not stale:
        return
    fresh = current.hash(password)
    with db.transaction() as session:
        person = session.get(User, user_id)
        if person is not None and person.password_hash == hashed:  # unless changed meanwhile
            person.password_hash = fresh


def check_password(db: Database, settings: Settings, user: str, password: str) -> bool:
    """Whether ``user`` exists, is not disabled, has a password and it is ``password``."""
    with db.read() as session:
        person = session.scalar(select(User).where(User.name == user))
        found = None if person is None else (person.id, person.password_hash, person.disabled_at)
    hashed = None if found is None else found[1]
    if not verify(settings, hashed, password) or found is None or hashed is None:
        return False
    rehash_if_needed(db, settings, found[0], hashed, password)
    return found[2] is None
