"""The embedded executor: dispatcher and workers in one process, no broker.

It holds each message until its ETA and runs it on a thread pool, calling the same functions the
Celery tasks call. Like Celery's ``memory://`` transport it keeps nothing on disk: messages
pending at exit are lost. It beats as a worker node (``scheduler.publishing.workers``), so after a crash
the next `crosspost up` sees the old node silent and re-sends what it held within
``worker_timeout``: the cost of a crash is seconds of lateness, never a lost post.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

from scheduler.publishing import media_prep, publications
from scheduler.publishing.dispatch import run_dispatcher
from scheduler.publishing.workers import Heartbeat
from scheduler.runtime import Runtime

log = logging.getLogger(__name__)


class EmbeddedExecutor:
    def __init__(self, runtime: Runtime, *, threads: int) -> None:
        self.runtime = runtime
        self.pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="crosspost-worker")
        self._pending: list[tuple[datetime, int, Callable[[], object]]] = []
        self._order = itertools.count()
        self._wake = threading.Condition()
        self._stopped = False
        self._timer = threading.Thread(target=self._release_due, name="crosspost-eta", daemon=True)
        self._timer.start()

    def send_publish(self, publication_ids: list[int], token: str, eta: datetime) -> None:
        runtime = self.runtime

        def job() -> object:
            outcome = publications.publish_batch(
                runtime.db,
                publication_ids,
                token,
                runtime.adapters,
                settings=runtime.settings,
                clock=runtime.clock,
                limiter=runtime.limiter,
                threads=1,  # the executor's own pool runs batches side by side
            )
            if outcome.handed_back:  # not begun within the batch's time budget: queued again, same token
                self.send_publish(outcome.handed_back, token, runtime.clock())
            return outcome

        with self._wake:
            heapq.heappush(self._pending, (eta, next(self._order), job))
            self._wake.notify()

    def send_reconcile(self, publication_id: int) -> None:
        runtime = self.runtime
        self.pool.submit(
            _logged,
            lambda: publications.reconcile(
                runtime.db, publication_id, runtime.adapters, settings=runtime.settings, clock=runtime.clock
            ),
        )

    def send_render(self, publication_id: int) -> None:
        runtime = self.runtime
        self.pool.submit(
            _logged,
            lambda: media_prep.render(runtime.db, publication_id, settings=runtime.settings, clock=runtime.clock),
        )

    def _release_due(self) -> None:
        with self._wake:
            while not self._stopped:
                if not self._pending:
                    self._wake.wait()
                    continue
                eta = self._pending[0][0]
                delay = (eta - self.runtime.clock()).total_seconds()
                if delay > 0:
                    self._wake.wait(timeout=delay)
                    continue
                _, _, job = heapq.heappop(self._pending)
                self.pool.submit(_logged, job)

    def shutdown(self) -> None:
        with self._wake:
            self._stopped = True
            self._wake.notify()
        self._timer.join()
        self.pool.shutdown(wait=True)


def _logged(job: Callable[[], object]) -> object:
    try:
        return job()
    except Exception:
        log.exception("embedded job failed; the dispatcher will pick the publication up again")
        return None


def run_embedded(runtime: Runtime, stop: threading.Event) -> None:
    """`crosspost up`: dispatcher and executor in this process until ``stop`` is set."""
    from scheduler.notify.outbound import run_outbound  # webhooks: HTTP, outside the core

    executor = EmbeddedExecutor(runtime, threads=runtime.settings.embedded_threads)
    # a node like a Celery worker: after a crash, the next start re-sends what this one held at once
    heartbeat = Heartbeat(runtime.db, runtime.settings, runtime.clock).start()
    try:
        run_dispatcher(
            runtime.db,
            executor.send_publish,
            executor.send_reconcile,
            executor.send_render,
            settings=runtime.settings,
            clock=runtime.clock,
            stop=stop,
            outbound=lambda now: run_outbound(runtime, now),
        )
    finally:
        executor.shutdown()
        heartbeat.stop()
