"""`crosspost calendar ...` (awareness days) and `crosspost campaign ...` (content attached to them)."""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from scheduler.cli._files import media_inputs
from scheduler.cli._output import print_json, print_table
from scheduler.cli._people import AsUser, actor
from scheduler.cli._types import CampaignId, year_option
from scheduler.errors import InvalidInput
from scheduler.when import FIRST_YEAR, LAST_YEAR

if TYPE_CHECKING:
    from scheduler.runtime import Runtime


calendar_app = typer.Typer(help="Awareness days: the built-in calendar and your own.", no_args_is_help=True)
campaign_app = typer.Typer(help="Campaigns: posts on awareness days, every year.", no_args_is_help=True)

JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON")]
MediaOption = Annotated[
    list[str] | None, typer.Option(help="Image or video file or http(s) URL (repeatable), given to every year's post")
]
AltOption = Annotated[list[str] | None, typer.Option(help="Alt text for the media, in the same order")]
FocusOption = Annotated[
    list[str] | None,
    typer.Option(
        help="The point each crop keeps, X,Y from 0..1, in the same order as --media; auto: found automatically"
    ),
]


def _range(year: int | None, start: str | None, end: str | None, today: dt.date) -> tuple[dt.date, dt.date]:
    from scheduler.calendar import observances

    if year is not None and (start or end):
        raise InvalidInput("give either --year or --from/--to, not both")
    if year is not None:  # bounded by its option
        return dt.date(year, 1, 1), dt.date(year, 12, 31)
    try:
        first = dt.date.fromisoformat(start.strip()) if start else today
        last = dt.date.fromisoformat(end.strip()) if end else None
    except ValueError as error:
        raise InvalidInput(f"dates are written YYYY-MM-DD: {error}") from None
    span = f"{FIRST_YEAR}-01-01 to {LAST_YEAR}-12-31"
    if not FIRST_YEAR <= first.year <= LAST_YEAR:
        raise InvalidInput(f"--from {first}: the calendar covers {span}")
    if last is None:
        last = min(first + dt.timedelta(days=365), dt.date(LAST_YEAR, 12, 31))
    if not FIRST_YEAR <= last.year <= LAST_YEAR:
        raise InvalidInput(f"--to {last}: the calendar covers {span}")
    if last < first:
        raise InvalidInput(f"--to {last} is before --from {first}")
    if (last - first).days > observances.MAX_SPAN_DAYS:
        raise InvalidInput(f"{first} to {last}: list at most ten years at a time")
    return first, last


