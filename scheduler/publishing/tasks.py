"""Thin Celery tasks: ids in, the logic lives in ``scheduler.publishing.publications``."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.exc import OperationalError

from scheduler.publishing import media_prep, publications
from scheduler.publishing.celery_app import app
from scheduler.runtime import process_runtime


# A database blip before the claim is retried; after the claim the row is leased, so a retried
# task finds nothing to claim and the lease expiry hands the row to reconciliation.
@app.task(name="crosspost.publish", autoretry_for=(OperationalError,), retry_backoff=True, max_retries=5)
def publish(publication_id: int, token: str) -> str | None:
    runtime = process_runtime()
    state = publications.publish(
        runtime.db,
        publication_id,
        token,
        runtime.adapters,
        settings=runtime.settings,
        clock=runtime.clock,
        limiter=runtime.limiter,
    )
    return None if state is None else state.value


# One message for several publications of one channel due at the same instant (dispatch.in_messages).
# A redelivery, or the retry after a database blip, claims nothing already claimed. Publications not
# begun within the batch's time budget go back to the queue in a message of their own, same token.
@app.task(name="crosspost.publish_batch", autoretry_for=(OperationalError,), retry_backoff=True, max_retries=5)
def publish_batch(publication_ids: list[int], token: str) -> dict[int, str | None]:
    runtime = process_runtime()
    outcome = publications.publish_batch(
        runtime.db,
        publication_ids,
        token,
        runtime.adapters,
        settings=runtime.settings,
        clock=runtime.clock,
        limiter=runtime.limiter,
    )
    if outcome.handed_back:
        publish_batch.apply_async((outcome.handed_back, token), retry=True, retry_policy=_SEND_RETRY)
    return {publication_id: None if state is None else state.value for publication_id, state in outcome.states.items()}


@app.task(name="crosspost.reconcile", autoretry_for=(OperationalError,), retry_backoff=True, max_retries=5)
def reconcile(publication_id: int) -> str | None:
    runtime = process_runtime()
    state = publications.reconcile(
        runtime.db, publication_id, runtime.adapters, settings=runtime.settings, clock=runtime.clock
    )
    return None if state is None else state.value


# Acknowledged on receipt, unlike the others: a render that kills its worker (out of memory) would
# otherwise come back at once, for ever. Its request is a lease in the database: the sweep asks
# again when it runs out, and after media_prep.RENDER_TRIES lost requests a person is told.
@app.task(
    name="crosspost.render", autoretry_for=(OperationalError,), retry_backoff=True, max_retries=5, acks_late=False
)
def render(publication_id: int) -> bool:
    runtime = process_runtime()
    return media_prep.render(runtime.db, publication_id, settings=runtime.settings, clock=runtime.clock)


_SEND_RETRY = {"max_retries": 2, "interval_start": 0.2, "interval_step": 0.5, "interval_max": 1.0}


def send_publish(publication_ids: list[int], token: str, eta: datetime) -> None:
    """Send with the due time as ETA; a due time already past runs at once. One publication goes
    as ``crosspost.publish``, several as one ``crosspost.publish_batch``."""
    now = process_runtime().clock()
    options = {"eta": eta} if eta - now > timedelta(milliseconds=50) else {}
    if len(publication_ids) == 1:
        publish.apply_async((publication_ids[0], token), retry=True, retry_policy=_SEND_RETRY, **options)
    else:
        publish_batch.apply_async((publication_ids, token), retry=True, retry_policy=_SEND_RETRY, **options)


def send_reconcile(publication_id: int) -> None:
    reconcile.apply_async((publication_id,), retry=True, retry_policy=_SEND_RETRY)


def send_render(publication_id: int) -> None:
    """Transcoding is slow: it goes to its own queue so it never holds up a due publication."""
    render.apply_async(
        (publication_id,), queue=process_runtime().settings.media_queue, retry=True, retry_policy=_SEND_RETRY
    )
