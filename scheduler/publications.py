"""Moving publications through their states (docs/scheduling.md).

Everything that changes ``Publication.state`` goes through ``transition`` in this module,
which checks the move against ``states.ALLOWED``, makes it conditional on the state the caller
saw (so two processes can never both win), and appends the event in the same transaction.

The rule that keeps a post from going out twice: a worker claims the row
(queued -> publishing, conditional on the dispatch token) and commits *before* it calls the
platform. A redelivered or stale message finds no row to claim and does nothing. A worker that
dies mid-call leaves the row in ``publishing`` with a lease; when the lease runs out the row
becomes ``unknown`` and reconciliation asks the platform (``lookup``). It is published again only
when the adapter can prove the first attempt did not land; otherwise a person decides.
"""

from __future__ import annotations

import logging
import random
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session

from scheduler.content import ChannelInfo, Content, MediaItem
from scheduler.credentials import decrypt_credentials
from scheduler.errors import InvalidInput
from scheduler.ports import (
    AuthExpired,
    OutcomeUnknown,
    Permanent,
    PublishContext,
    Publisher,
    Retryable,
)
from scheduler.settings import Settings
from scheduler.states import ALLOWED, DISPATCHABLE, PublicationState
from scheduler.store import Channel, Database, Event, Post, Publication

log = logging.getLogger(__name__)
S = PublicationState
AdapterFactory = Callable[[ChannelInfo], Publisher]


@dataclass(frozen=True)
class Dispatch:
    """A claimed publication that needs a message: run it at ``due_at`` with ``token``."""

    publication_id: int
    token: str
    due_at: datetime


@dataclass(frozen=True)
class Claim:
    publication_id: int
    lease_owner: str
    attempt: int
    idempotency_key: str
    content: Content
    channel: ChannelInfo


# -- the one way a state changes ---------------------------------------------------------------


def transition(
    session: Session,
    rows: Sequence[Publication] | Sequence[Any],
    to: PublicationState,
    *,
    now: datetime,
    values: dict[str, Any] | None = None,
    where: Iterable[Any] = (),
    message: str | None = None,
    actor: str | None = None,
) -> list[int]:
    """Move ``rows`` (publications as the caller read them) to ``to``; returns the ids that moved.

    Each row moves only if it is still in the state the caller read, so a concurrent change wins
    cleanly instead of being overwritten.
    """
    moved: list[int] = []
    by_state: dict[str, list[Any]] = {}
    for row in rows:
        by_state.setdefault(row.state, []).append(row)
    for state, group in by_state.items():
        source = PublicationState(state)
        if to not in ALLOWED[source]:
            raise AssertionError(f"{source} -> {to} is not an allowed transition")
        ids = [row.id for row in group]
        statement = (
            update(Publication)
            .where(Publication.id.in_(ids), Publication.state == source.value, *where)
            .values(state=to.value, updated_at=now, **(values or {}))
            .returning(Publication.id)
            .execution_options(synchronize_session=False)
        )
        done = set(session.scalars(statement))
        moved.extend(done)
        events = [
            {
                "at": now,
                "kind": f"publication.{to.value}",
                "post_id": row.post_id,
                "publication_id": row.id,
                "channel_id": row.channel_id,
                "from_state": source.value,
                "to_state": to.value,
                "actor": actor,
                "message": message,
                "data": {},
            }
            for row in group
            if row.id in done
        ]
        if events:
            session.execute(insert(Event), events)
    return moved


def record_event(
    session: Session,
    kind: str,
    *,
    now: datetime,
    post_id: int | None = None,
    publication_id: int | None = None,
    channel_id: int | None = None,
    to_state: str | None = None,
    actor: str | None = None,
    message: str | None = None,
    data: dict[str, Any] | None = None,
) -> None:
    session.add(
        Event(
            at=now,
            kind=kind,
            post_id=post_id,
            publication_id=publication_id,
            channel_id=channel_id,
            to_state=to_state,
            actor=actor,
            message=message,
            data=data or {},
        )
    )


