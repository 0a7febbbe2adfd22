"""The Celery app, configured as shared/reference/scheduling-design.md §1.4 recommends.

Celery only carries short-lived "publish publication X now" messages: ETAs never exceed the
dispatcher's look-ahead, far below Redis' visibility timeout, so Kombu never re-delivers a held
ETA message. Only this module and ``scheduler.tasks`` import Celery.
"""

from __future__ import annotations

from celery import Celery

from scheduler.settings import Settings


def make_celery(settings: Settings) -> Celery:
    app = Celery("crosspost", broker=settings.broker_url or "memory://", include=["scheduler.tasks"])
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
        # the hard limit stays inside the publish lease, so a live attempt is never declared lost
        task_time_limit=max(1, int(settings.publish_lease * 0.8)),
        task_soft_time_limit=max(1, int(settings.publish_lease * 0.6)),
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
