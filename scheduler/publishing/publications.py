"""Moving publications through their states (docs/scheduling.md).

Every state change here goes through ``scheduler.publishing.transitions``, which checks the move against
``states.ALLOWED``, makes it conditional on the state the caller saw (so two processes can never
both win), and appends the event in the same statement.

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
import os
import random
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import ColumnElement, Table, bindparam, func, literal, or_, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session
from sqlalchemy.sql.expression import Executable

from scheduler.credentials import (
    channel_options,
    current_credentials,
    decrypt_credentials,
    expiring,
    refresh_lock,
    store_credentials,
)
from scheduler.errors import InvalidInput
from scheduler.media_store import StoredMedia
from scheduler.planning import timetable
from scheduler.publishing.content import ChannelInfo, Content
from scheduler.publishing.ports import (
    AuthExpired,
    OutcomeUnknown,
    Permanent,
    PublishContext,
    Publisher,
    RateLimiter,
    Retryable,
)
from scheduler.publishing.states import DISPATCHABLE, PublicationState
from scheduler.publishing.transitions import PUBLICATIONS, apply, record_event, transition
from scheduler.redaction import redact_optional
from scheduler.settings import Settings
from scheduler.store import Channel, Database, Event, Post, PostMedia, PostVariant, Publication, Rendition

log = logging.getLogger(__name__)
S = PublicationState
# A queued row whose message was sent again this many times, each after its lease ran out with no
# worker taking it, goes to a person: no worker is running, or each one that takes it dies first.
MAX_REDISPATCHES = 5
AdapterFactory = Callable[[ChannelInfo], Publisher]

# Core tables: the hot path uses Core statements, which skip the ORM's per-statement bookkeeping.
_POSTS = cast(Table, Post.__table__)
_CHANNELS = cast(Table, Channel.__table__)
_MEDIA = cast(Table, PostMedia.__table__)
_VARIANTS = cast(Table, PostVariant.__table__)


@dataclass(frozen=True)
class Dispatch:
    """A claimed publication that needs a message: run it at ``due_at`` with ``token``.

    ``channel_id`` and ``alone`` decide which publications may share a message
    (``scheduler.publishing.dispatch.in_messages``): one with media travels alone, as its upload
    may take minutes that the others would wait."""

    publication_id: int
    token: str
    due_at: datetime
    channel_id: int = 0
    alone: bool = True


@dataclass(frozen=True)
class Claim:
    publication_id: int
    lease_owner: str
    attempt: int
    idempotency_key: str
    content: Content
    channel: ChannelInfo
    checkpoint: dict[str, Any] | None = None


def in_states(*states: PublicationState) -> ColumnElement[bool]:
    """``state IN (...)`` with the values written into the SQL, in the order given: the partial
    indexes of the periodic queries (models.Publication) are matched against literals only (by
    SQLite always, by PostgreSQL in a prepared statement's generic plan), and SQLite matches an
    IN list only in the same order."""
    values = [literal(state.value, literal_execute=True) for state in states]
    return Publication.state == values[0] if len(values) == 1 else Publication.state.in_(values)


# as ix_publications_dispatchable's WHERE lists them
DISPATCH_STATES = (S.SCHEDULED, S.RETRY_WAIT)
assert frozenset(DISPATCH_STATES) == DISPATCHABLE


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
        paused, outside_blackouts = timetable.holds(session, now=now)
        if paused:
            return []
        rows = _locked(
            session,
            in_states(*DISPATCH_STATES),
            Publication.media_ready.is_(True),  # never dispatched before its renditions exist
            Publication.channel_id.not_in(select(Channel.id).where(Channel.status != ACTIVE)),
            due_at <= horizon,
            *outside_blackouts,
            limit=settings.dispatch_batch,
            order=due_at,
        )
        if not rows:
            return []
        token = str(uuid.uuid4())
        lease = horizon + timedelta(seconds=settings.queued_grace)
        moved = transition(session, rows, S.QUEUED, now=now, values={"dispatch_token": token, "lease_until": lease})
        return _dispatches(session, moved, token)


def _dispatches(session: Session, ids: list[int], token: str) -> list[Dispatch]:
    """The messages rows just queued with ``token`` need, in due order: each at its effective due
    time (a row queued ahead of time is not sent early), with its channel and whether it has media."""
    if not ids:
        return []
    due_at = func.coalesce(Publication.next_attempt_at, Publication.due_at)
    with_media = select(PostMedia.id).where(PostMedia.post_id == Publication.post_id).exists()
    rows = session.execute(
        select(Publication.id, due_at.label("due"), Publication.channel_id, with_media.label("media")).where(
            Publication.id.in_(ids)
        )
    )
    return sorted(
        (Dispatch(row.id, token, row.due, row.channel_id, bool(row.media)) for row in rows),
        key=lambda dispatch: dispatch.due_at,
    )


def requeue_lost(db: Database, *, now: datetime, settings: Settings, every_queued: bool = False) -> list[Dispatch]:
    """Queued rows whose message never ran (broker restarted, dispatcher died before sending), or
    with ``every_queued`` all queued rows (a worker node that may have held their messages was
    lost): queued -> queued with a new token, so the old message, should it run, is a no-op."""
    conditions = [in_states(S.QUEUED)]
    if not every_queued:
        conditions.append(Publication.lease_until < now)
    with db.transaction() as session:
        # every queued row at once: they are at most a look-ahead's worth
        rows = _locked(session, *conditions, limit=None if every_queued else settings.dispatch_batch)
        if not rows:
            return []
        sent = _redispatches(session, [row.id for row in rows])
        lease_seconds = settings.lookahead + settings.queued_grace
        stuck = [row for row in rows if sent.get(row.id, 0) >= MAX_REDISPATCHES]
        if stuck:
            times = MAX_REDISPATCHES + 1
            reason = (
                f"sent to the workers {times} times over {times * lease_seconds / 60:.0f} min and no worker took "
                "it (is a worker running? `crosspost up`, or `crosspost worker`); `crosspost post retry` sends it again"
            )
            values = {"dispatch_token": None, "lease_until": None, "last_error": reason}
            transition(session, stuck, S.NEEDS_ATTENTION, now=now, values=values, message=reason)
            rows = [row for row in rows if sent.get(row.id, 0) < MAX_REDISPATCHES]
            if not rows:
                return []
        token = str(uuid.uuid4())
        # every queued row is due within the look-ahead
        lease = now + timedelta(seconds=lease_seconds)
        moved = transition(
            session,
            rows,
            S.QUEUED,
            now=now,
            values={"dispatch_token": token, "lease_until": lease},
            message="re-dispatched: a worker that held it was lost"
            if every_queued
            else "re-dispatched: the earlier message did not run before its lease ran out",
        )
        return _dispatches(session, moved, token)


def _redispatches(session: Session, ids: list[int]) -> dict[int, int]:
    """How many times each queued publication was sent again since it was last claimed by a dispatcher."""
    queued = S.QUEUED.value
    entered = (
        select(Event.publication_id, func.max(Event.id).label("since"))
        .where(Event.publication_id.in_(ids), Event.to_state == queued, Event.from_state != queued)
        .group_by(Event.publication_id)
        .subquery()
    )
    counted = session.execute(
        select(Event.publication_id, func.count())
        .join(entered, entered.c.publication_id == Event.publication_id)
        .where(Event.from_state == queued, Event.to_state == queued, Event.id > entered.c.since)
        .group_by(Event.publication_id)
    )
    return {publication_id: count for publication_id, count in counted if publication_id is not None}


# -- the worker's side -----------------------------------------------------------------------------


def claim(
    db: Database,
    publication_id: int,
    token: str,
    *,
    now: datetime,
    settings: Settings,
    preloaded: Loaded | None = None,
) -> Claim | None:
    """queued -> publishing for this exact dispatch, committed before any platform call.

    Returns None when the message is stale: the row was already claimed, cancelled, edited
    (which clears the token), re-dispatched, or never existed.

    ``preloaded``: the row as read after its message arrived (a batch reads its publications in one
    query). A claim that succeeds proves it current: every change to a queued row's content (an
    edit, a cancel, a sign-off undone) clears or replaces its token, and then no claim succeeds.
    """
    lease_owner = f"{settings.worker_id}/{uuid.uuid4().hex[:12]}"
    with db.atomic_statements() as connection:
        moved = apply(
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
        try:
            # the claim counted this attempt: the preloaded row is one behind
            loaded = (
                replace(preloaded, attempt=preloaded.attempt + 1)
                if preloaded is not None
                else load(connection, publication_id, settings)
            )
        except SQLAlchemyError:
            raise
        except Exception as exc:
            # its credentials or options cannot be read (a changed secret key, say): nothing was
            # sent, and it would fail the same way every time
            log.exception("publication %s: could not load it to publish", publication_id)
            error = (
                f"could not read the publication to publish it ({type(exc).__name__}: {exc}); "
                "fix that, then `crosspost post retry`"
            )
            values = {"lease_until": None, "last_error": redact_optional(error)}
            mine = {"id": publication_id, "lease_owner": lease_owner}
            apply(
                connection, S.PUBLISHING, S.FAILED, now=now, match=mine, values=values, message=error, actor=lease_owner
            )
            return None
        assert loaded is not None  # the row was just claimed
        return Claim(
            publication_id=publication_id,
            lease_owner=lease_owner,
            attempt=loaded.attempt,
            idempotency_key=loaded.idempotency_key,
            content=loaded.content,
            channel=loaded.channel,
            checkpoint=loaded.checkpoint,
        )


def _checkpoint_saver(
    db: Database, publication_id: int, version: int, state: PublicationState, lease_owner: str | None
) -> Callable[[dict[str, Any]], None]:
    """Writes an adapter's checkpoint at once, only while this attempt still holds the row."""

    def save(data: dict[str, Any]) -> None:
        conditions = [PUBLICATIONS.c.id == publication_id, PUBLICATIONS.c.state == state.value]
        if lease_owner is not None:
            conditions.append(PUBLICATIONS.c.lease_owner == lease_owner)
        with db.atomic_statements() as connection:
            saved = connection.execute(
                update(PUBLICATIONS)
                .where(*conditions)
                .values(checkpoint={**data, "_version": version})
                .returning(PUBLICATIONS.c.id)
            ).all()
        if not saved:
            # the lease ran out and reconciliation owns the row: go no further without the handle saved
            raise OutcomeUnknown(f"publication {publication_id}: this attempt lost its lease; stopping")

    return save


