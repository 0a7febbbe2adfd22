"""Passwords: the policy, Argon2id hashes, rehash on a changed cost, who may set whose."""

from __future__ import annotations

from datetime import timedelta

import pytest

from scheduler.accounts.passwords import check_password, set_password
from scheduler.accounts.sessions import authenticate_session, sign_in
from scheduler.accounts.tokens import Unauthenticated
from scheduler.errors import InvalidInput, Refused
from scheduler.store import Event, User
from tests.accounts.conftest import Accounts, cheap_settings

GOOD = "correct horse battery staple"


def _hash(accounts: Accounts, name: str) -> str | None:
    with accounts.db.read() as session:
        user = session.query(User).filter_by(name=name).one()
        return user.password_hash


@pytest.mark.parametrize(
    ("password", "says"),
    [
        ("short-pass1", "the password is 11 characters; it must be at least 12"),
        ("x" * 1025, "the password is 1025 characters; at most 1024 are accepted"),
        ("AnaAnaAnaAna", None),
    ],
)
def test_the_policy_names_what_is_wrong_and_stores_nothing(accounts: Accounts, password: str, says: str | None) -> None:
    if says is None:  # twelve characters that are not the name pass
        set_password(accounts.db, accounts.settings, "ana", password, now=accounts.clock())
        return
    with pytest.raises(InvalidInput, match=says):
        set_password(accounts.db, accounts.settings, "ana", password, now=accounts.clock())
    assert _hash(accounts, "ana") is None


def test_the_user_name_is_not_a_password(accounts: Accounts) -> None:
    accounts_name = "averylongname"
    from scheduler.editorial import people

    people.add_user(accounts.db, name=accounts_name, now=accounts.clock())
    with pytest.raises(InvalidInput, match="may not be the user name"):
        set_password(accounts.db, accounts.settings, accounts_name, "AVeryLongName", now=accounts.clock())


def test_a_password_is_kept_as_an_argon2id_hash_and_checked(accounts: Accounts) -> None:
    assert not check_password(accounts.db, accounts.settings, "ana", GOOD)  # no password: never signs in
    set_password(accounts.db, accounts.settings, "ana", GOOD, now=accounts.clock())
    stored = _hash(accounts, "ana")
    assert stored is not None
    assert stored.startswith("$argon2id$")
    assert GOOD not in stored
    assert check_password(accounts.db, accounts.settings, "ana", GOOD)
    assert not check_password(accounts.db, accounts.settings, "ana", GOOD + "!")
    assert not check_password(accounts.db, accounts.settings, "nobody", GOOD)
    with accounts.db.read() as session:
        event = session.query(Event).filter_by(kind="user.password_set").one()
        assert event.data == {"user": "ana"}
        assert GOOD not in (event.message or "")


def test_a_hash_made_at_another_cost_is_redone_at_the_next_good_check(accounts: Accounts) -> None:
    set_password(accounts.db, accounts.settings, "ana", GOOD, now=accounts.clock())
    assert "m=8,t=1" in (_hash(accounts, "ana") or "")
    dearer = cheap_settings(accounts.settings.data_dir, accounts.settings.database_url, password_hash_memory_kib=64)
    assert not check_password(accounts.db, dearer, "ana", "wrong password here")
    assert "m=8,t=1" in (_hash(accounts, "ana") or "")  # a failed check changes nothing
    assert check_password(accounts.db, dearer, "ana", GOOD)
    assert "m=64,t=1" in (_hash(accounts, "ana") or "")
    assert check_password(accounts.db, accounts.settings, "ana", GOOD)  # the old cost still verifies


def test_who_may_set_whose_password(accounts: Accounts) -> None:
    db, settings, now = accounts.db, accounts.settings, accounts.clock()
    set_password(db, settings, "ana", GOOD, now=now, actor="ana")  # one's own
    set_password(db, settings, "ana", GOOD, now=now, actor="boss")  # an admin of ana's organisation
    with pytest.raises(Refused, match=r"rule 'roles'.*ana is an editor of collab"):
        set_password(db, settings, "boss", GOOD, now=now, actor="ana")
    # an admin of the partner cannot take over someone who is also in the host
    with pytest.raises(Refused, match="pat is not a member of collab"):
        set_password(db, settings, "both", GOOD, now=now, actor="pat")
    assert _hash(accounts, "both") is None
    assert _hash(accounts, "boss") is None


def test_a_new_password_ends_every_session(accounts: Accounts) -> None:
    db, settings = accounts.db, accounts.settings
    set_password(db, settings, "ana", GOOD, now=accounts.clock())
    first = sign_in(db, settings, "ana", GOOD, None, now=accounts.clock())
    accounts.clock.advance(60)
    set_password(db, settings, "ana", "another long passphrase", now=accounts.clock())
    with pytest.raises(Unauthenticated, match="unknown or ended session"):
        authenticate_session(db, settings, first.token, now=accounts.clock() + timedelta(seconds=1))
