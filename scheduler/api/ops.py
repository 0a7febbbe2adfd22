"""What is served at the root, outside /api/v1 and without a token: ``/healthz`` and ``/metrics``
for operators and their monitors, the organisations' calendar feeds (the URL is the secret), and
the media renditions for platforms that pull them (TikTok photos).

Health and metrics are read from the database when asked, so any number of `crosspost web`
processes answer the same without sharing state, each with a few aggregate queries on indexed
columns. Neither is in the OpenAPI document: they are for monitors, not for API clients
(docs/api.md describes them).
"""

from __future__ import annotations

import datetime as dt
import os
import socket
from collections.abc import Iterator
from typing import Annotated, Any
from urllib.parse import urlsplit

from fastapi import APIRouter, Path, Request, Response
from fastapi.responses import FileResponse, JSONResponse
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import Float, and_, case, cast, func, or_, select
from sqlalchemy.sql.elements import ColumnElement
from starlette.concurrency import run_in_threadpool

from scheduler.api.auth import RuntimeDep
from scheduler.publishing.states import PublicationState as S
from scheduler.runtime import Runtime
from scheduler.store import Channel, Event, Notification, Publication, WebhookDelivery, Worker

router = APIRouter()

# Lateness of published posts, in seconds: a post is on time within a dispatcher round or two,
# late by minutes after a retry, by hours when a person had to step in.
LATENESS_BUCKETS = (0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 900.0, 3600.0, 6 * 3600.0, 86400.0)
# A publish attempt's outcome, from the event its publication's move out of `publishing` wrote
ERROR_KINDS = {
    f"publication.{S.RETRY_WAIT}": "transient",  # the platform said "later" (or a rate limit, or a network error)
    f"publication.{S.FAILED}": "permanent",  # the platform refused it for good, or retries ran out
    f"publication.{S.UNKNOWN}": "no_answer",  # the call ended without an answer: reconciliation looks it up
    f"publication.{S.NEEDS_ATTENTION}": "needs_attention",
}
AUTH_EVENT = "channel.needs_reconnect"  # the platform refused the channel's sign-in
METRICS_TYPE = "text/plain; version=0.0.4; charset=utf-8"


# -- /healthz -------------------------------------------------------------------------------------


@router.get("/healthz", include_in_schema=False)
def healthz(runtime: RuntimeDep) -> JSONResponse:
    """200 when the store answers, the broker (if any) answers and a dispatcher beat recently;
    503 naming each failing check otherwise."""
    checks = {"store": _check_store(runtime)}
    if runtime.settings.broker_url:
        checks["broker"] = _check_broker(runtime.settings.broker_url, timeout=min(runtime.settings.http_timeout, 2.0))
    checks["dispatcher"] = _check_dispatcher(runtime) if checks["store"]["ok"] else {"ok": False, "error": "no store"}
    failing = [name for name, check in checks.items() if not check["ok"]]
    body: dict[str, Any] = {"status": "failing" if failing else "ok", "checks": checks}
    if failing:
        body["failing"] = failing
        body["detail"] = "; ".join(f"{name}: {checks[name]['error']}" for name in failing)
    return JSONResponse(body, status_code=503 if failing else 200, headers={"Cache-Control": "no-store"})


def _check_store(runtime: Runtime) -> dict[str, Any]:
    try:
        with runtime.db.read() as session:
            session.execute(select(1)).scalar_one()
    except Exception as error:
        return {"ok": False, "error": f"the database does not answer: {type(error).__name__}"}
    return {"ok": True}


def _check_broker(url: str, *, timeout: float) -> dict[str, Any]:
    """Redis answers PING; any other broker at least accepts a connection."""
    try:
        if url.startswith(("redis://", "rediss://")):
            import redis

            client = redis.Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout)
            try:
                client.ping()
            finally:
                client.close()
        else:
            parts = urlsplit(url)
            socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 5672), timeout=timeout).close()
    except Exception as error:
        return {"ok": False, "error": f"the broker does not answer: {type(error).__name__}"}
    return {"ok": True}


