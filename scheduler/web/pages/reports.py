"""Reports: what was published where, lateness, and the time from submission to sign-off to
publication, per organisation and channel, with a chart and a CSV download."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from scheduler.web.templating import render
from scheduler.web.viewer import RuntimeDep, Seen, Viewer

router = APIRouter()


def _report(runtime: Any, seen: Viewer, org: str | None, start: dt.date, end: dt.date) -> tuple[list[Any], list[Any]]:
    from scheduler.editorial.authorization import Action, authorize
    from scheduler.editorial.people import org_named
    from scheduler.reports import report

    orgs = [org] if org else seen.org_names
    rows: list[Any] = []
    medians: list[Any] = []
    for name in orgs:
        with runtime.db.read() as session:
            authorize(session, seen.user, Action.VIEW, [org_named(session, name).id], subject=f"reports of {name}")
        found, middle = report(
            runtime.db,
            org=name,
            start=dt.datetime.combine(start, dt.time(), dt.UTC),
            end=dt.datetime.combine(end, dt.time(), dt.UTC),
        )
        rows += found
        medians += middle
    return rows, medians


def _window(start: dt.date | None, end: dt.date | None) -> tuple[dt.date, dt.date]:
    end = end or dt.date.today() + dt.timedelta(days=1)
    return start or end - dt.timedelta(days=30), end


@router.get("/reports")
async def reports_page(
    request: Request,
    seen: Seen,
    runtime: RuntimeDep,
    org: Annotated[str | None, Query(max_length=100)] = None,
    start: dt.date | None = None,
    end: dt.date | None = None,
) -> HTMLResponse:
    from scheduler.errors import CrosspostError

    first, last = _window(start, end)
    try:
        rows, medians = await run_in_threadpool(_report, runtime, seen, org or None, first, last)
        error = None
    except CrosspostError as refused:
        rows, medians, error = [], [], str(refused)
    per_channel: dict[str, int] = {}
    for row in rows:
        if row.state == "published":
            per_channel[row.channel] = per_channel.get(row.channel, 0) + 1
    most = max(per_channel.values(), default=0)
    return render(
        request,
        "reports.html",
        viewer=seen,
        rows=rows,
        medians=medians,
        per_channel=sorted(per_channel.items()),
        most=most,
        org=org,
        start=first,
        end=last,
        error=error,
    )


@router.get("/reports.csv")
async def reports_csv(
    seen: Seen,
    runtime: RuntimeDep,
    org: Annotated[str | None, Query(max_length=100)] = None,
    start: dt.date | None = None,
    end: dt.date | None = None,
) -> Response:
    from scheduler.reports import as_csv

    first, last = _window(start, end)
    rows, _ = await run_in_threadpool(_report, runtime, seen, org or None, first, last)
    return Response(
        as_csv(rows),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="crosspost-report-{first}-{last}.csv"'},
    )
