"""`crosspost report`: what was published where, when, how late, and the time to publish."""

from __future__ import annotations

import json
from enum import StrEnum
from typing import Annotated

import typer

from scheduler.cli._output import print_table


class Format(StrEnum):
    TABLE = "table"
    CSV = "csv"
    JSON = "json"


def report(
    start: Annotated[
        str | None, typer.Option("--from", help="Due from: an ISO date or instant (UTC if no offset)")
    ] = None,
    end: Annotated[str | None, typer.Option("--to", help="Due before: written the same way")] = None,
    org: Annotated[str | None, typer.Option(help="Only this organisation's channels")] = None,
    channel: Annotated[str | None, typer.Option(help="Only this channel")] = None,
    format_: Annotated[Format, typer.Option("--format", help="table, csv or json")] = Format.TABLE,
) -> None:
    """Per publication: due, published, lateness, attempts, signers and the time from submission to
    sign-off to publication; then medians per organisation and channel."""
    from scheduler import reports  # imported when the command runs
    from scheduler.runtime import build_runtime
    from scheduler.when import parse_due

    runtime = build_runtime()
    now = runtime.clock()
    since = None if start is None else parse_due(start, "UTC", now=now, allow_past=True).utc
    until = None if end is None else parse_due(end, "UTC", now=now, allow_past=True).utc
    rows, medians = reports.report(runtime.db, start=since, end=until, org=org, channel=channel)
    if format_ is Format.CSV:
        print(reports.as_csv(rows), end="")
        return
    if format_ is Format.JSON:
        document = {"publications": reports.as_records(rows), "medians": [vars(m) for m in medians]}
        print(json.dumps(document, indent=2, ensure_ascii=False))
        return
    print_table(
        [
            "post",
            "channel",
            "state",
            "due (UTC)",
            "published",
            "late",
            "tries",
            "signed by",
            "to sign-off",
            "to publish",
        ],
        [
            [
                row.post,
                row.channel,
                row.state,
                f"{row.due_at:%Y-%m-%d %H:%M}",
                "" if row.published_at is None else f"{row.published_at:%Y-%m-%d %H:%M:%S}",
                _span(row.lateness_s),
                row.attempts,
                ", ".join(row.signers),
                _span(row.to_signoff_s),
                _span(row.to_publish_s),
            ]
            for row in rows
        ],
    )
    if medians:
        print()
        print_table(
            ["medians", "published", "late", "to sign-off", "to publish"],
            [
                [m.group, m.published, _span(m.lateness_s), _span(m.to_signoff_s), _span(m.to_publish_s)]
                for m in medians
            ],
        )


def _span(seconds: float | None) -> str:
    """Seconds for people: 0.4 s, 12 min, 3.5 h, 2.0 d."""
    if seconds is None:
        return ""
    if abs(seconds) < 60:
        return f"{seconds:.1f} s"
    if abs(seconds) < 3600:
        return f"{seconds / 60:.0f} min"
    if abs(seconds) < 86400:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} d"
