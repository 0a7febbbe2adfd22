"""Web sessions: sign-in, throttling, idle and absolute timeouts, sign-out (everywhere)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import update

from scheduler.accounts.passwords import set_password
from scheduler.accounts.sessions import (
    Throttled,
    authenticate_session,
    sign_in,
    sign_out,
    sign_out_everywhere,
)
from scheduler.accounts.tokens import Unauthenticated, digest
from scheduler.errors import InvalidInput, Refused
from scheduler.store import LoginAttempt, User, WebSession
from tests.accounts.conftest import Accounts

GOOD = "correct horse battery staple"


@pytest.fixture
def ready(accounts: Accounts) -> Accounts:
    for name in ("ana", "both"):
        set_password(accounts.db, accounts.settings, name, GOOD, now=accounts.clock())
    return accounts


def _sign_in(a: Accounts, name: str = "ana", password: str = GOOD, address: str | None = "192.0.2.1") -> str:
    return sign_in(a.db, a.settings, name, password, None, now=a.clock(), address=address, user_agent="pytest").token


def test_a_session_is_a_random_token_kept_only_as_its_hash(ready: Accounts) -> None:
    token, csrf = sign_in(ready.db, ready.settings, "ana", GOOD, None, now=ready.clock(), user_agent="Firefox")
    found = authenticate_session(ready.db, ready.settings, token, now=ready.clock())
    assert found.user == "ana"
    assert found.csrf_token == csrf
    assert len(csrf) >= 32
    with ready.db.read() as session:
        kept = session.query(WebSession).one()
        assert kept.token_hash == digest(token)
        assert token not in kept.token_hash
        assert kept.user_agent == "Firefox"
    other_token, other_csrf = sign_in(ready.db, ready.settings, "ana", GOOD, None, now=ready.clock())
    assert other_token != token
    assert other_csrf != csrf
    for bad in ("", "cps_not-a-session", "cp_" + token[4:]):
        with pytest.raises(Unauthenticated):
            authenticate_session(ready.db, ready.settings, bad, now=ready.clock())


@pytest.mark.parametrize(("name", "password"), [("ana", "wrong password!"), ("ghost", GOOD), ("loner", GOOD)])
def test_a_wrong_name_or_password_gets_one_answer(ready: Accounts, name: str, password: str) -> None:
    with pytest.raises(Unauthenticated, match=r"^wrong user name or password$"):
        _sign_in(ready, name, password)


def test_a_disabled_account_cannot_sign_in(ready: Accounts) -> None:
    token = _sign_in(ready)
    with ready.db.transaction() as session:
        session.execute(update(User).where(User.name == "ana").values(disabled_at=ready.clock()))
    with pytest.raises(Unauthenticated, match="the account ana is disabled"):
        _sign_in(ready)
    with pytest.raises(Unauthenticated, match="the account ana is disabled"):
        authenticate_session(ready.db, ready.settings, token, now=ready.clock())


def test_five_failures_lock_the_account_for_the_rest_of_the_window(ready: Accounts) -> None:
    for _ in range(5):
        with pytest.raises(Unauthenticated):
            _sign_in(ready, password="not the password")
        ready.clock.advance(60)
    with pytest.raises(Throttled, match=r"too many failed sign-ins for this account .*try again in 10 minutes") as t:
        _sign_in(ready)  # the right password too: nothing is checked while locked
    assert t.value.retry_after == 10 * 60
    _sign_in(ready, "both")  # another account from the same address is not locked
    ready.clock.advance(10 * 60)
    _sign_in(ready)  # the first failure has left the window
    with ready.db.read() as session:  # and a success clears the account's failures
        assert session.query(LoginAttempt).filter_by(key="user:ana").count() == 0
        assert session.query(LoginAttempt).filter_by(key="ip:192.0.2.1").count() == 5


def test_a_success_clears_the_failures_before_it(ready: Accounts) -> None:
    for _round in range(2):
        for _ in range(4):
            with pytest.raises(Unauthenticated):
                _sign_in(ready, password="not the password", address=None)
        _sign_in(ready, address=None)


def test_twenty_failures_from_one_address_lock_the_address(ready: Accounts) -> None:
    for index in range(20):
        with pytest.raises(Unauthenticated):
            _sign_in(ready, f"guess{index}", "not the password", address="198.51.100.7")
    with pytest.raises(Throttled, match=r"for this address .*try again in 15 minutes"):
        _sign_in(ready, address="198.51.100.7")
    _sign_in(ready, address="198.51.100.8")


def test_idle_and_absolute_timeouts(ready: Accounts) -> None:
    token = _sign_in(ready)
    started = ready.clock()
    for _ in range(30):  # used every 29 minutes: the idle timeout never strikes
        ready.clock.advance(29 * 60)
        if ready.clock() - started >= timedelta(hours=12):
            break
        assert authenticate_session(ready.db, ready.settings, token, now=ready.clock()).user == "ana"
    with pytest.raises(Unauthenticated, match="the session ended 720 minutes after sign-in; sign in again"):
        authenticate_session(ready.db, ready.settings, token, now=ready.clock())
    idle = _sign_in(ready)
    ready.clock.advance(30 * 60)
    with pytest.raises(Unauthenticated, match="the session ended after 30 minutes without use"):
        authenticate_session(ready.db, ready.settings, idle, now=ready.clock())
    with pytest.raises(Unauthenticated, match="unknown or ended session"):  # and it is gone
        authenticate_session(ready.db, ready.settings, idle, now=ready.clock())


def test_last_seen_is_written_at_most_once_a_minute(ready: Accounts) -> None:
    token = _sign_in(ready)
    signed_in_at = ready.clock()

    def last_seen() -> datetime:
        with ready.db.read() as session:
            return session.query(WebSession).one().last_seen_at

    ready.clock.advance(59)
    authenticate_session(ready.db, ready.settings, token, now=ready.clock())
    assert last_seen() == signed_in_at
    ready.clock.advance(1)
    authenticate_session(ready.db, ready.settings, token, now=ready.clock())
    assert last_seen() == ready.clock()
    assert last_seen().tzinfo == UTC


def test_sign_out_and_sign_out_everywhere(ready: Accounts) -> None:
    db, settings, now = ready.db, ready.settings, ready.clock()
    laptop, phone, others = _sign_in(ready), _sign_in(ready), _sign_in(ready, "both")
    assert sign_out(db, laptop)
    assert not sign_out(db, laptop)
    with pytest.raises(Unauthenticated):
        authenticate_session(db, settings, laptop, now=now)
    with pytest.raises(Refused, match="pat is not a member of collab"):
        sign_out_everywhere(db, "both", now=now, actor="pat")
    assert sign_out_everywhere(db, "ana", now=now, actor="ana") == 1
    with pytest.raises(Unauthenticated):
        authenticate_session(db, settings, phone, now=now)
    assert authenticate_session(db, settings, others, now=now).user == "both"
    assert sign_out_everywhere(db, "both", now=now) == 1  # the operator


@pytest.mark.parametrize("name", ["", " ", "a" * 101, "ana\x00", "a\nna"])
def test_a_malformed_name_is_refused_before_anything_is_stored(ready: Accounts, name: str) -> None:
    with pytest.raises(InvalidInput, match="give a user name of 1 to 100 printable characters"):
        _sign_in(ready, name)
    with ready.db.read() as session:
        assert session.query(LoginAttempt).count() == 0


@pytest.mark.parametrize("name", ["nobody-by-this-name", "loner"])  # unknown, and known without a password
def test_a_name_that_cannot_sign_in_costs_the_same_password_check(
    ready: Accounts, name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The answer's time must not tell which names exist: the Argon2 check runs either way."""
    from scheduler.accounts import passwords

    checked: list[str | None] = []
    real = passwords.verify

    def counting(settings: object, hashed: str | None, password: str) -> bool:
        checked.append(hashed)
        return real(settings, hashed, password)  # type: ignore[arg-type]

    monkeypatch.setattr(passwords, "verify", counting)
    with pytest.raises(Unauthenticated, match="wrong user name or password"):
        sign_in(ready.db, ready.settings, name, GOOD, None, now=ready.clock(), address="192.0.2.9")
    assert len(checked) == 1