class _LeaseKeeper:
    """Renews the leases of this process's running attempts, every ``publish_lease / 5``, from one
    thread: a long upload keeps its row however long it takes, and a worker that dies stops
    renewing, so its rows reach reconciliation within one lease. Only rows still ``publishing``
    under the same lease owner are renewed: an attempt that lost its row never takes it back."""

    def __init__(self, db: Database, settings: Settings, clock: Callable[[], datetime]) -> None:
        self.db, self.settings, self.clock = db, settings, clock
        self.held: dict[int, str] = {}
        self.lock = threading.Lock()
        self.wake = threading.Event()
        self.thread: threading.Thread | None = None

    @contextmanager
    def holding(self, publication_id: int, lease_owner: str) -> Iterator[None]:
        with self.lock:
            self.held[publication_id] = lease_owner
            if self.thread is None or not self.thread.is_alive():
                self.thread = threading.Thread(target=self._run, name="crosspost-lease", daemon=True)
                self.thread.start()
        try:
            yield
        finally:
            with self.lock:
                self.held.pop(publication_id, None)

    def _run(self) -> None:
        while not self.wake.wait(self.settings.publish_lease / 5):
            with self.lock:
                held = list(self.held.items())
            if not held:
                continue
            until = self.clock() + timedelta(seconds=self.settings.publish_lease)
            try:
                with self.db.atomic_statements() as connection:
                    connection.execute(
                        update(PUBLICATIONS)
                        .where(
                            PUBLICATIONS.c.id == bindparam("publication_id"),
                            PUBLICATIONS.c.lease_owner == bindparam("owner"),
                            PUBLICATIONS.c.state == S.PUBLISHING.value,
                        )
                        .values(lease_until=bindparam("until")),
                        [{"publication_id": i, "owner": owner, "until": until} for i, owner in held],
                    )
            except Exception:
                log.exception("renewing publish leases failed; trying again")


