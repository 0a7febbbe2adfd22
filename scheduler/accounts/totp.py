"""The optional second factor: TOTP (RFC 6238, 30-second steps, 6 digits), as authenticator apps do.

``users.totp_secret`` holds, encrypted with the settings secret, the secret, whether it is
confirmed (a secret just started does not yet guard sign-in: a person who never scanned it must
not be locked out) and the last step a code was accepted for, so a code seen over someone's
shoulder cannot be used again within its window.
"""

from __future__ import annotations

import hmac
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pyotp
from cryptography.fernet import InvalidToken

from scheduler.accounts.passwords import authorize_account_change
from scheduler.credentials import fernet
from scheduler.editorial.people import user_named
from scheduler.errors import ConfigurationError, InvalidInput, StateConflict
from scheduler.publishing.transitions import record_event
from scheduler.settings import Settings
from scheduler.store import Database, User

ISSUER = "crosspost"
STEP = 30  # seconds
DRIFT = 1  # steps accepted either side of now: a clock off by up to half a minute


@dataclass(frozen=True)
class TotpSetup:
    secret: str  # base32, for typing into an app
    uri: str  # otpauth:// for a QR code


@dataclass
class _Stored:
    secret: str
    confirmed: bool
    last_step: int | None


def _seal(settings: Settings, stored: _Stored) -> str:
    payload = {"secret": stored.secret, "confirmed": stored.confirmed, "last_step": stored.last_step}
    return fernet(settings).encrypt(json.dumps(payload).encode()).decode("ascii")


def _unseal(settings: Settings, person: User) -> _Stored | None:
    if person.totp_secret is None:
        return None
    try:
        data: dict[str, Any] = json.loads(fernet(settings).decrypt(person.totp_secret.encode("ascii")))
    except (InvalidToken, ValueError):
        raise ConfigurationError(
            f"cannot decrypt the second factor of {person.name}: CROSSPOST_SECRET_KEY is not the one it was "
            f"stored with; turn it off (crosspost user totp-off {person.name}) and set it up again"
        ) from None
    return _Stored(str(data["secret"]), bool(data["confirmed"]), data.get("last_step"))


def enabled(settings: Settings, person: User) -> bool:
    stored = _unseal(settings, person)
    return stored is not None and stored.confirmed


def _matching_step(secret: str, code: str, now: datetime, after: int | None) -> int | None:
    """The step ``code`` is valid for within ±DRIFT of ``now`` and later than ``after``, if any."""
    code = code.strip().replace(" ", "")
    if len(code) != 6 or not code.isascii() or not code.isdigit():
        return None
    totp = pyotp.TOTP(secret, interval=STEP)
    current = int(now.timestamp()) // STEP
    for step in range(current - DRIFT, current + DRIFT + 1):
        if (after is None or step > after) and hmac.compare_digest(totp.generate_otp(step), code):
            return step
    return None


def start_totp(db: Database, settings: Settings, user: str, *, now: datetime, actor: str | None = None) -> TotpSetup:
    """A new secret for ``user``, not yet required at sign-in: ``confirm_totp`` with a code from the
    app turns it on. Starting again replaces an unconfirmed secret; a confirmed one must be turned
    off first (so a stolen session cannot swap the second factor silently)."""
    secret = pyotp.random_base32()
    with db.transaction() as session:
        person = user_named(session, user)
        authorize_account_change(session, actor, person, f"set up a second factor for {user}")
        current = _unseal(settings, person)
        if current is not None and current.confirmed:
            raise StateConflict(f"{user} already has a second factor; turn it off first to set up another")
        person.totp_secret = _seal(settings, _Stored(secret, confirmed=False, last_step=None))
    uri = pyotp.TOTP(secret, interval=STEP).provisioning_uri(name=user, issuer_name=ISSUER)
    return TotpSetup(secret, uri)


def confirm_totp(
    db: Database, settings: Settings, user: str, code: str, *, now: datetime, actor: str | None = None
) -> None:
    """Turn the second factor on with a code the app shows: proof that it was set up right."""
    with db.transaction() as session:
        person = user_named(session, user)
        authorize_account_change(session, actor, person, f"set up a second factor for {user}")
        stored = _unseal(settings, person)
        if stored is None:
            raise StateConflict(f"{user} has no second factor being set up; start one first")
        if stored.confirmed:
            raise StateConflict(f"{user}'s second factor is already on")
        step = _matching_step(stored.secret, code, now, stored.last_step)
        if step is None:
            raise InvalidInput("that code does not match; check the app's clock and type the code it shows now")
        person.totp_secret = _seal(settings, _Stored(stored.secret, confirmed=True, last_step=step))
        record_event(session, "user.totp_enabled", now=now, actor=actor, message=user, data={"user": user})


def disable_totp(db: Database, user: str, *, now: datetime, actor: str | None = None) -> bool:
    """Turn the second factor off (a lost phone: the operator does it); whether one was set."""
    with db.transaction() as session:
        person = user_named(session, user)
        authorize_account_change(session, actor, person, f"turn off the second factor of {user}")
        if person.totp_secret is None:
            return False
        person.totp_secret = None
        record_event(session, "user.totp_disabled", now=now, actor=actor, message=user, data={"user": user})
        return True


def accept_code(settings: Settings, person: User, code: str | None, now: datetime) -> bool | None:
    """For sign-in, inside the caller's transaction: None when ``person`` needs no code, else
    whether ``code`` is good (and not used before); a good code is marked used."""
    stored = _unseal(settings, person)
    if stored is None or not stored.confirmed:
        return None
    if not code:
        return False
    step = _matching_step(stored.secret, code, now, stored.last_step)
    if step is None:
        return False
    person.totp_secret = _seal(settings, _Stored(stored.secret, confirmed=True, last_step=step))
    return True