def _locked(session: Session, *conditions: Any, limit: int | None = None, order: Any = None) -> list[Any]:
    """Publications matching ``conditions``, row-locked on PostgreSQL (SKIP LOCKED), or under
    SQLite's write lock, which every transaction here takes up front (BEGIN IMMEDIATE)."""
    query = select(
        Publication.id, Publication.state, Publication.post_id, Publication.channel_id, Publication.due_at
    ).where(*conditions)
    if order is not None:
        query = query.order_by(order)
    if limit is not None:
        query = query.limit(limit)
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    return list(session.execute(query))


# -- dispatch ------------------------------------------------------------------------------------


def claim_due(db: Database, *, now: datetime, settings: Settings) -> list[Dispatch]:
    """Claim publications due within the look-ahead: scheduled|retry_wait -> queued, with a new token."""
    horizon = now + timedelta(seconds=settings.lookahead)
    due_at = func.coalesce(Publication.next_attempt_at, Publication.due_at)
    with db.transaction() as session:
        rows = _locked(
            session,
            Publication.state.in_([state.value for state in DISPATCHABLE]),
            due_at <= horizon,
            limit=settings.dispatch_batch,
            order=due_at,
        )
        if not rows:
            return []
        token = str(uuid.uuid4())
        lease = horizon + timedelta(seconds=settings.queued_grace)
        moved = set(
            transition(session, rows, S.QUEUED, now=now, values={"dispatch_token": token, "lease_until": lease})
        )
        effective = dict(
            (row.id, row.due)
            for row in session.execute(select(Publication.id, due_at.label("due")).where(Publication.id.in_(moved)))
        )
    return sorted(
        (Dispatch(publication_id, token, effective[publication_id]) for publication_id in moved),
        key=lambda dispatch: dispatch.due_at,
    )


def requeue_lost(db: Database, *, now: datetime, settings: Settings) -> list[Dispatch]:
    """Queued rows whose message never ran (broker restarted, dispatcher died before sending):
    queued -> queued with a new token, so that the lost message, should it reappear, is a no-op."""
    with db.transaction() as session:
        rows = _locked(
            session,
            Publication.state == S.QUEUED.value,
            Publication.lease_until < now,
            limit=settings.dispatch_batch,
        )
        if not rows:
            return []
        token = str(uuid.uuid4())
        lease = now + timedelta(seconds=settings.lookahead + settings.queued_grace)
        moved = transition(
            session,
            rows,
            S.QUEUED,
            now=now,
            values={"dispatch_token": token, "lease_until": lease},
            message="re-dispatched: the earlier message did not run before its lease ran out",
        )
    return [Dispatch(publication_id, token, now) for publication_id in moved]


# -- the worker's side -----------------------------------------------------------------------------


def claim(db: Database, publication_id: int, token: str, *, now: datetime, settings: Settings) -> Claim | None:
    """queued -> publishing for this exact dispatch, committed before any platform call.

    Returns None when the message is stale: the row was already claimed, cancelled, edited
    (which clears the token), re-dispatched, or never existed.
    """
    lease_owner = f"{settings.worker_id}/{uuid.uuid4().hex[:12]}"
    with db.transaction() as session:
        rows = _locked(
            session,
            Publication.id == publication_id,
            Publication.state == S.QUEUED.value,
            Publication.dispatch_token == token,
        )
        moved = transition(
            session,
            rows,
            S.PUBLISHING,
            now=now,
            where=[Publication.dispatch_token == token],
            values={
                "attempts": Publication.attempts + 1,
                "lease_owner": lease_owner,
                "lease_until": now + timedelta(seconds=settings.publish_lease),
                "dispatch_token": None,
            },
            actor=lease_owner,
        )
        if not moved:
            return None
        publication = session.get(Publication, publication_id)
        assert publication is not None
        session.refresh(publication)
        return Claim(
            publication_id=publication.id,
            lease_owner=lease_owner,
            attempt=publication.attempts,
            idempotency_key=publication.idempotency_key,
            content=content_of(publication.post, settings),
            channel=channel_info(publication.channel, settings),
        )


