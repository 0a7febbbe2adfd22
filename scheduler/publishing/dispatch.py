"""The dispatcher loop: the database decides what is due, the broker only rings the doorbell.

``run_dispatcher`` takes plain callables to send work, so the same loop drives Celery workers
(``scheduler.publishing.tasks``) and the embedded in-process executor (``scheduler.publishing.embedded``). It imports
no Celery.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import datetime

from scheduler import credentials, media_store
from scheduler.calendar import campaigns
from scheduler.editorial import overview
from scheduler.publishing import media_prep, publications, workers
from scheduler.publishing.publications import Dispatch
from scheduler.settings import Settings
from scheduler.store import Database

log = logging.getLogger(__name__)

# publication ids (one channel, one due instant: ``in_messages``), their dispatch token, the ETA
SendPublish = Callable[[list[int], str, datetime], None]
SendReconcile = Callable[[int], None]
SendRender = Callable[[int], None]


def dispatch_due(db: Database, send: SendPublish, *, now: datetime, settings: Settings) -> int:
    """One round: claim what is due within the look-ahead, re-send what was lost (a message whose
    lease ran out, or everything queued when a worker node stopped beating), and send.

    A send that fails (broker down) is only logged: the row stays ``queued`` and is re-sent with a
    new token once its lease runs out, so nothing is dropped.
    """
    sent = 0
    batches = [publications.requeue_lost(db, now=now, settings=settings)]
    lost = workers.claim_lost(db, now=now, settings=settings)
    if lost:
        # what they had reserved comes back from Redis only at its visibility timeout: send it again
        resent = publications.requeue_lost(db, now=now, settings=settings, every_queued=True)
        log.warning("worker nodes %s stopped beating; re-sent %d queued publications", lost, len(resent))
        batches.append(resent)
    while True:
        batch = publications.claim_due(db, now=now, settings=settings)
        batches.append(batch)
        if len(batch) < settings.dispatch_batch:
            break
    for batch in batches:
        sent += _send_all(in_messages(batch, settings.publish_batch, settings.publish_batch_window), send)
    return sent


def in_messages(dispatches: list[Dispatch], size: int, window: float = 0.0) -> list[list[Dispatch]]:
    """One message per channel and due instant (or ``window`` seconds of due times), of up to
    ``size`` publications, in due order: a worker claims each on its own just before its call, so
    sharing a message costs no guarantee, and saves the hand-off each message costs. A message is
    sent for the latest due time it carries: none goes out early, none later than ``window``. A
    publication with media travels alone: its upload may take minutes the others would wait."""
    messages: list[list[Dispatch]] = []
    filling: dict[tuple[str, int, float | datetime], list[Dispatch]] = {}
    for dispatch in dispatches:
        if dispatch.alone or size <= 1:
            messages.append([dispatch])
            continue
        when = dispatch.due_at.timestamp() // window if window > 0 else dispatch.due_at
        key = (dispatch.token, dispatch.channel_id, when)
        message = filling.setdefault(key, [])
        if not message:
            messages.append(message)
        message.append(dispatch)
        if len(message) == size:
            del filling[key]
    return messages


def _send_all(messages: list[list[Dispatch]], send: SendPublish) -> int:
    sent = 0
    for message in messages:
        ids = [dispatch.publication_id for dispatch in message]
        try:
            send(ids, message[0].token, max(dispatch.due_at for dispatch in message))
            sent += len(ids)
        except Exception:
            log.exception(
                "could not send publications %s; they stay queued and are re-sent when their lease expires", ids
            )
    return sent


def sweep(
    db: Database,
    send_reconcile: SendReconcile,
    send_render: SendRender,
    *,
    now: datetime,
    settings: Settings,
) -> int:
    """Leases that ran out become ``unknown``; every ``unknown`` row due gets a lookup; rows
    still without their renditions get them made; sign-off deadlines are warned about and enforced."""
    try:  # abandoned uploads (the API's and the web composer's) go after a week; at most hourly
        media_store.sweep_uploads(settings.data_dir / "uploads", now=now)
    except OSError:
        log.exception("sweeping old uploads failed; trying again next round")
    try:
        campaigns.sweep(db, settings, now=now)  # this year's awareness-day posts, at their lead time
    except Exception:
        log.exception("campaign sweep failed; trying again next round")
    try:
        credentials.warn_expiring(db, settings, now=now.timestamp())  # LinkedIn's 60 days, ahead of time
    except Exception:
        log.exception("checking the channels' sign-ins failed; trying again next round")
    # each step on its own: one that keeps failing must not hold up the others (renditions, leases,
    # lookups), or their publications would wait without a word
    try:
        missed = overview.sweep_deadlines(db, now=now)
        if missed:
            log.warning("publications %s: not signed off by their deadline; they will not publish", missed)
    except Exception:
        log.exception("sign-off deadline sweep failed; trying again next round")
    try:
        rendering = media_prep.needing_media(db, now=now, settings=settings)
    except Exception:
        log.exception("finding the publications that need renditions failed; trying again next round")
        rendering = []
    for publication_id in rendering:
        try:
            send_render(publication_id)
        except Exception:
            log.exception("could not ask for the renditions of publication %s; asking again later", publication_id)
    try:
        expired = publications.expire_leases(db, now=now, settings=settings)
        if expired:
            log.warning("publications %s: publish attempt lost (lease expired), reconciling", expired)
    except Exception:
        log.exception("expiring publish leases failed; trying again next round")
    ids = publications.due_for_reconcile(db, now=now, settings=settings)
    for publication_id in ids:
        try:
            send_reconcile(publication_id)
        except Exception:
            log.exception("could not send reconcile for publication %s", publication_id)
    return len(ids)


def run_dispatcher(
    db: Database,
    send: SendPublish,
    send_reconcile: SendReconcile,
    send_render: SendRender,
    *,
    settings: Settings,
    clock: Callable[[], datetime],
    stop: threading.Event,
    outbound: Callable[[datetime], object] | None = None,
) -> None:
    """Poll every ``dispatch_interval`` seconds until ``stop`` is set; any number may run at once.

    ``outbound`` (webhook deliveries and notifications, which the shell wires in: the core sends
    no HTTP) runs every round after dispatching; its failure never stops dispatching."""
    next_sweep = 0.0
    while not stop.is_set():
        started = time.monotonic()
        try:
            dispatch_due(db, send, now=clock(), settings=settings)
            if outbound is not None:
                try:
                    outbound(clock())
                except Exception:
                    log.exception("outbound deliveries failed; trying again next round")
            if started >= next_sweep:
                sweep(db, send_reconcile, send_render, now=clock(), settings=settings)
                next_sweep = started + settings.reconcile_interval
            if settings.heartbeat_file is not None:
                settings.heartbeat_file.touch()
        except Exception:
            # A database blip must not kill the loop: the next round picks up where this one stopped.
            log.exception("dispatcher round failed; retrying")
        stop.wait(max(0.0, settings.dispatch_interval - (time.monotonic() - started)))