_keepers: dict[tuple[int, int], _LeaseKeeper] = {}
_keepers_guard = threading.Lock()


def _lease_keeper(db: Database, settings: Settings, clock: Callable[[], datetime]) -> _LeaseKeeper:
    key = (os.getpid(), id(db))  # a forked worker child makes its own thread
    with _keepers_guard:
        keeper = _keepers.get(key)
        if keeper is None or keeper.db is not db:
            keeper = _keepers[key] = _LeaseKeeper(db, settings, clock)
        return keeper


def publish(
    db: Database,
    publication_id: int,
    token: str,
    adapters: AdapterFactory,
    *,
    settings: Settings,
    clock: Callable[[], datetime],
    limiter: RateLimiter | None = None,
    preloaded: Loaded | None = None,
) -> PublicationState | None:
    """Claim, call the platform once, record the outcome. Returns the new state, or None if stale."""
    claimed = claim(db, publication_id, token, now=clock(), settings=settings, preloaded=preloaded)
    if claimed is None:
        log.info("publication %s: stale message (token %s), nothing to do", publication_id, token)
        return None
    channel_name = claimed.channel.name
    if claimed.channel.status != ACTIVE:
        # claimed before its channel's credentials were refused: no doomed call to the platform
        error = f"waiting for channel {claimed.channel.name} to be reconnected"
        return _finish(db, settings, claimed, S.RETRY_WAIT, now=clock(), error=error, retry_in=settings.retry_cap)
    try:
        channel = _fresh_credentials(db, claimed.channel, adapters, settings=settings, now=clock())
    except AuthExpired as exc:
        mark_needs_reconnect(db, claimed.channel.id, claimed.channel.name, str(exc), now=clock())
        error = f"waiting for channel {claimed.channel.name} to be reconnected: {exc}"
        return _finish(db, settings, claimed, S.RETRY_WAIT, now=clock(), error=error, retry_in=settings.retry_cap)
    except Retryable as exc:
        wait = retry_delay(claimed.attempt, exc.retry_after, settings)
        return _finish(db, settings, claimed, S.RETRY_WAIT, now=clock(), error=str(exc), retry_in=wait)
    except Exception as exc:
        return _not_sent(db, settings, claimed, f"could not refresh {channel_name}'s sign-in", exc, now=clock())
    try:
        adapter = adapters(channel)
        for limit in adapter.rate_limits:
            wait = 0.0 if limiter is None else limiter.reserve(f"{channel.platform}:{limit.name}:{channel.id}", limit)
            if wait > 0:  # waits in the database, never in a worker
                error = f"{channel.name}: {channel.platform}'s limit of {limit.count} {limit.what} reached"
                return _finish(db, settings, claimed, S.RETRY_WAIT, now=clock(), error=error, retry_in=wait)
    except Exception as exc:
        return _not_sent(db, settings, claimed, f"could not set up channel {channel_name}", exc, now=clock())
    ctx = PublishContext(
        publication_id=claimed.publication_id,
        idempotency_key=claimed.idempotency_key,
        attempt=claimed.attempt,
        started_at=clock(),
        checkpoint=claimed.checkpoint,
        save_checkpoint=_checkpoint_saver(
            db, claimed.publication_id, claimed.content.version, S.PUBLISHING, claimed.lease_owner
        ),
    )
    try:
        prepared = adapter.prepare(claimed.content)
    except InvalidInput as refused:
        return _finish(db, settings, claimed, S.FAILED, now=clock(), error=str(refused))
    except Exception as exc:
        # prepare sends nothing, so an unexpected error here is a definite failure, not an unknown
        log.exception("publication %s: preparing the post failed", publication_id)
        return _finish(db, settings, claimed, S.FAILED, now=clock(), error=f"could not prepare the post: {exc!r}")
    try:
        with _lease_keeper(db, settings, clock).holding(claimed.publication_id, claimed.lease_owner):
            try:
                result = adapter.publish(prepared, ctx)
            except AuthExpired as refused:
                # a token refused before it expired (revoked, rotated elsewhere): one refresh, then
                # the same call again; a refused token means the first call made nothing
                try:
                    refreshed = _fresh_credentials(db, channel, adapters, settings=settings, now=clock(), force=True)
                except AuthExpired as also:
                    raise AuthExpired(f"{refused}; then {also}") from also
                if refreshed.credentials == channel.credentials:
                    raise  # nothing to refresh with: the channel must be reconnected
                adapter = adapters(refreshed)
                result = adapter.publish(prepared, ctx)
    except Retryable as exc:
        if claimed.attempt >= settings.max_attempts:
            error = f"gave up after {claimed.attempt} attempts: {exc}"
            return _finish(db, settings, claimed, S.FAILED, now=clock(), error=error)
        wait = retry_delay(claimed.attempt, exc.retry_after, settings)
        return _finish(db, settings, claimed, S.RETRY_WAIT, now=clock(), error=str(exc), retry_in=wait)
    except Permanent as exc:
        return _finish(db, settings, claimed, S.FAILED, now=clock(), error=str(exc))
    except AuthExpired as exc:
        # the channel, not the post, is broken: it stops taking posts until reconnected, and this
        # one waits for that (nothing stops silently: the channel's status and an event say why)
        mark_needs_reconnect(db, claimed.channel.id, claimed.channel.name, str(exc), now=clock())
        error = f"waiting for channel {claimed.channel.name} to be reconnected: {exc}"
        return _finish(db, settings, claimed, S.RETRY_WAIT, now=clock(), error=error, retry_in=settings.retry_cap)
    except OutcomeUnknown as exc:
        return _finish(db, settings, claimed, S.UNKNOWN, now=clock(), error=str(exc))
    except Exception as exc:
        # A bug or an unexpected library error during the call: the post may have gone out.
        log.exception("publication %s: unexpected error while publishing", publication_id)
        return _finish(db, settings, claimed, S.UNKNOWN, now=clock(), error=f"unexpected error: {exc!r}")
    return _finish(
        db,
        settings,
        claimed,
        S.PUBLISHED,
        now=clock(),
        values={"remote_id": result.remote_id, "remote_url": result.url, "published_at": clock()},
    )