def _check_dispatcher(runtime: Runtime) -> dict[str, Any]:
    """The newest beat of a running node (`crosspost up`, a Celery worker: the workers table), or
    the dispatcher's heartbeat file when this process can see it; older than worker_timeout fails."""
    settings, now = runtime.settings, runtime.clock()
    with runtime.db.read() as session:
        beat = session.scalar(
            select(func.max(Worker.beat_at)).where(Worker.stopped_at.is_(None), Worker.lost_at.is_(None))
        )
    source = "workers"
    heartbeat = settings.heartbeat_file
    if heartbeat is not None and heartbeat.exists():
        touched = dt.datetime.fromtimestamp(os.stat(heartbeat).st_mtime, dt.UTC)
        if beat is None or touched > beat:
            beat, source = touched, "heartbeat_file"
    if beat is None:
        return {"ok": False, "error": "no dispatcher is running (no beat recorded): start `crosspost up`"}
    age = max(0.0, (now - beat).total_seconds())
    check: dict[str, Any] = {"ok": age <= settings.worker_timeout, "last_beat_age_seconds": round(age, 3)}
    check["source"] = source
    if not check["ok"]:
        check["error"] = f"last beat {age:.0f} s ago (more than worker_timeout, {settings.worker_timeout:g} s)"
    return check


# -- /metrics -------------------------------------------------------------------------------------


@router.get("/metrics", include_in_schema=False)
async def metrics(request: Request) -> Response:
    runtime: Runtime = request.app.state.runtime
    registry = CollectorRegistry(auto_describe=False)
    registry.register(StoreCollector(runtime))
    try:
        text = await run_in_threadpool(generate_latest, registry)
    except Exception as error:  # the store is down: say so, as /healthz does, rather than a 500
        return Response(
            f"# the database does not answer: {type(error).__name__}\n", status_code=503, media_type=METRICS_TYPE
        )
    return Response(text, media_type=METRICS_TYPE, headers={"Cache-Control": "no-store"})


class StoreCollector(Collector):
    """Prometheus metrics computed from the database at scrape time."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    def collect(self) -> Iterator[Metric]:
        now = self.runtime.clock()
        with self.runtime.db.read() as session:
            by_state = dict(session.execute(select(Publication.state, func.count()).group_by(Publication.state)).all())
            horizon = now + dt.timedelta(seconds=self.runtime.settings.lookahead)
            depth = session.scalar(
                select(func.count())
                .select_from(Publication)
                .where(
                    or_(
                        Publication.state == S.QUEUED,
                        and_(Publication.state == S.SCHEDULED, Publication.due_at <= horizon),
                    )
                )
            )
            lateness = _seconds_between(session.get_bind().dialect.name, Publication.due_at, Publication.published_at)
            histogram = session.execute(
                select(
                    func.count(),
                    func.coalesce(func.sum(lateness), 0.0),
                    *(func.sum(case((lateness <= bound, 1), else_=0)) for bound in LATENESS_BUCKETS),
                ).where(Publication.state == S.PUBLISHED, Publication.published_at.is_not(None))
            ).one()
            errors = session.execute(
                select(Event.kind, Channel.platform, func.count())
                .join(Channel, Channel.id == Event.channel_id, isouter=True)
                .where(
                    or_(
                        and_(Event.kind.in_(list(ERROR_KINDS)), Event.from_state == S.PUBLISHING),
                        Event.kind == AUTH_EVENT,
                    )
                )
                .group_by(Event.kind, Channel.platform)
            ).all()
            deliveries = dict(
                session.execute(
                    select(WebhookDelivery.state, func.count())
                    .where(WebhookDelivery.state.in_(["pending", "failed"]))
                    .group_by(WebhookDelivery.state)
                ).all()
            )
            notifications = dict(
                session.execute(
                    select(Notification.state, func.count())
                    .where(Notification.state.in_(["pending", "failed"]))
                    .group_by(Notification.state)
                ).all()
            )

        publications = GaugeMetricFamily(
            "crosspost_publications", "Publications (a post on one channel) by state", labels=["state"]
        )
        for state in S:
            publications.add_metric([state.value], by_state.get(state.value, 0))
        yield publications

        yield GaugeMetricFamily(
            "crosspost_queue_depth",
            "Publications queued for a worker, or scheduled and due within the dispatcher's look-ahead",
            value=depth or 0,
        )

        count, total, *cumulative = histogram
        buckets = [(_le(bound), float(within or 0)) for bound, within in zip(LATENESS_BUCKETS, cumulative, strict=True)]
        late = HistogramMetricFamily(
            "crosspost_publication_lateness_seconds",
            "Seconds from a published publication's due time to its publication",
        )
        late.add_metric([], [*buckets, ("+Inf", float(count))], sum_value=float(total or 0.0))
        yield late

        platform_errors = CounterMetricFamily(
            "crosspost_platform_errors",
            "Publish attempts that did not publish, by platform and kind (from the event log)",
            labels=["platform", "kind"],
        )
        for kind, platform, number in errors:
            label = "auth_expired" if kind == AUTH_EVENT else ERROR_KINDS[kind]
            platform_errors.add_metric([platform or "unknown", label], number)
        yield platform_errors

        webhooks = GaugeMetricFamily(
            "crosspost_webhook_deliveries", "Webhook deliveries waiting or given up, by state", labels=["state"]
        )
        queued_notes = GaugeMetricFamily(
            "crosspost_notifications", "Notifications to people waiting or given up, by state", labels=["state"]
        )
        for waiting in ("pending", "failed"):
            webhooks.add_metric([waiting], deliveries.get(waiting, 0))
            queued_notes.add_metric([waiting], notifications.get(waiting, 0))
        yield webhooks
        yield queued_notes


def _le(bound: float) -> str:
    """A bucket's bound as Prometheus clients write it: 0.5, 1.0, 60.0."""
    return repr(float(bound))


