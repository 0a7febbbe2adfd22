"""The TOTP second factor: set up, confirmed, required at sign-in, codes not reusable, turned off."""

from __future__ import annotations

import pyotp
import pytest

from scheduler.accounts.passwords import set_password
from scheduler.accounts.sessions import SecondFactorRequired, sign_in
from scheduler.accounts.tokens import Unauthenticated
from scheduler.accounts.totp import confirm_totp, disable_totp, start_totp
from scheduler.errors import InvalidInput, Refused, StateConflict
from scheduler.store import LoginAttempt, User
from tests.accounts.conftest import Accounts

GOOD = "correct horse battery staple"


def _code(secret: str, accounts: Accounts, steps: int = 0) -> str:
    return pyotp.TOTP(secret).at(accounts.clock().timestamp() + 30 * steps)


def test_a_second_factor_is_required_once_confirmed(accounts: Accounts) -> None:
    db, settings = accounts.db, accounts.settings
    set_password(db, settings, "ana", GOOD, now=accounts.clock())
    setup = start_totp(db, settings, "ana", now=accounts.clock(), actor="ana")
    assert setup.uri.startswith("otpauth://totp/crosspost:ana?secret=" + setup.secret)
    assert "issuer=crosspost" in setup.uri
    with db.read() as session:  # encrypted at rest
        stored = session.query(User).filter_by(name="ana").one().totp_secret
        assert stored is not None
        assert setup.secret not in stored
    sign_in(db, settings, "ana", GOOD, None, now=accounts.clock())  # not yet confirmed: not yet required
    with pytest.raises(InvalidInput, match="that code does not match"):
        confirm_totp(
            db,
            settings,
            "ana",
            "000000" if _code(setup.secret, accounts) != "000000" else "111111",
            now=accounts.clock(),
        )
    confirm_totp(db, settings, "ana", _code(setup.secret, accounts), now=accounts.clock(), actor="ana")
    with pytest.raises(SecondFactorRequired, match="a code from their authenticator app"):
        sign_in(db, settings, "ana", GOOD, None, now=accounts.clock())
    with pytest.raises(Unauthenticated, match="wrong or already used authenticator code"):
        # the code confirm_totp took cannot be used again
        sign_in(db, settings, "ana", GOOD, _code(setup.secret, accounts), now=accounts.clock())
    accounts.clock.advance(30)
    with pytest.raises(Unauthenticated, match="wrong or already used"):  # two steps away: refused
        sign_in(db, settings, "ana", GOOD, _code(setup.secret, accounts, steps=2), now=accounts.clock())
    with db.read() as session:  # a wrong code is a failed sign-in
        assert session.query(LoginAttempt).filter_by(key="user:ana").count() == 2
    # one step ahead (a phone's clock a little fast) is accepted, and clears the failures
    sign_in(db, settings, "ana", GOOD, " " + _code(setup.secret, accounts, steps=1), now=accounts.clock())
    with db.read() as session:
        assert session.query(LoginAttempt).filter_by(key="user:ana").count() == 0
    with pytest.raises(StateConflict, match="already has a second factor"):
        start_totp(db, settings, "ana", now=accounts.clock())
    with pytest.raises(Refused, match="rule 'roles'"):
        disable_totp(db, "ana", now=accounts.clock(), actor="pat")
    assert disable_totp(db, "ana", now=accounts.clock())  # the operator, for a lost phone
    assert not disable_totp(db, "ana", now=accounts.clock())
    sign_in(db, settings, "ana", GOOD, None, now=accounts.clock())


def test_confirming_needs_a_started_setup(accounts: Accounts) -> None:
    with pytest.raises(StateConflict, match="no second factor being set up"):
        confirm_totp(accounts.db, accounts.settings, "ana", "123456", now=accounts.clock())