@dataclass(frozen=True)
class BatchOutcome:
    states: dict[int, PublicationState | None]  # each publication tried: its new state, None if stale
    handed_back: list[int]  # not tried within the time budget: still queued, under the same token


def publish_batch(
    db: Database,
    publication_ids: list[int],
    token: str,
    adapters: AdapterFactory,
    *,
    settings: Settings,
    clock: Callable[[], datetime],
    limiter: RateLimiter | None = None,
    budget: float | None = None,
    threads: int | None = None,
) -> BatchOutcome:
    """One message's publications (one channel, one due instant), each exactly as ``publish``
    does it: claimed on its own (queued -> publishing, on the token) just before its own call, its
    outcome recorded after it. What a batch saves is the message hand-off and the load: its
    publications are read in one query when it starts. They are taken in order by ``threads``
    (``publish_batch_threads``) threads, so one slow call does not hold the next.

    A redelivered batch claims nothing already claimed. A worker that dies mid-batch leaves the
    ones it claimed to their leases (-> unknown -> reconciliation) and the rest queued: re-sent when
    their lease runs out, or at once when the node is found lost. Publications not begun within
    ``budget`` seconds (``publish_lease`` by default: a slow platform) are handed back to be sent
    again, still queued under the same token. An exception stops the batch taking more and is
    raised once its threads are done."""
    budget = settings.publish_lease if budget is None else budget
    threads = settings.publish_batch_threads if threads is None else threads
    started = time.monotonic()
    preloaded = _preload(db, publication_ids, settings)
    waiting = list(reversed(publication_ids))
    states: dict[int, PublicationState | None] = {}
    handed_back: list[int] = []
    failures: list[BaseException] = []
    guard = threading.Lock()

    def take() -> int | None:
        with guard:
            if failures or not waiting:
                return None
            if len(waiting) < len(publication_ids) and time.monotonic() - started > budget:
                handed_back.extend(reversed(waiting))
                waiting.clear()
                return None
            return waiting.pop()

    def work() -> None:
        nonlocal preloaded
        while (publication_id := take()) is not None:
            try:
                state = publish(
                    db,
                    publication_id,
                    token,
                    adapters,
                    settings=settings,
                    clock=clock,
                    limiter=limiter,
                    preloaded=preloaded.get(publication_id),
                )
            except BaseException as failure:  # the task's retry, or the process's end, decides
                with guard:
                    failures.append(failure)
                return
            with guard:
                states[publication_id] = state
                if state is not None and state is not S.PUBLISHED:
                    # a refused sign-in marks the channel, a failing platform may change it: the
                    # rest are read after their claims, as single messages are
                    preloaded = {}

    helpers = [
        threading.Thread(target=work, name="crosspost-batch", daemon=True)
        for _ in range(min(threads, len(publication_ids)) - 1)
    ]
    for helper in helpers:
        helper.start()
    work()
    for helper in helpers:
        helper.join()
    if failures:
        raise failures[0]
    return BatchOutcome({i: states[i] for i in publication_ids if i in states}, handed_back)


