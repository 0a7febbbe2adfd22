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

import functools
import logging
import random
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, bindparam, func, insert, literal, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session
from sqlalchemy.sql.expression import Executable

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
from scheduler.store import Channel, Database, Event, Post, PostMedia, Publication

log = logging.getLogger(__name__)
S = PublicationState
AdapterFactory = Callable[[ChannelInfo], Publisher]

# Core tables: the hot path uses Core statements, which skip the ORM's per-statement bookkeeping.
_PUBLICATIONS = cast(Table, Publication.__table__)
_EVENTS = cast(Table, Event.__table__)
_POSTS = cast(Table, Post.__table__)
_CHANNELS = cast(Table, Channel.__table__)
_MEDIA = cast(Table, PostMedia.__table__)


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
    message: str | None = None,
    actor: str | None = None,
) -> list[int]:
    """Move ``rows`` (publications as the caller read them) to ``to``; returns the ids that moved.

    Each row moves only if it is still in the state the caller read, so a concurrent change wins
    cleanly instead of being overwritten.
    """
    by_state: dict[str, list[int]] = {}
    for row in rows:
        by_state.setdefault(row.state, []).append(row.id)
    moved: list[int] = []
    for state, ids in by_state.items():
        moved += _apply(
            session.connection(),
            PublicationState(state),
            to,
            now=now,
            match={"id": ids},
            values=values,
            message=message,
            actor=actor,
        )
    return moved


def _apply(
    connection: Connection,
    source: PublicationState,
    to: PublicationState,
    *,
    now: datetime,
    match: dict[str, Any],
    values: dict[str, Any] | None = None,
    bump_attempts: bool = False,
    message: str | None = None,
    actor: str | None = None,
) -> list[int]:
    """The guarded move itself: UPDATE ... WHERE state = source AND <match> ... RETURNING, and its events.

    ``match`` maps column names to values (a list means IN). The conditional UPDATE is atomic on
    both databases (PostgreSQL re-checks the WHERE on the locked row; SQLite runs every
    transaction under its write lock), so no prior SELECT is needed. On PostgreSQL the move and
    its events are one statement (a data-modifying CTE): one round trip.
    """
    if to not in ALLOWED[source]:
        raise AssertionError(f"{source} -> {to} is not an allowed transition")
    values = values or {}
    postgres = connection.dialect.name == "postgresql"
    statement, event_statement = _move_statements(
        postgres,
        source,
        to,
        tuple(sorted(match)),
        tuple(isinstance(v, list) for _, v in sorted(match.items())),
        tuple(sorted(values)),
        bump_attempts,
    )
    params = {f"m_{name}": value for name, value in match.items()}
    params |= {f"v_{name}": value for name, value in values.items()}
    params |= {"now": now, "actor": actor, "message": message}
    if postgres:
        return list(connection.execute(statement, params).scalars())
    done = connection.execute(statement, params).all()
    if done:
        connection.execute(
            event_statement,
            [{**params, "post_id": r.post_id, "publication_id": r.id, "channel_id": r.channel_id} for r in done],
        )
    return [row.id for row in done]