def _seconds_between(dialect: str, start: Any, end: Any) -> ColumnElement[float]:
    """``end - start`` in seconds, in SQL: naive UTC timestamps on both backends."""
    if dialect == "postgresql":
        return cast(func.extract("epoch", end - start), Float)
    return (func.julianday(end) - func.julianday(start)) * 86400.0


# -- /media/: renditions for platforms that pull them -----------------------------------------------


@router.api_route("/media/{path:path}", methods=["GET", "HEAD"], include_in_schema=False)
def media(request: Request, runtime: RuntimeDep) -> Response:
    """The same files, with the same checks, as `crosspost up`'s CROSSPOST_MEDIA_LISTEN server
    (scheduler/media_server.py): only renditions, read-only, no listings."""
    from scheduler.media_server import SERVED, _target

    root = runtime.settings.media_store.resolve()
    raw = request.scope.get("raw_path") or request.url.path.encode()  # decoded once, by _target
    status, target = _target(root, (root / SERVED).resolve(), raw.decode("latin-1"))
    if target is None:
        return Response(status_code=status)
    return FileResponse(
        target,
        headers={"Cache-Control": "public, max-age=31536000, immutable", "X-Content-Type-Options": "nosniff"},
    )


# -- /feeds/<token>.ics: an organisation's calendar -------------------------------------------------


@router.get(
    "/feeds/{feed_token}.ics",
    tags=["feeds"],
    summary="An organisation's calendar feed (the URL is the secret; no token)",
    response_class=Response,
    responses={200: {"content": {"text/calendar": {}}, "description": "An iCalendar (RFC 5545) document"}},
)
def calendar_feed(feed_token: Annotated[str, Path(max_length=100)], runtime: RuntimeDep) -> Response:
    from scheduler.calendar.feed import feed_ics

    body = feed_ics(runtime.db, feed_token, base_url=runtime.settings.web_base_url, now=runtime.clock())
    return Response(
        body,
        media_type="text/calendar; charset=utf-8",
        headers={"Cache-Control": "private, max-age=300", "Content-Disposition": 'inline; filename="crosspost.ics"'},
    )