def _preload(db: Database, publication_ids: list[int], settings: Settings) -> dict[int, Loaded]:
    """The batch's publications in one query; empty when one of them cannot be read (then each is
    read after its claim, and one that cannot be fails with the reason, as a single message does)."""
    if len(publication_ids) < 2:
        return {}
    try:
        with db.atomic_statements() as connection:
            return load_many(connection, publication_ids, settings)
    except SQLAlchemyError:
        raise
    except Exception:
        log.info("publications %s: read one by one (one cannot be read)", publication_ids, exc_info=True)
        return {}


def _not_sent(
    db: Database, settings: Settings, claimed: Claim, what: str, exc: Exception, *, now: datetime
) -> PublicationState | None:
    """An unexpected error before the platform call: nothing was sent, so it is tried again like a
    refused call (``max_attempts`` in all), and the reason is on the row and in the event."""
    log.exception("publication %s: %s", claimed.publication_id, what)
    error = f"{what}: {type(exc).__name__}: {exc}"
    if claimed.attempt >= settings.max_attempts:
        error = f"gave up after {claimed.attempt} attempts: {error}"
        return _finish(db, settings, claimed, S.FAILED, now=now, error=error)
    wait = retry_delay(claimed.attempt, None, settings)
    return _finish(db, settings, claimed, S.RETRY_WAIT, now=now, error=error, retry_in=wait)