@calendar_app.command("list")
def calendar_list(
    year: Annotated[int | None, year_option("Every occurrence in this year")] = None,
    start: Annotated[str | None, typer.Option("--from", help="From this date, YYYY-MM-DD (default: today)")] = None,
    end: Annotated[str | None, typer.Option("--to", help="To this date (default: a year later)")] = None,
    tag: Annotated[str | None, typer.Option(help="Only observances with this tag, e.g. lgbtq")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Awareness days in a range of dates."""
    from scheduler.calendar import campaigns
    from scheduler.runtime import build_runtime

    runtime = build_runtime()
    first, last = _range(year, start, end, runtime.clock().date())
    found = campaigns.calendar_between(runtime.db, first, last, tag=tag)
    if as_json:
        print_json([occurrence.as_dict() for occurrence in found])
        return
    rows = [
        [
            o.start.isoformat() if o.end == o.start else f"{o.start.isoformat()} to {o.end.isoformat()}",
            o.observance.name,
            o.observance.kind,
            o.observance.tone,
            " ".join(o.hashtags),
            o.id,
        ]
        for o in found
    ]
    print_table(["date", "name", "kind", "tone", "hashtags", "id"], rows)


@calendar_app.command("show")
def calendar_show(observance_id: str, as_json: JsonFlag = False) -> None:
    """One observance: its rules over the years, overrides, sources and next dates."""
    from scheduler.calendar import campaigns, observances
    from scheduler.runtime import build_runtime

    runtime = build_runtime()
    observance = observances.find(campaigns.all_observances(runtime.db), observance_id)
    today = runtime.clock().date()
    upcoming = [o.as_dict() for o in observance.occurrences(today, today + dt.timedelta(days=3 * 366))][:3]
    document = observance.model_dump(mode="json", by_alias=True) | {"next": upcoming}
    if as_json:
        print_json(document)
        return
    print(f"{observance.name} ({observance.id}): {observance.kind}, {observance.tone}")
    if not observance.auto_publishes:
        print("  never published automatically: campaign posts are drafted for a person to submit")
    for rule in observance.rules:
        span = f"{rule.first}-{rule.last or ''}"
        how = rule.rrule if rule.rrule else f"month {rule.month}"
        print(f"  {span:<10} {how}" + (f" ({rule.days} days)" if rule.days > 1 else "") + f" [{rule.region}]")
    for year, when in sorted(observance.overrides.items()):
        print(f"  {year:<10} {when}")
    print(f"  hashtags: {' '.join(observance.hashtags) or '-'}")
    for occurrence in upcoming:
        print(
            f"  next: {occurrence['start']}"
            + (f" to {occurrence['end']}" if occurrence["end"] != occurrence["start"] else "")
        )
    for source in observance.sources:
        print(f"  source: {source}")


@calendar_app.command("import")
def calendar_import(
    file: Annotated[Path, typer.Argument(help="An .ics file of all-day events")],
    org: Annotated[str | None, typer.Option(help="The organisation these days belong to")] = None,
    as_user: AsUser = None,
) -> None:
    """Add your own observances from an .ics file (yearly RRULEs, EXDATEs, or one event per year)."""
    from scheduler.calendar import campaigns
    from scheduler.runtime import build_runtime

    try:
        data = file.read_bytes()
    except OSError as error:
        raise InvalidInput(f"{file}: {error.strerror}") from None
    runtime = build_runtime()
    ids = campaigns.import_ics(runtime.db, data, source=file.name, org=org, now=runtime.clock(), actor=actor(as_user))
    print(f"imported {len(ids)} observance{'s' if len(ids) != 1 else ''}: {', '.join(ids)}")


@calendar_app.command("export")
def calendar_export(
    year: Annotated[int | None, year_option("Every occurrence in this year (default: the next 12 months)")] = None,
    tag: Annotated[str | None, typer.Option(help="Only observances with this tag")] = None,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write here instead of standard output")] = None,
) -> None:
    """The calendar as .ics: one all-day event per occurrence, for Google Calendar or Outlook."""
    from scheduler.calendar import campaigns, ics
    from scheduler.runtime import build_runtime

    runtime = build_runtime()
    first, last = _range(year, None, None, runtime.clock().date())
    data = ics.export(campaigns.calendar_between(runtime.db, first, last, tag=tag), stamp=runtime.clock())
    if output is None:
        sys.stdout.buffer.write(data)
    else:
        output.write_bytes(data)
        print(f"wrote {output}")


@campaign_app.command("add")
def campaign_add(
    observance: Annotated[str, typer.Option(help="The observance's id (crosspost calendar list)")],
    channel: Annotated[list[str], typer.Option("--channel", "-c", help="Channel (repeatable)")],
    text: Annotated[str, typer.Option(help="Template: {year} {yy} {ordinal} {edition} {name} {hashtags}")],
    year: Annotated[int | None, year_option("Only this year (default: every year)")] = None,
    at: Annotated[str | None, typer.Option(help="Publish time on the day, HH:MM (default 10:00)")] = None,
    tz: Annotated[str | None, typer.Option(help="IANA zone of --at (default Europe/Zurich)")] = None,
    lead_days: Annotated[
        int, typer.Option(min=0, max=365, help="Create the post this many days ahead, for sign-off")
    ] = 14,
    title: Annotated[str | None, typer.Option(help="Title (YouTube, TikTok photo posts)")] = None,
    link: Annotated[str | None, typer.Option(help="A link to add to the post")] = None,
    importance: Annotated[str, typer.Option(help="The posts' importance under the approval policy")] = "routine",
    audience: Annotated[
        list[str] | None, typer.Option(help="Zones where the post must fall on the day (repeatable)")
    ] = None,
    media: MediaOption = None,
    alt: AltOption = None,
    focus: FocusOption = None,
    org: Annotated[str | None, typer.Option(help="The organisation the posts belong to")] = None,
    as_user: AsUser = None,
) -> None:
    """Attach content to an observance; its post is created --lead-days ahead and goes through sign-off."""
    from scheduler.calendar import campaigns
    from scheduler.runtime import build_runtime

    runtime = build_runtime()
    with media_inputs(media, alt, runtime.settings, focus) as files:
        campaign_id, warnings = campaigns.add_campaign(
            runtime.db,
            runtime.settings,
            observance_id=observance,
            channels=channel,
            text=text,
            year=year,
            publish_time=at or campaigns.DEFAULT_TIME,
            zone=tz or campaigns.DEFAULT_ZONE,
            lead_days=lead_days,
            title=title,
            link=link,
            importance=importance,
            audience_zones=audience or campaigns.DEFAULT_AUDIENCE,
            media=files or (),
            org=org,
            actor=actor(as_user),
            now=runtime.clock(),
        )
    _report(runtime, campaign_id, warnings)


@campaign_app.command("edit")
def campaign_edit(
    campaign_id: CampaignId,
    channel: Annotated[
        list[str] | None, typer.Option("--channel", "-c", help="The channels from now on (repeatable: all of them)")
    ] = None,
    text: Annotated[
        str | None, typer.Option(help="Template: {year} {yy} {ordinal} {edition} {name} {hashtags}")
    ] = None,
    at: Annotated[str | None, typer.Option(help="Publish time on the day, HH:MM")] = None,
    tz: Annotated[str | None, typer.Option(help="IANA zone of --at")] = None,
    lead_days: Annotated[
        int | None, typer.Option(min=0, max=365, help="Create the post this many days ahead, for sign-off")
    ] = None,
    title: Annotated[str | None, typer.Option(help="Title (YouTube, TikTok photo posts); '' removes it")] = None,
    link: Annotated[str | None, typer.Option(help="A link to add to the post; '' removes it")] = None,
    importance: Annotated[str | None, typer.Option(help="The posts' importance under the approval policy")] = None,
    media: MediaOption = None,
    alt: AltOption = None,
    focus: FocusOption = None,
    no_media: Annotated[bool, typer.Option("--no-media", help="Remove the campaign's media")] = False,
    as_user: AsUser = None,
) -> None:
    """Change a campaign for the years to come, checked as its next posts will be (posts it made stay)."""
    from scheduler.calendar import campaigns
    from scheduler.runtime import build_runtime

    if no_media and media:
        raise InvalidInput("give either --media or --no-media, not both")
    runtime = build_runtime()
    with media_inputs(media, alt, runtime.settings, focus) as files:
        warnings = campaigns.edit_campaign(
            runtime.db,
            runtime.settings,
            campaign_id,
            text=text,
            title=title,
            link=link,
            channels=channel,
            publish_time=at,
            zone=tz,
            lead_days=lead_days,
            importance=importance,
            media=[] if no_media else files,
            actor=actor(as_user),
            now=runtime.clock(),
        )
    _report(runtime, campaign_id, warnings)


def _report(runtime: Runtime, campaign_id: int, warnings: list[str]) -> None:
    from scheduler.calendar import campaigns

    view = campaigns.campaign_view(runtime.db, campaign_id, now=runtime.clock())
    print(f"campaign {campaign_id}: {view['observance']} on {', '.join(view['channels'])}")
    if "next" in view:
        upcoming = view["next"]
        print(f"  next: {upcoming['date']}, published {upcoming['publish_at']}, drafted {upcoming['draft_on']}")
        print(f"  text: {upcoming['text']}")
    for item in view["media"]:
        print(f"  media: {item['name']} ({item['mime']}, {item['bytes']} bytes) alt={item['alt_text']!r}")
    for warning in warnings:
        print(f"  warning: {warning}")


@campaign_app.command("list")
def campaign_list(as_json: JsonFlag = False) -> None:
    """Every campaign."""
    from scheduler.calendar import campaigns
    from scheduler.runtime import build_runtime

    rows = campaigns.list_campaigns(build_runtime().db)
    if as_json:
        print_json(rows)
        return
    print_table(
        ["id", "observance", "year", "channels", "at", "lead days", "active"],
        [
            [
                r["id"],
                r["observance"],
                r["year"] or "every",
                ",".join(r["channels"]),
                f"{r['publish_time']} {r['zone']}",
                r["lead_days"],
                "yes" if r["active"] else "no",
            ]
            for r in rows
        ],
    )


@campaign_app.command("show")
def campaign_show(campaign_id: CampaignId, as_json: JsonFlag = False) -> None:
    """One campaign: its next post, warnings, and the posts it made."""
    from scheduler.calendar import campaigns
    from scheduler.runtime import build_runtime

    runtime = build_runtime()
    view = campaigns.campaign_view(runtime.db, campaign_id, now=runtime.clock())
    if as_json:
        print_json(view)
        return
    print(f"campaign {view['id']}: {view['observance']} on {', '.join(view['channels'])}")
    if "next" in view:
        for key in ("date", "publish_at", "draft_on", "text"):
            print(f"  {key}: {view['next'][key]}")
        for warning in view["next"]["warnings"]:
            print(f"  warning: {warning}")
    for item in view["media"]:
        print(f"  media: {item['name']} ({item['mime']}, {item['bytes']} bytes) alt={item['alt_text']!r}")
    for made in view["posts"]:
        print(f"  {made['year']}: " + (f"post {made['post']}" if made["post"] else f"not made: {made['error']}"))


@campaign_app.command("remove")
def campaign_remove(campaign_id: CampaignId, as_user: AsUser = None) -> None:
    """Stop a campaign (posts it already made stay; cancel them like any post)."""
    from scheduler.calendar import campaigns
    from scheduler.runtime import build_runtime

    runtime = build_runtime()
    campaigns.remove_campaign(runtime.db, campaign_id, now=runtime.clock(), actor=actor(as_user))
    print(f"campaign {campaign_id} removed")