def publish(
    db: Database,
    publication_id: int,
    token: str,
    adapters: AdapterFactory,
    *,
    settings: Settings,
    clock: Callable[[], datetime],
) -> PublicationState | None:
    """Claim, call the platform once, record the outcome. Returns the new state, or None if stale."""
    claimed = claim(db, publication_id, token, now=clock(), settings=settings)
    if claimed is None:
        log.info("publication %s: stale message (token %s), nothing to do", publication_id, token)
        return None
    adapter = adapters(claimed.channel)
    ctx = PublishContext(
        publication_id=claimed.publication_id,
        idempotency_key=claimed.idempotency_key,
        attempt=claimed.attempt,
        started_at=clock(),
    )
    try:
        prepared = adapter.prepare(claimed.content)
    except InvalidInput as refused:
        return _finish(db, claimed, S.FAILED, now=clock(), error=str(refused))
    try:
        result = adapter.publish(prepared, ctx)
    except Retryable as exc:
        if claimed.attempt >= settings.max_attempts:
            error = f"gave up after {claimed.attempt} attempts: {exc}"
            return _finish(db, claimed, S.FAILED, now=clock(), error=error)
        wait = retry_delay(claimed.attempt, exc.retry_after, settings)
        return _finish(db, claimed, S.RETRY_WAIT, now=clock(), error=str(exc), retry_in=wait)
    except Permanent as exc:
        return _finish(db, claimed, S.FAILED, now=clock(), error=str(exc))
    except AuthExpired as exc:
        return _finish(db, claimed, S.NEEDS_ATTENTION, now=clock(), error=f"reconnect the channel: {exc}")
    except OutcomeUnknown as exc:
        return _finish(db, claimed, S.UNKNOWN, now=clock(), error=str(exc))
    except Exception as exc:
        # A bug or an unexpected library error during the call: the post may have gone out.
        log.exception("publication %s: unexpected error while publishing", publication_id)
        return _finish(db, claimed, S.UNKNOWN, now=clock(), error=f"unexpected error: {exc!r}")
    return _finish(
        db,
        claimed,
        S.PUBLISHED,
        now=clock(),
        values={"remote_id": result.remote_id, "remote_url": result.url, "published_at": clock()},
    )


def _finish(
    db: Database,
    claimed: Claim,
    to: PublicationState,
    *,
    now: datetime,
    error: str | None = None,
    retry_in: float | None = None,
    values: dict[str, Any] | None = None,
) -> PublicationState | None:
    """Record the outcome of a claimed attempt, only if this worker still holds the lease."""
    changes: dict[str, Any] = {"lease_until": None, "last_error": error, **(values or {})}
    if to is S.PUBLISHED:
        changes["published_version"] = claimed.content.version
    if to is S.RETRY_WAIT:
        changes["next_attempt_at"] = now + timedelta(seconds=retry_in or 0)
    if to is S.UNKNOWN:
        changes["next_attempt_at"] = now  # reconcile at the next sweep
    # A success also counts if the lease ran out and the row was already marked unknown.
    sources = [S.PUBLISHING, S.UNKNOWN] if to is S.PUBLISHED else [S.PUBLISHING]
    with db.transaction() as session:
        rows = _locked(
            session,
            Publication.id == claimed.publication_id,
            Publication.lease_owner == claimed.lease_owner,
            Publication.state.in_([state.value for state in sources]),
        )
        moved = transition(session, rows, to, now=now, values=changes, message=error, actor=claimed.lease_owner)
    if not moved:
        log.warning("publication %s: lease lost before recording %s", claimed.publication_id, to)
        return None
    return to


def retry_delay(attempt: int, retry_after: float | None, settings: Settings) -> float:
    """Exponential backoff with jitter, never shorter than what the platform asked for."""
    backoff: float = min(settings.retry_cap, settings.retry_base * 2.0 ** max(0, attempt - 1))
    return max(retry_after or 0.0, backoff * random.uniform(0.5, 1.0))


# -- leases and reconciliation -------------------------------------------------------------------


def expire_leases(db: Database, *, now: datetime, settings: Settings) -> list[int]:
    """publishing rows whose worker stopped answering (crash, kill, hang) -> unknown, never a re-publish."""
    with db.transaction() as session:
        rows = _locked(session, Publication.state == S.PUBLISHING.value, Publication.lease_until < now)
        return transition(
            session,
            rows,
            S.UNKNOWN,
            now=now,
            where=[Publication.lease_until < now],
            values={"next_attempt_at": now},
            message="the publish attempt did not report back before its lease ran out (worker died or hung)",
        )


