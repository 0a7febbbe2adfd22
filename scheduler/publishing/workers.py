"""Worker nodes and their heartbeats: crash recovery in seconds, not at the visibility timeout.

A Celery worker reserves the ETA messages of the whole look-ahead as soon as they arrive. If its
host dies, Redis hands those messages back only after the visibility timeout, and the database
would re-send them only after ``lookahead + queued_grace``: minutes late. So every worker node
(a Celery worker's main process, or `crosspost up`) beats in the ``workers`` table, and the
dispatcher, seeing a node silent for ``worker_timeout`` (or stopped), re-dispatches every
``queued`` row with a new token. Messages still held anywhere become no-ops (the claim needs the
current token), so a post still goes out once. Rows a dead node was *publishing* are not touched
here: their lease (renewed while an attempt runs) runs out and reconciliation settles them.

The dispatcher cannot tell which node reserved which message, so a lost node costs a re-send of
everything queued at that moment (at most a look-ahead's worth), which is cheap and rare.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import delete, or_, select, update

from scheduler.settings import Settings
from scheduler.store import Database, Worker

log = logging.getLogger(__name__)


def new_node_id() -> str:
    """Unique per start: a restarted worker on the same host and pid is a new node."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def register(db: Database, node_id: str, *, now: datetime) -> None:
    with db.transaction() as session:
        session.add(Worker(id=node_id, hostname=socket.gethostname(), pid=os.getpid(), started_at=now, beat_at=now))


def beat(db: Database, node_id: str, *, now: datetime) -> bool:
    """Record that the node is alive; False when a dispatcher has already declared it lost (its
    queued work was re-sent: harmless, the node carries on and re-registers)."""
    with db.transaction() as session:
        alive = session.execute(
            update(Worker)
            .where(Worker.id == node_id, Worker.lost_at.is_(None))
            .values(beat_at=now)
            .returning(Worker.id)
        ).all()
    return bool(alive)


def stopped(db: Database, node_id: str, *, now: datetime) -> None:
    """A clean stop: the dispatcher re-sends what the node held at once, without waiting for silence."""
    with db.transaction() as session:
        session.execute(update(Worker).where(Worker.id == node_id).values(stopped_at=now, beat_at=now))


def claim_lost(db: Database, *, now: datetime, settings: Settings) -> list[str]:
    """Nodes silent for ``worker_timeout`` or stopped, each returned to exactly one dispatcher
    (the conditional update decides), and records of nodes lost a day ago removed."""
    silent_since = now - timedelta(seconds=settings.worker_timeout)
    with db.transaction() as session:
        candidates = session.scalars(
            select(Worker.id).where(
                Worker.lost_at.is_(None), or_(Worker.beat_at < silent_since, Worker.stopped_at.is_not(None))
            )
        ).all()
        if not candidates:
            return []
        lost = session.scalars(
            update(Worker)
            .where(Worker.id.in_(candidates), Worker.lost_at.is_(None))
            .values(lost_at=now)
            .returning(Worker.id)
        ).all()
        session.execute(delete(Worker).where(Worker.lost_at < now - timedelta(days=1)))
    return list(lost)


class Heartbeat:
    """Beats for one node from a daemon thread until ``stop``; a beat that fails is logged and
    tried again (a node is declared lost only after ``worker_timeout`` of silence)."""

    def __init__(
        self, db: Database, settings: Settings, clock: Callable[[], datetime], node_id: str | None = None
    ) -> None:
        self.db, self.settings, self.clock = db, settings, clock
        self.node_id = node_id or new_node_id()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="crosspost-heartbeat", daemon=True)

    def start(self) -> Heartbeat:
        register(self.db, self.node_id, now=self.clock())
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.wait(self.settings.worker_heartbeat):
            try:
                if not beat(self.db, self.node_id, now=self.clock()):
                    log.warning("worker node %s was declared lost (silent too long); registering again", self.node_id)
                    self.node_id = new_node_id()
                    register(self.db, self.node_id, now=self.clock())
            except Exception:
                log.exception("worker heartbeat failed; trying again")

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=self.settings.worker_heartbeat + 5)
        try:
            stopped(self.db, self.node_id, now=self.clock())
        except Exception:
            log.exception("could not record the worker's stop; it will be found silent instead")
