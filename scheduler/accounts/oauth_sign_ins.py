"""Channel sign-ins by OAuth that wait for the platform's redirect, kept in the database.

The browser may come back to any API process (``crosspost web --workers 2``, several hosts), so
what the callback needs is stored, not held in memory: the row is keyed by the SHA-256 of the
OAuth state (the state itself is the key the browser carries, never stored), and the PKCE
verifier, the redirect URI and the app's client id and secret are sealed with the one cipher.
Taking a sign-in deletes its row in the same statement, so a replayed redirect, or two processes
racing, finish it at most once.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta

from cryptography.fernet import InvalidToken
from sqlalchemy import delete, select

from scheduler.accounts.tokens import digest
from scheduler.acting import Acting
from scheduler.credentials import fernet
from scheduler.errors import ConfigurationError
from scheduler.settings import Settings
from scheduler.store import Channel, Database, User
from scheduler.store.models import OAuthSignIn

SIGN_IN_TIME = timedelta(minutes=10)


@dataclass(frozen=True)
class WaitingSignIn:
    channel: str
    user: str
    acting: Acting  # as the person who started it, through the same token's scope
    platform: str
    state: str
    verifier: str
    redirect_uri: str
    client_id: str
    client_secret: str | None


def keep(
    db: Database,
    settings: Settings,
    *,
    channel: str,
    user: str,
    acting: Acting,
    platform: str,
    state: str,
    verifier: str,
    redirect_uri: str,
    client_id: str,
    client_secret: str | None,
    now: datetime,
) -> datetime:
    """Store a sign-in that waits for its redirect; returns when it runs out. Sign-ins that ran out
    are swept first (nobody else deletes them)."""
    sealed = fernet(settings).encrypt(
        json.dumps(
            {
                "platform": platform,
                "verifier": verifier,
                "redirect_uri": redirect_uri,
                "client_id": client_id,
                "client_secret": client_secret,
            }
        ).encode()
    )
    expires_at = now + SIGN_IN_TIME
    with db.transaction() as session:
        session.execute(
            delete(OAuthSignIn).where(OAuthSignIn.expires_at <= now).execution_options(synchronize_session=False)
        )
        channel_id = session.scalars(select(Channel.id).where(Channel.name == channel)).one()
        user_id = session.scalars(select(User.id).where(User.name == user)).one()
        session.add(
            OAuthSignIn(
                state_hash=digest(state),
                channel_id=channel_id,
                user_id=user_id,
                via=acting.via,
                org_id=acting.org_id,
                role=acting.max_role,
                sealed=sealed,
                created_at=now,
                expires_at=expires_at,
            )
        )
    return expires_at


def take(db: Database, settings: Settings, *, channel: str, state: str, now: datetime) -> WaitingSignIn | None:
    """The sign-in of ``channel`` waiting for ``state``, removed in the same statement that reads it;
    None when none waits (unknown, another channel's, finished already, or run out: then removed too)."""
    with db.transaction() as session:
        taken = session.execute(
            delete(OAuthSignIn)
            .where(
                OAuthSignIn.state_hash == digest(state),
                OAuthSignIn.channel_id == select(Channel.id).where(Channel.name == channel).scalar_subquery(),
            )
            .returning(
                OAuthSignIn.user_id,
                OAuthSignIn.via,
                OAuthSignIn.org_id,
                OAuthSignIn.role,
                OAuthSignIn.sealed,
                OAuthSignIn.expires_at,
            )
            .execution_options(synchronize_session=False)
        ).one_or_none()
        if taken is None or taken.expires_at <= now:
            return None
        user = session.scalars(select(User.name).where(User.id == taken.user_id)).one()
    try:
        secret = json.loads(fernet(settings).decrypt(taken.sealed))
    except InvalidToken:
        raise ConfigurationError(
            f"cannot decrypt the sign-in of channel {channel!r}: CROSSPOST_SECRET_KEY is not the one it was "
            "stored with; start it again"
        ) from None
    return WaitingSignIn(
        channel=channel,
        user=user,
        acting=Acting(via=taken.via, org_id=taken.org_id, max_role=taken.role, user=user),
        platform=secret["platform"],
        state=state,
        verifier=secret["verifier"],
        redirect_uri=secret["redirect_uri"],
        client_id=secret["client_id"],
        client_secret=secret["client_secret"],
    )
