"""The Celery app, configured as shared/reference/scheduling-design.md §1.4 recommends.

Celery only carries short-lived "publish publication X now" messages: ETAs never exceed the
dispatcher's look-ahead, far below Redis' visibility timeout, so Kombu never re-delivers a held
ETA message. Only this module and ``scheduler.publishing.tasks`` import Celery.
"""

from __future__ import annotations

from celery import Celery
from celery.signals import worker_ready, worker_shutdown

from scheduler.publishing.workers import Heartbeat
from scheduler.runtime import build_runtime
from scheduler.settings import Settings


def make_celery(settings: Settings) -> Celery:
    app = Celery("crosspost", broker=settings.broker_url or "memory://", include=["scheduler.publishing.tasks"])
    visibility = {"visibility_timeout": 3600}
    app.conf.update(
        broker_transport_options={
            **visibility,
            "socket_timeout": 30,
            "health_check_interval": 25,
            "unacked_restore_interval": 10,
            "unacked_restore_throttle": 1,
        },
        result_backend_transport_options=visibility,
        visibility_timeout=3600,
        task_ignore_result=True,
        task_acks_late=True,  # a crash mid-task means redelivery (a harmless no-op), not loss
        task_reject_on_worker_lost=True,  # a killed pool child re-queues instead of ack-and-lose
        worker_prefetch_multiplier=settings.worker_prefetch,
        worker_eta_task_limit=1000,
        # A running attempt renews its lease (scheduler.publishing.publications), so the time limits need
        # not sit inside it: a long upload may run up to publish_time_limit.
        task_soft_time_limit=max(1, int(settings.publish_time_limit)),
        task_time_limit=max(2, int(settings.publish_time_limit) + 60),
        worker_soft_shutdown_timeout=30.0,
        worker_enable_soft_shutdown_on_idle=True,
        broker_connection_retry_on_startup=True,
        task_default_queue=settings.publish_queue,
        task_serializer="json",
        accept_content=["json"],
        enable_utc=True,
    )
    return app


app = make_celery(Settings())

_heartbeat: Heartbeat | None = None


@worker_ready.connect
def _start_heartbeat(**_: object) -> None:
    """The worker node beats in the database from its main process: when the node dies, the
    dispatcher re-sends what it had reserved at once, not at Redis' visibility timeout."""
    global _heartbeat
    runtime = build_runtime(migrate=False)
    _heartbeat = Heartbeat(runtime.db, runtime.settings, runtime.clock).start()


@worker_shutdown.connect
def _stop_heartbeat(**_: object) -> None:
    if _heartbeat is not None:
        _heartbeat.stop()
