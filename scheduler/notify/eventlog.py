"""Following the event log with a named cursor (table ``cursors``): webhook fan-out, notifications.

Event ids are handed out when a transaction inserts its event and become visible when it commits,
so on PostgreSQL a lower id can commit after a higher one is already read. A reader that moved its
cursor to the highest id it saw would skip that late one for ever. The cursor therefore moves only
past events older than ``SETTLE`` (by their ``at``): a transaction is assumed to commit within that
long of recording its event. Newer events are handed out as they appear and remembered by id in
this process, so each is handled once here; handling must be idempotent all the same (a unique
key), since another process or a restart hands them out again.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from scheduler.store import Cursor, Database, Event

SETTLE = timedelta(seconds=60)
BATCH = 500

# (cursor name, database URL) -> the events above the cursor already handed out by this process,
# by id, with what tells one event from another that took the same id after the log was emptied
# (a test database truncated between tests)
_handed_out: dict[tuple[str, str], dict[int, tuple[str, datetime]]] = {}


def follow(
    db: Database,
    name: str,
    handle: Callable[[Session, Sequence[Event]], None],
    *,
    now: datetime,
    kinds: Collection[str] | None = None,
    settle: timedelta = SETTLE,
    batch: int = BATCH,
) -> int:
    """Hand the events after cursor ``name`` (of ``kinds``; None: all) not yet handed out here to
    ``handle``, oldest first, in the transaction that moves the cursor: what ``handle`` writes and
    the cursor's new place commit together. Returns how many events were handed out."""
    seen = _handed_out.setdefault((name, db.url), {})
    with db.transaction() as session:
        cursor = _locked_cursor(session, name, now)
        query = select(Event).where(Event.id > cursor.event_id).order_by(Event.id).limit(batch)
        if kinds is not None:
            query = query.where(Event.kind.in_(list(kinds)))
        events = list(session.scalars(query))
        fresh = [event for event in events if seen.get(event.id) != (event.kind, event.at)]
        if fresh:
            handle(session, fresh)
        # how far every event is visible: below the oldest one that may still have company
        # committing late, and no further than this batch reached when it was full
        recent = session.scalar(select(func.min(Event.id)).where(Event.id > cursor.event_id, Event.at > now - settle))
        newest = session.scalar(select(func.max(Event.id)).where(Event.id > cursor.event_id))
        limit = recent - 1 if recent is not None else newest
        if len(events) == batch:
            limit = min(limit or events[-1].id, events[-1].id)
        if limit is not None and limit > cursor.event_id:
            cursor.event_id, cursor.updated_at = limit, now
        position = cursor.event_id
    seen.update({event.id: (event.kind, event.at) for event in fresh})
    for event_id in [event_id for event_id in seen if event_id <= position]:
        del seen[event_id]
    return len(fresh)


def _locked_cursor(session: Session, name: str, now: datetime) -> Cursor:
    """The cursor row, made at 0 the first time, locked (PostgreSQL) so readers take turns."""
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    session.execute(
        insert(Cursor).values(name=name, event_id=0, updated_at=now).on_conflict_do_nothing(index_elements=["name"])
    )
    cursor = session.scalar(select(Cursor).where(Cursor.name == name).with_for_update())
    assert cursor is not None
    return cursor


def position(db: Database, name: str) -> int:
    """Where cursor ``name`` stands (0: nothing read yet)."""
    with db.transaction() as session:
        return session.scalar(select(Cursor.event_id).where(Cursor.name == name)) or 0