def due_for_reconcile(db: Database, *, now: datetime, settings: Settings) -> list[int]:
    """Unknown rows due for a lookup; pushes their next lookup back so each is asked once per round."""
    with db.transaction() as session:
        rows = _locked(
            session,
            Publication.state == S.UNKNOWN.value,
            func.coalesce(Publication.next_attempt_at, now) <= now,
            limit=settings.dispatch_batch,
        )
        ids = [row.id for row in rows]
        if ids:
            session.execute(
                update(Publication)
                .where(Publication.id.in_(ids))
                .values(next_attempt_at=now + timedelta(seconds=settings.reconcile_backoff))
                .execution_options(synchronize_session=False)
            )
        return ids


def reconcile(
    db: Database,
    publication_id: int,
    adapters: AdapterFactory,
    *,
    settings: Settings,
    clock: Callable[[], datetime],
) -> PublicationState | None:
    """Ask the platform whether an ``unknown`` publication landed, and settle it."""
    with db.transaction() as session:
        publication = session.get(Publication, publication_id)
        if publication is None or publication.state != S.UNKNOWN.value:
            return None
        content = content_of(publication.post, settings)
        channel = channel_info(publication.channel, settings)
        ctx = PublishContext(
            publication_id=publication.id,
            idempotency_key=publication.idempotency_key,
            attempt=publication.attempts,
            started_at=clock(),
        )
    adapter = adapters(channel)
    try:
        found = adapter.lookup(adapter.prepare(content), ctx)
    except (Retryable, OutcomeUnknown) as exc:
        log.info("publication %s: lookup did not answer (%s); will ask again", publication_id, exc)
        return S.UNKNOWN
    except (InvalidInput, Permanent, AuthExpired) as exc:
        return _settle(db, publication_id, S.NEEDS_ATTENTION, now=clock(), error=f"lookup failed: {exc}")
    if found is not None:
        values: dict[str, Any] = {
            "remote_id": found.remote_id,
            "remote_url": found.url,
            "published_at": clock(),
            "published_version": content.version,
        }
        return _settle(db, publication_id, S.PUBLISHED, now=clock(), values=values, message="found on the platform")
    if adapter.lookup_proves_absence:
        return _settle(
            db,
            publication_id,
            S.RETRY_WAIT,
            now=clock(),
            values={"next_attempt_at": clock()},
            message="not on the platform: the interrupted attempt did not land; trying again",
        )
    return _settle(
        db,
        publication_id,
        S.NEEDS_ATTENTION,
        now=clock(),
        error="could not confirm whether the interrupted attempt was published; check the channel, "
        "then `crosspost post retry` to send it or `post cancel` to drop it",
    )


def _settle(
    db: Database,
    publication_id: int,
    to: PublicationState,
    *,
    now: datetime,
    values: dict[str, Any] | None = None,
    error: str | None = None,
    message: str | None = None,
) -> PublicationState | None:
    with db.transaction() as session:
        rows = _locked(session, Publication.id == publication_id, Publication.state == S.UNKNOWN.value)
        changes = dict(values or {})
        if error is not None:
            changes["last_error"] = error
        moved = transition(session, rows, to, now=now, values=changes, message=message or error, actor="reconciler")
    return to if moved else None


# -- reading rows as domain values -----------------------------------------------------------------


def content_of(post: Post, settings: Settings) -> Content:
    return Content(
        post_id=post.id,
        version=post.version,
        text=post.text,
        title=post.title,
        link=post.link,
        language=post.language,
        media=tuple(
            MediaItem(
                path=settings.media_store / item.path,
                original_name=item.original_name,
                kind=item.kind,
                mime=item.mime,
                bytes=item.bytes,
                sha256=item.sha256,
                width=item.width,
                height=item.height,
                alt_text=item.alt_text,
            )
            for item in post.media
        ),
    )


def channel_info(channel: Channel, settings: Settings) -> ChannelInfo:
    return ChannelInfo(
        id=channel.id,
        name=channel.name,
        platform=channel.platform,
        timezone=channel.timezone,
        language=channel.language,
        dry_run=channel.dry_run,
        options=dict(channel.options or {}),
        credentials=decrypt_credentials(channel.credentials, settings, channel.name),
    )
