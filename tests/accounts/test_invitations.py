"""Invitation links: once, until they expire, replaced by a newer one; only the hash is kept."""

from __future__ import annotations

from datetime import timedelta

import pytest

from scheduler.accounts.invitations import accept_invitation, invite
from scheduler.accounts.sessions import authenticate_session, sign_in
from scheduler.accounts.tokens import Unauthenticated, digest
from scheduler.errors import InvalidInput, NotFound, Refused, StateConflict
from scheduler.store import Invitation
from tests.accounts.conftest import Accounts

GOOD = "correct horse battery staple"


def test_an_invitation_sets_the_password_once(accounts: Accounts) -> None:
    db, settings = accounts.db, accounts.settings
    sent = invite(db, settings, "ana", now=accounts.clock(), actor="boss")
    assert sent.url == f"http://127.0.0.1:8000/invite/{sent.token}"
    assert sent.expires_at == accounts.clock() + timedelta(days=7)
    with db.read() as session:
        kept = session.query(Invitation).one()
        assert kept.token_hash == digest(sent.token)
        assert kept.created_by == "boss"
    with pytest.raises(Unauthenticated):  # no password before the link is used
        sign_in(db, settings, "ana", GOOD, None, now=accounts.clock())
    with pytest.raises(InvalidInput, match="at least 12"):  # a refused password does not spend the link
        accept_invitation(db, settings, sent.token, "too short", now=accounts.clock())
    assert accept_invitation(db, settings, sent.token, GOOD, now=accounts.clock()) == "ana"
    signed_in = sign_in(db, settings, "ana", GOOD, None, now=accounts.clock())
    with pytest.raises(StateConflict, match=r"this invitation link was already used .*; ask for a new one"):
        accept_invitation(db, settings, sent.token, "a different long password", now=accounts.clock())
    assert authenticate_session(db, settings, signed_in.token, now=accounts.clock()).user == "ana"


def test_an_expired_or_replaced_or_unknown_link_is_refused(accounts: Accounts) -> None:
    db, settings = accounts.db, accounts.settings
    short = invite(db, settings, "ana", now=accounts.clock(), valid_for=timedelta(hours=1))
    accounts.clock.advance(3600)
    with pytest.raises(StateConflict, match="this invitation link expired at"):
        accept_invitation(db, settings, short.token, GOOD, now=accounts.clock())
    older = invite(db, settings, "ana", now=accounts.clock())
    newer = invite(db, settings, "ana", now=accounts.clock())
    with pytest.raises(NotFound, match="unknown invitation link"):
        accept_invitation(db, settings, older.token, GOOD, now=accounts.clock())
    with pytest.raises(NotFound, match="unknown invitation link"):
        accept_invitation(db, settings, "x" * 300, GOOD, now=accounts.clock())
    assert accept_invitation(db, settings, newer.token, GOOD, now=accounts.clock()) == "ana"


def test_accepting_ends_the_sessions_the_old_password_opened(accounts: Accounts) -> None:
    db, settings = accounts.db, accounts.settings
    accept_invitation(db, settings, invite(db, settings, "ana", now=accounts.clock()).token, GOOD, now=accounts.clock())
    old = sign_in(db, settings, "ana", GOOD, None, now=accounts.clock())
    reset = invite(db, settings, "ana", now=accounts.clock(), actor="boss")
    accept_invitation(db, settings, reset.token, "a brand new passphrase", now=accounts.clock())
    with pytest.raises(Unauthenticated):
        authenticate_session(db, settings, old.token, now=accounts.clock())


def test_who_may_invite(accounts: Accounts) -> None:
    db, settings, now = accounts.db, accounts.settings, accounts.clock()
    invite(db, settings, "loner", now=now, actor="boss")  # in no organisation: an admin of a host
    with pytest.raises(Refused, match="rule 'roles'"):  # not even oneself: a stolen session would get a link
        invite(db, settings, "ana", now=now, actor="ana")
    with pytest.raises(Refused, match="pat is not a member of collab"):
        invite(db, settings, "both", now=now, actor="pat")
    with pytest.raises(NotFound, match="no user named 'ghost'"):
        invite(db, settings, "ghost", now=now)