@functools.cache
def _move_statements(
    postgres: bool,
    source: PublicationState,
    to: PublicationState,
    match: tuple[str, ...],
    match_is_list: tuple[bool, ...],
    values: tuple[str, ...],
    bump_attempts: bool,
) -> tuple[Executable, Executable]:
    """Build each shape of move once: statements with bind parameters, reused on every call
    (building them anew costs more than the database round trip)."""
    table, events = _PUBLICATIONS, _EVENTS
    conditions = [table.c.state == source.value] + [
        table.c[name].in_(bindparam(f"m_{name}", expanding=True))
        if is_list
        else table.c[name] == bindparam(f"m_{name}")
        for name, is_list in zip(match, match_is_list, strict=True)
    ]
    changes: dict[str, Any] = {"state": to.value, "updated_at": bindparam("now", type_=table.c.updated_at.type)}
    changes |= {name: bindparam(f"v_{name}", type_=table.c[name].type) for name in values}
    if bump_attempts:
        changes["attempts"] = table.c.attempts + 1
    moved = update(table).where(*conditions).values(changes).returning(table.c.id, table.c.post_id, table.c.channel_id)
    event = {
        "at": bindparam("now", type_=events.c.at.type),
        "kind": literal(f"publication.{to.value}"),
        "from_state": literal(source.value),
        "to_state": literal(to.value),
        "actor": bindparam("actor", type_=events.c.actor.type),
        "message": bindparam("message", type_=events.c.message.type),
        "data": literal({}, events.c.data.type),
    }
    if postgres:
        rows = moved.cte("moved")
        selected = select(
            *(value.label(name) for name, value in event.items()), rows.c.post_id, rows.c.id, rows.c.channel_id
        )
        columns = [*event, "post_id", "publication_id", "channel_id"]
        combined = insert(events).from_select(columns, selected).returning(events.c.publication_id).add_cte(rows)
        return combined, combined
    per_row: dict[str, Any] = {
        "post_id": bindparam("post_id"),
        "publication_id": bindparam("publication_id"),
        "channel_id": bindparam("channel_id"),
    }
    return moved, insert(events).values({**event, **per_row})


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
    with db.atomic_statements() as connection:
        moved = _apply(
            connection,
            S.QUEUED,
            S.PUBLISHING,
            now=now,
            match={"id": publication_id, "dispatch_token": token},
            bump_attempts=True,
            values={
                "lease_owner": lease_owner,
                "lease_until": now + timedelta(seconds=settings.publish_lease),
                "dispatch_token": None,
            },
            actor=lease_owner,
        )
        if not moved:
            return None
        loaded = load(connection, publication_id, settings)
        assert loaded is not None  # the row was just claimed
        return Claim(
            publication_id=publication_id,
            lease_owner=lease_owner,
            attempt=loaded.attempt,
            idempotency_key=loaded.idempotency_key,
            content=loaded.content,
            channel=loaded.channel,
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
    mine = {"id": claimed.publication_id, "lease_owner": claimed.lease_owner}
    moved: list[int] = []
    for attempt in (1, 2):
        try:
            with db.atomic_statements() as connection:
                for source in sources:
                    moved = moved or _apply(
                        connection,
                        source,
                        to,
                        now=now,
                        match=mine,
                        values=changes,
                        message=error,
                        actor=claimed.lease_owner,
                    )
            break
        except OperationalError:
            # a dropped connection: the pool is invalidated, and the guarded write is safe to repeat
            if attempt == 2:
                raise
            log.warning("publication %s: database connection lost, recording %s again", claimed.publication_id, to)
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
    with db.atomic_statements() as connection:
        loaded = load(connection, publication_id, settings)
    if loaded is None or loaded.state != S.UNKNOWN:
        return None
    content, channel = loaded.content, loaded.channel
    ctx = PublishContext(
        publication_id=publication_id,
        idempotency_key=loaded.idempotency_key,
        attempt=loaded.attempt,
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
    changes = dict(values or {})
    if error is not None:
        changes["last_error"] = error
    with db.atomic_statements() as connection:
        moved = _apply(
            connection,
            S.UNKNOWN,
            to,
            now=now,
            match={"id": publication_id},
            values=changes,
            message=message or error,
            actor="reconciler",
        )
    return to if moved else None


# -- reading rows as domain values -----------------------------------------------------------------


@dataclass(frozen=True)
class Loaded:
    state: PublicationState
    attempt: int
    idempotency_key: str
    content: Content
    channel: ChannelInfo


@functools.cache
def _load_statement() -> Executable:
    publication, post, channel, media = _PUBLICATIONS, _POSTS, _CHANNELS, _MEDIA
    return (
        select(
            publication.c.state,
            publication.c.attempts,
            publication.c.idempotency_key,
            post,
            channel.c.id.label("channel_id"),
            channel.c.name.label("channel_name"),
            channel.c.platform,
            channel.c.timezone,
            channel.c.language.label("channel_language"),
            channel.c.dry_run,
            channel.c.options,
            channel.c.credentials,
            media.c.path.label("media_path"),
            media.c.original_name,
            media.c.kind,
            media.c.mime,
            media.c.bytes,
            media.c.sha256,
            media.c.width,
            media.c.height,
            media.c.alt_text,
        )
        .join(post, post.c.id == publication.c.post_id)
        .join(channel, channel.c.id == publication.c.channel_id)
        .outerjoin(media, media.c.post_id == post.c.id)
        .where(publication.c.id == bindparam("publication_id"))
        .order_by(media.c.position)
    )


def load(connection: Connection, publication_id: int, settings: Settings) -> Loaded | None:
    """A publication's state, content and channel in one query (the worker's hot path)."""
    rows = connection.execute(_load_statement(), {"publication_id": publication_id}).all()
    if not rows:
        return None
    first = rows[0]
    items = tuple(
        MediaItem(
            path=settings.media_store / row.media_path,
            original_name=row.original_name,
            kind=row.kind,
            mime=row.mime,
            bytes=row.bytes,
            sha256=row.sha256,
            width=row.width,
            height=row.height,
            alt_text=row.alt_text,
        )
        for row in rows
        if row.media_path is not None
    )
    return Loaded(
        state=PublicationState(first.state),
        attempt=first.attempts,
        idempotency_key=first.idempotency_key,
        content=Content(
            post_id=first.id,
            version=first.version,
            text=first.text,
            title=first.title,
            link=first.link,
            language=first.language,
            media=items,
        ),
        channel=ChannelInfo(
            id=first.channel_id,
            name=first.channel_name,
            platform=first.platform,
            timezone=first.timezone,
            language=first.channel_language,
            dry_run=first.dry_run,
            options=dict(first.options or {}),
            credentials=decrypt_credentials(first.credentials, settings, first.channel_name),
        ),
    )
