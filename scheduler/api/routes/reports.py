"""What was published where, when, how late, and the time to publish (`crosspost report`), for an
organisation's channels or one channel the caller's organisation owns."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, Field

from scheduler.api.auth import Caller, RuntimeDep
from scheduler.api.routes._access import channel_named, parse_instant, require_view

router = APIRouter(tags=["reports"])

Start = Annotated[
    str | None, Query(max_length=100, description="Due from: an ISO date or instant (UTC without offset or tz)")
]
End = Annotated[str | None, Query(max_length=100, description="Due before: written the same way")]
Zone = Annotated[str | None, Query(max_length=100, description="IANA zone of start and end without an offset")]
Org = Annotated[
    str | None, Query(max_length=100, description="Only this organisation's channels (default: the token's)")
]
ChannelQuery = Annotated[str | None, Query(max_length=100, description="Only this channel")]


class Medians(BaseModel):
    group: str = Field(description="'org NAME' or 'channel NAME'")
    published: int
    lateness_s: float | None
    to_signoff_s: float | None
    to_publish_s: float | None


class Report(BaseModel):
    publications: list[dict[str, Any]] = Field(
        description="Per publication: post, channel, org, state, due_at, published_at, lateness_s, attempts, "
        "signers, submitted_at, signed_at, to_signoff_s, to_publish_s"
    )
    medians: list[Medians]


def _rows(
    runtime: Any,
    caller: Any,
    start: str | None,
    end: str | None,
    tz: str | None,
    org: str | None,
    channel: str | None,
) -> tuple[list[Any], list[Any]]:
    from scheduler import reports
    from scheduler.editorial.people import org_named

    now = runtime.clock()
    since = None if start is None else parse_instant(start, tz, now=now, field="start")
    until = None if end is None else parse_instant(end, tz, now=now, field="end")
    if org is None and channel is None:
        org = caller.org
    with runtime.db.read() as session:
        if org is not None:
            require_view(session, caller.user, org_named(session, org).id, f"the report of {org}")
        if channel is not None:
            require_view(session, caller.user, channel_named(session, channel).org_id, f"the report of {channel}")
        if org is None and channel is None:  # a session without organisation asks for everything
            require_view(session, caller.user, None, "the report of every channel")
    return reports.report(runtime.db, start=since, end=until, org=org, channel=channel)


@router.get("/reports", summary="Per publication: due, published, lateness, signers, time to publish; and medians")
def get_report(
    caller: Caller,
    runtime: RuntimeDep,
    start: Start = None,
    end: End = None,
    tz: Zone = None,
    org: Org = None,
    channel: ChannelQuery = None,
) -> Report:
    from scheduler import reports

    rows, medians = _rows(runtime, caller, start, end, tz, org, channel)
    return Report(
        publications=[dict(record) for record in reports.as_records(rows)],
        medians=[Medians(**vars(m)) for m in medians],
    )


@router.get(
    "/reports.csv",
    response_class=Response,
    responses={200: {"content": {"text/csv": {"schema": {"type": "string"}}}, "description": "CSV, a row each"}},
    summary="The report's publications as CSV (as `crosspost report --format csv`)",
)
def get_report_csv(
    caller: Caller,
    runtime: RuntimeDep,
    start: Start = None,
    end: End = None,
    tz: Zone = None,
    org: Org = None,
    channel: ChannelQuery = None,
) -> Response:
    from scheduler import reports

    rows, _ = _rows(runtime, caller, start, end, tz, org, channel)
    return Response(
        reports.as_csv(rows),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="crosspost-report.csv"'},
    )