def _finish(
    db: Database,
    settings: Settings,
    claimed: Claim,
    to: PublicationState,
    *,
    now: datetime,
    error: str | None = None,
    retry_in: float | None = None,
    values: dict[str, Any] | None = None,
) -> PublicationState | None:
    """Record the outcome of a claimed attempt, only if this worker still holds the lease."""
    error = redact_optional(error)  # an adapter's error can quote a token or the webhook URL (load remembered them)
    changes: dict[str, Any] = {"lease_until": None, "last_error": error, **(values or {})}
    if to is S.PUBLISHED:
        changes["published_version"] = claimed.content.version
    if to is S.RETRY_WAIT:
        changes["next_attempt_at"] = now + timedelta(seconds=retry_in or 0)
    if to is S.UNKNOWN:
        changes["next_attempt_at"] = now + timedelta(seconds=settings.reconcile_first_wait)
        changes["unknown_since"] = now
    # A success also counts if the lease ran out and the row was already marked unknown.
    sources = [S.PUBLISHING, S.UNKNOWN] if to is S.PUBLISHED else [S.PUBLISHING]
    mine = {"id": claimed.publication_id, "lease_owner": claimed.lease_owner}
    moved: list[int] = []
    for attempt in (1, 2):
        try:
            with db.atomic_statements() as connection:
                for source in sources:
                    moved = moved or apply(
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


ACTIVE, NEEDS_RECONNECT = "active", "needs_reconnect"


def _fresh_credentials(
    db: Database,
    channel: ChannelInfo,
    adapters: AdapterFactory,
    *,
    settings: Settings,
    now: datetime,
    force: bool = False,
) -> ChannelInfo:
    """The channel with a token that will last the call: refreshed ahead of expiry (or at once,
    ``force``, when the platform refused it), once per channel at a time, and stored (encrypted)
    before anything else can use the old one."""
    if not force and not expiring(channel.credentials):
        return channel
    refused = channel.credentials
    with refresh_lock(db, channel.id):
        channel = replace(channel, credentials=current_credentials(db, settings, channel.id, channel.name))
        if force and channel.credentials != refused:
            return channel  # another worker refreshed it since the refused call read it
        if not force and not expiring(channel.credentials):
            return channel  # another worker refreshed it meanwhile
        fresh = adapters(channel).refreshed_credentials(force=force)
        if fresh is None:
            return channel
        store_credentials(db, settings, channel.id, fresh)
        with db.transaction() as session:
            record_event(
                session,
                "channel.token_refreshed",
                now=now,
                channel_id=channel.id,
                message=f"{channel.name}: access token refreshed",
            )
        return replace(channel, credentials=fresh)


def mark_needs_reconnect(db: Database, channel_id: int, name: str, reason: str, *, now: datetime) -> None:
    """The channel's credentials were refused (or could not be refreshed): it takes no more posts
    until reconnected; said once, in the event log."""
    with db.transaction() as session:
        moved = session.execute(
            update(Channel)
            .where(Channel.id == channel_id, Channel.status == ACTIVE)
            .values(status=NEEDS_RECONNECT)
            .returning(Channel.id)
        ).all()
        if moved:
            record_event(
                session,
                "channel.needs_reconnect",
                now=now,
                channel_id=channel_id,
                message=f"{name}: {reason}; its posts wait until it is reconnected "
                f"(crosspost channel reconnect {name} --credentials FILE)",
            )


def retry_delay(attempt: int, retry_after: float | None, settings: Settings) -> float:
    """Exponential backoff with jitter, never shorter than what the platform asked for."""
    backoff: float = min(settings.retry_cap, settings.retry_base * 2.0 ** max(0, attempt - 1))
    return max(retry_after or 0.0, backoff * random.uniform(0.5, 1.0))


# -- leases and reconciliation -------------------------------------------------------------------


def expire_leases(db: Database, *, now: datetime, settings: Settings) -> list[int]:
    """publishing rows whose worker stopped answering (crash, kill, hang) -> unknown, never a re-publish."""
    with db.transaction() as session:
        rows = _locked(session, in_states(S.PUBLISHING), Publication.lease_until < now)
        return transition(
            session,
            rows,
            S.UNKNOWN,
            now=now,
            values={"next_attempt_at": now, "unknown_since": now},
            message="the publish attempt stopped renewing its lease (its worker died or lost the database)",
        )


def due_for_reconcile(db: Database, *, now: datetime, settings: Settings) -> list[int]:
    """Unknown rows due for a lookup; pushes their next lookup back so each is asked once per round."""
    with db.transaction() as session:
        rows = _locked(
            session,
            in_states(S.UNKNOWN),
            or_(Publication.next_attempt_at.is_(None), Publication.next_attempt_at <= now),
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
    """Ask the platform whether an ``unknown`` publication landed, and settle it.

    Found: ``published``, after the steps publishing would have taken next (``finish``). Not
    found: tried again when that proves absence (at once for some platforms, for others once
    ``absence_settles_after`` has passed since the attempt ended); otherwise asked again, at
    growing intervals, for ``reconcile_window``; only then does a person decide.
    """
    try:
        with db.atomic_statements() as connection:
            loaded = load(connection, publication_id, settings)
    except SQLAlchemyError:
        raise
    except Exception as exc:
        log.exception("publication %s: could not load it to look it up", publication_id)
        error = f"could not read the publication to look it up ({type(exc).__name__}: {exc}); check the channel"
        return _settle(db, publication_id, S.NEEDS_ATTENTION, now=clock(), error=error)
    if loaded is None or loaded.state != S.UNKNOWN:
        return None
    content, channel = loaded.content, loaded.channel
    since = loaded.unknown_since or clock()
    ctx = PublishContext(
        publication_id=publication_id,
        idempotency_key=loaded.idempotency_key,
        attempt=loaded.attempt,
        started_at=since,  # about when the create call was made: what a platform's listing shows
        checkpoint=loaded.checkpoint,
        save_checkpoint=_checkpoint_saver(db, publication_id, content.version, S.UNKNOWN, None),
    )
    try:
        channel = _fresh_credentials(db, channel, adapters, settings=settings, now=clock())
    except AuthExpired as exc:
        mark_needs_reconnect(db, channel.id, channel.name, str(exc), now=clock())
        # asked again once the channel is reconnected; past the window, a person decides
        reason = f"waiting for channel {channel.name} to be reconnected"
        return _look_again(db, publication_id, since, now=clock(), settings=settings, reason=reason)
    except Retryable as exc:
        return _look_again(db, publication_id, since, now=clock(), settings=settings, reason=str(exc))
    except Exception as exc:
        log.exception("publication %s: refreshing the sign-in to look it up failed", publication_id)
        error = f"lookup failed: could not refresh {channel.name}'s sign-in ({type(exc).__name__}: {exc})"
        return _settle(db, publication_id, S.NEEDS_ATTENTION, now=clock(), error=error)
    try:
        adapter = adapters(channel)
        prepared = adapter.prepare(content)
        found = adapter.lookup(prepared, ctx)
        if found is not None:
            found = adapter.finish(prepared, found, ctx)
    except (Retryable, OutcomeUnknown) as exc:
        log.info("publication %s: lookup did not answer (%s); will ask again", publication_id, exc)
        return _look_again(db, publication_id, since, now=clock(), settings=settings, reason=str(exc))
    except (InvalidInput, Permanent, AuthExpired) as exc:
        return _settle(db, publication_id, S.NEEDS_ATTENTION, now=clock(), error=f"lookup failed: {exc}")
    except Exception as exc:
        # a bug or a broken channel: asking again every sweep would only hide it in the logs
        log.exception("publication %s: lookup raised", publication_id)
        return _settle(db, publication_id, S.NEEDS_ATTENTION, now=clock(), error=f"lookup failed: {exc!r}")
    if found is not None:
        values: dict[str, Any] = {
            "remote_id": found.remote_id,
            "remote_url": found.url,
            "published_at": clock(),
            "published_version": content.version,
        }
        return _settle(db, publication_id, S.PUBLISHED, now=clock(), values=values, message="found on the platform")
    waited = (clock() - since).total_seconds()
    settles = adapter.absence_settles_after
    absent = adapter.lookup_proves_absence or (settles is not None and waited >= settles)
    if absent and ctx.attempt >= settings.max_attempts:
        return _settle(
            db,
            publication_id,
            S.NEEDS_ATTENTION,
            now=clock(),
            error=f"{ctx.attempt} attempts ended without an answer and none landed; check the channel",
        )
    if absent:
        return _settle(
            db,
            publication_id,
            S.RETRY_WAIT,
            now=clock(),
            values={"next_attempt_at": clock()},
            message=f"not on the platform {waited:.0f} s after the attempt: it did not land; trying again",
        )
    if waited < settings.reconcile_window:
        return _look_again(db, publication_id, since, now=clock(), settings=settings, reason="not found yet")
    return _settle(
        db,
        publication_id,
        S.NEEDS_ATTENTION,
        now=clock(),
        error=f"could not confirm in {waited / 60:.0f} min whether the interrupted attempt was published; check "
        "the channel, then `crosspost post retry` to send it or `post cancel` to drop it",
    )


def _look_again(
    db: Database, publication_id: int, since: datetime, *, now: datetime, settings: Settings, reason: str
) -> PublicationState | None:
    """Stay ``unknown`` and look again after a wait that grows with the time already spent (about
    doubling), from ``reconcile_first_wait`` to ``reconcile_backoff``; past ``reconcile_window`` of
    lookups that could not answer, a person decides."""
    waited = (now - since).total_seconds()
    if waited >= settings.reconcile_window:
        error = f"no lookup could settle it in {waited / 60:.0f} min ({reason}); check the channel"
        return _settle(db, publication_id, S.NEEDS_ATTENTION, now=now, error=error)
    wait = min(settings.reconcile_backoff, max(settings.reconcile_first_wait, waited))
    with db.atomic_statements() as connection:
        connection.execute(
            update(PUBLICATIONS)
            .where(PUBLICATIONS.c.id == publication_id, PUBLICATIONS.c.state == S.UNKNOWN.value)
            .values(next_attempt_at=now + timedelta(seconds=wait))
        )
    return S.UNKNOWN


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
        moved = apply(
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
    checkpoint: dict[str, Any] | None = None
    unknown_since: datetime | None = None


@functools.cache
def _load_statement(many: bool = False) -> Executable:
    publication, post, channel, media, variant = PUBLICATIONS, _POSTS, _CHANNELS, _MEDIA, _VARIANTS
    which = (
        publication.c.id.in_(bindparam("publication_ids", expanding=True))
        if many
        else publication.c.id == bindparam("publication_id")
    )
    return (
        select(
            publication.c.id.label("publication_id"),
            publication.c.state,
            publication.c.attempts,
            publication.c.idempotency_key,
            publication.c.checkpoint,
            publication.c.unknown_since,
            post,
            variant.c.text.label("variant_text"),
            variant.c.title.label("variant_title"),
            variant.c.language.label("variant_language"),
            channel.c.id.label("channel_id"),
            channel.c.name.label("channel_name"),
            channel.c.platform,
            channel.c.timezone,
            channel.c.language.label("channel_language"),
            channel.c.dry_run,
            channel.c.options,
            channel.c.secret_options,
            channel.c.credentials,
            channel.c.status.label("channel_status"),
            media.c.path,
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
        .outerjoin(variant, variant.c.id == publication.c.variant_id)
        .outerjoin(media, media.c.post_id == post.c.id)
        .where(which)
        .order_by(publication.c.id, media.c.position)
    )


def load(connection: Connection, publication_id: int, settings: Settings) -> Loaded | None:
    """A publication's state, content and channel in one query (the worker's hot path)."""
    rows = connection.execute(_load_statement(), {"publication_id": publication_id}).all()
    return _loaded(connection, publication_id, rows, settings) if rows else None


def load_many(connection: Connection, publication_ids: list[int], settings: Settings) -> dict[int, Loaded]:
    """Several publications as ``load`` reads one, in one query (a batch message's publications)."""
    rows: dict[int, list[Any]] = {}
    for row in connection.execute(_load_statement(many=True), {"publication_ids": publication_ids}):
        rows.setdefault(row.publication_id, []).append(row)
    return {
        publication_id: _loaded(connection, publication_id, its_rows, settings)
        for publication_id, its_rows in rows.items()
    }


def _loaded(connection: Connection, publication_id: int, rows: Sequence[Any], settings: Settings) -> Loaded:
    first = rows[0]
    items = tuple(StoredMedia.from_row(row).as_item(settings.media_store) for row in rows if row.path is not None)
    if items:
        # what the channel gets is its renditions, made ahead of time, not the original upload
        made = connection.execute(
            select(Rendition).where(Rendition.publication_id == publication_id).order_by(Rendition.position)
        ).all()
        if made:
            items = tuple(StoredMedia.from_row(row).as_item(settings.media_store) for row in made)
    checkpoint = first.checkpoint if isinstance(first.checkpoint, dict) else None
    if checkpoint is not None and checkpoint.get("_version") != first.version:
        checkpoint = None  # made for content since edited: never resume it
    return Loaded(
        checkpoint=checkpoint,
        unknown_since=first.unknown_since,
        state=PublicationState(first.state),
        attempt=first.attempts,
        idempotency_key=first.idempotency_key,
        content=Content(
            post_id=first.id,
            version=first.version,
            # a language or channel variant replaces the text (and title) it was written for
            text=first.text if first.variant_text is None else first.variant_text,
            title=first.title if first.variant_text is None else first.variant_title,
            link=first.link,
            language=first.variant_language or first.language,
            media=items,
        ),
        channel=ChannelInfo(
            id=first.channel_id,
            name=first.channel_name,
            platform=first.platform,
            timezone=first.timezone,
            language=first.channel_language,
            dry_run=first.dry_run,
            options=channel_options(first.options, first.secret_options, settings, first.channel_name),
            credentials=decrypt_credentials(first.credentials, settings, first.channel_name),
            status=first.channel_status,
        ),
    )


# -- a person settles what the pipeline could not ---------------------------------------------------

PUBLISHED_BY_HAND, NOT_PUBLISHED = "published", "not_published"
RESOLVABLE = frozenset({S.UNKNOWN, S.NEEDS_ATTENTION})


def resolve_by_hand(
    db: Database,
    publication_id: int,
    *,
    outcome: str,
    reason: str,
    now: datetime,
    actor: str | None = None,
    remote_id: str | None = None,
    remote_url: str | None = None,
) -> PublicationState:
    """A person says what became of a publication the pipeline could not settle (``unknown`` or
    ``needs_attention``): ``published`` (seen on the platform; its id and URL if known) or
    ``not_published`` (it is not there: it is cancelled, and ``post retry`` sends it again).
    The reason and who gave it go into the event; only an editor or above of the channel's
    organisation may. Returns the state it ends in."""
    from scheduler.editorial.authorization import Action, authorize
    from scheduler.errors import NotFound, StateConflict

    if outcome not in (PUBLISHED_BY_HAND, NOT_PUBLISHED):
        raise InvalidInput(f"outcome {outcome!r}: say {PUBLISHED_BY_HAND} or {NOT_PUBLISHED}")
    if not reason.strip():
        raise InvalidInput("say why: the reason is empty")
    if outcome == NOT_PUBLISHED and (remote_id or remote_url):
        raise InvalidInput("a publication that is not published has no remote id or URL")
    if remote_url and not remote_url.lower().startswith(("https://", "http://")):
        # it is shown as a link to everyone who sees the post: never a javascript: or data: URL
        raise InvalidInput(f"the remote URL must start with https:// or http://, not {remote_url[:40]!r}")
    with db.transaction() as session:
        row = session.get(Publication, publication_id, with_for_update=True)
        if row is None:
            raise NotFound(f"no publication with id {publication_id}")
        channel = session.get(Channel, row.channel_id)
        assert channel is not None
        doing = f"resolve publication {publication_id} on {channel.name}"
        authorize(session, actor, Action.EDIT_POST, [channel.org_id], doing=doing)
        state = PublicationState(row.state)
        if state not in RESOLVABLE:
            raise StateConflict(
                f"publication {publication_id} is {state}; only unknown or needs_attention ones are resolved by hand"
            )
        message = f"resolved by hand: {outcome.replace('_', ' ')}: {reason.strip()}"
        if outcome == PUBLISHED_BY_HAND:
            version = session.scalar(select(Post.version).where(Post.id == row.post_id))
            values: dict[str, Any] = {
                "published_at": now,
                "published_version": version,
                "lease_until": None,
                "next_attempt_at": None,
                "dispatch_token": None,
            }
            if remote_id:
                values["remote_id"] = remote_id
            if remote_url:
                values["remote_url"] = remote_url
            steps = [(state, S.PUBLISHED, values)]
        else:
            cancel: dict[str, Any] = {"lease_until": None, "next_attempt_at": None, "dispatch_token": None}
            # unknown has no move to cancelled: it passes through needs_attention, both recorded
            steps = [(S.UNKNOWN, S.NEEDS_ATTENTION, {})] if state is S.UNKNOWN else []
            steps.append((S.NEEDS_ATTENTION, S.CANCELLED, cancel))
        connection = session.connection()
        for source, to, changes in steps:
            moved = apply(
                connection,
                source,
                to,
                now=now,
                match={"id": publication_id},
                values=changes,
                message=message,
                actor=actor,
            )
            if not moved:
                raise StateConflict(f"publication {publication_id} changed meanwhile; look at it again")
        return steps[-1][1]
