"""Campaigns: content attached to an awareness day, drafted ahead, signed off, published on the day.

A campaign names an observance, channels, a text template and a publish time in a zone (default
10:00 Europe/Zurich: the same calendar date from Los Angeles to Sydney). ``lead_days`` before
each occurrence, the sweep creates that year's post, once (``campaign_posts`` is unique per
campaign and year), and it enters the editorial workflow: where a policy asks for a sign-off it
waits in ``awaiting_signoff`` and, unsigned at its deadline, does not publish (editorial.py).
Commemorative days and announcements are drafted but never submitted by themselves.
"""

from __future__ import annotations

import datetime as dt
import re
import string
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from media.specs import SPECS
from media.video import inspect as inspect_video
from scheduler import media_store, posts
from scheduler.calendar import ics
from scheduler.calendar.observances import Observance, Occurrence, builtin, find, observances_from, occurrences
from scheduler.editorial import people, signoff
from scheduler.editorial.authorization import Action, authorize
from scheduler.errors import ContentRejected, CrosspostError, InvalidInput, NotFound, Refused
from scheduler.media_store import StoredMedia
from scheduler.planning import timetable
from scheduler.publishing.content import Content
from scheduler.publishing.transitions import record_event
from scheduler.settings import Settings
from scheduler.store import Campaign, CampaignMedia, CampaignPost, Channel, CustomObservance, Database
from scheduler.when import get_zone, resolve_wall_time

DEFAULT_TIME, DEFAULT_ZONE = "10:00", "Europe/Zurich"
# A post on the day should be on that date for a global audience: westernmost to easternmost.
DEFAULT_AUDIENCE = ["America/Los_Angeles", "America/New_York", "Europe/Zurich", "Asia/Tokyo", "Australia/Sydney"]
TEMPLATE_FIELDS = ("year", "yy", "ordinal", "edition", "name", "hashtags")


# -- the calendar: built-in plus organisations' own ----------------------------------------------


def all_observances(db: Database) -> list[Observance]:
    with db.transaction() as session:
        documents = [row.document for row in session.scalars(select(CustomObservance).order_by(CustomObservance.id))]
    return [*builtin(), *observances_from(documents, source="the database")]


def calendar_between(db: Database, start: dt.date, end: dt.date, *, tag: str | None = None) -> list[Occurrence]:
    return occurrences(all_observances(db), start, end, tag=tag)


def import_ics(
    db: Database, data: bytes, *, source: str, now: dt.datetime, org: str | None = None, actor: str | None = None
) -> list[str]:
    """Add (or replace) an organisation's own observances from an .ics file; returns their ids."""
    documents = ics.import_documents(data, prefix=org or "custom", source=source)
    imported = observances_from(documents, source=source)
    builtin_ids = {o.id for o in builtin()}
    clashes = [o.id for o in imported if o.id in builtin_ids]
    if clashes:
        raise InvalidInput(f"{source}: {', '.join(clashes)} would replace built-in observances; rename the events")
    with db.transaction() as session:
        owner = people.org_named(session, org) if org else None
        authorize(session, actor, Action.IMPORT_CALENDAR, [owner.id if owner else None], subject=source)
        theirs = {
            row.id: row.org_id
            for row in session.scalars(
                select(CustomObservance).where(CustomObservance.id.in_([o.id for o in imported]))
            )
        }
        taken = sorted(i for i, org_id in theirs.items() if org_id != (owner.id if owner else None))
        if taken:
            raise Refused(f"{source}: {', '.join(taken)} belong to another organisation's calendar; rename the events")
        for observance in imported:
            document = observance.model_dump(mode="json", by_alias=True)
            row = session.get(CustomObservance, observance.id)
            if row is None:
                session.add(
                    CustomObservance(
                        id=observance.id,
                        org_id=owner.id if owner else None,
                        document=document,
                        created_at=now,
                        updated_at=now,
                    )
                )
            else:
                row.document, row.updated_at = document, now
        record_event(
            session,
            "calendar.imported",
            now=now,
            actor=actor,
            message=f"{len(imported)} from {source}",
            data={"ids": [o.id for o in imported], "org": org},
        )
    return [o.id for o in imported]


# -- campaigns -----------------------------------------------------------------------------------


def publish_instant(occurrence: Occurrence, publish_time: str, zone: str) -> dt.datetime:
    """The UTC instant of ``publish_time`` on the occurrence's first day in ``zone`` (DST-aware;
    a wall time inside a DST gap is refused by ``resolve_wall_time``)."""
    hours, minutes = _parse_time(publish_time)
    wall = dt.datetime.combine(occurrence.start, dt.time(hours, minutes))
    return resolve_wall_time(wall, zone)


def _parse_time(text: str) -> tuple[int, int]:
    match = re.fullmatch(r"(\d{1,2}):(\d{2})", text.strip())
    if not match or int(match[1]) > 23 or int(match[2]) > 59:
        raise InvalidInput(f"publish time {text!r}: write it as HH:MM, e.g. 10:00")
    return int(match[1]), int(match[2])


def date_warnings(occurrence: Occurrence, instant: dt.datetime, zones: Sequence[str]) -> list[str]:
    """Where the publish instant is not on the observance's dates."""
    warnings = []
    for zone in zones:
        local = instant.astimezone(get_zone(zone))
        if not occurrence.start <= local.date() <= occurrence.end:
            when = f"{local:%Y-%m-%d %H:%M} {local.tzname()}"
            warnings.append(f"in {zone} it is {when}, not {occurrence.observance.name} ({occurrence.start})")
    return warnings


def render(template: str, occurrence: Occurrence) -> str:
    """The campaign's text for one occurrence: ``{name}``-style fields, nothing else.

    Only the fields themselves are allowed: no conversion (``{name!r}``), no format spec (``{year:d}``,
    or ``{name:>300000000}``, which asked for a 300-million-character string), no attribute or index;
    literal braces are doubled (``{{``). Anything else is refused with the fields one may use.
    """
    values = {
        "year": str(occurrence.year),
        "yy": f"{occurrence.year % 100:02d}",
        "ordinal": occurrence.ordinal,
        "edition": str(occurrence.observance.edition(occurrence.year)),
        "name": occurrence.observance.name,
        "hashtags": " ".join(occurrence.hashtags),
    }
    allowed = ", ".join("{" + name + "}" for name in TEMPLATE_FIELDS)
    try:
        pieces = list(string.Formatter().parse(template))
    except ValueError as error:  # a lone "{" or "}", an unclosed field
        raise InvalidInput(
            f"the text is not a valid template ({error}); use {allowed}, and write {{{{ or }}}} for a brace"
        ) from None
    out: list[str] = []
    for literal, field, spec, conversion in pieces:
        out.append(literal)
        if field is None:
            continue
        if field not in values:
            shown = field if len(field) <= 40 else field[:37] + "..."
            raise InvalidInput(f"the text uses {{{shown}}}, which is not a template field; use {allowed}")
        if conversion or spec:
            extra = f"!{conversion}" if conversion else f":{(spec or '')[:20]}"
            raise InvalidInput(f"the text uses {{{field}{extra}}}: template fields take no format; write {{{field}}}")
        out.append(values[field])
    return "".join(out)


def add_campaign(
    db: Database,
    settings: Settings,
    *,
    observance_id: str,
    channels: Sequence[str],
    text: str,
    now: dt.datetime,
    year: int | None = None,
    publish_time: str = DEFAULT_TIME,
    zone: str = DEFAULT_ZONE,
    lead_days: int = 14,
    title: str | None = None,
    link: str | None = None,
    importance: str = "routine",
    audience_zones: Sequence[str] = DEFAULT_AUDIENCE,
    media: Sequence[posts.MediaInput] = (),
    org: str | None = None,
    actor: str | None = None,
) -> tuple[int, list[str]]:
    """Attach content to an observance; returns the campaign id and the warnings for its next date.

    ``media`` is checked as ``post create`` checks it, stored once in the media store (nothing is
    kept when the campaign is refused), and given to each year's post."""
    observance = find(all_observances(db), observance_id)
    get_zone(zone)
    for audience in audience_zones:
        get_zone(audience)
    _check_lead_days(lead_days)
    upcoming = _next(observance, now, year)
    if upcoming is None:
        raise InvalidInput(f"{observance.name} has no date {'in ' + str(year) if year else 'in the next two years'}")
    instant = publish_instant(upcoming, publish_time, zone)
    render(text, upcoming)  # a bad template is refused now, not on the day
    warnings = date_warnings(upcoming, instant, audience_zones)
    checked = _check_media(media, settings)
    # the files are copied before the write transaction, and removed again if the campaign is refused
    with media_store.storing(db, checked, settings.media_store) as still_stored, db.transaction() as session:
        targets = posts.channels_named(session, channels, actor=actor)
        owner = people.org_named(session, org) if org else None
        authorize(session, actor, Action.ADD_CAMPAIGN, [owner.id if owner else None] + [c.org_id for c in targets])
        _check_as_its_posts(
            session,
            settings,
            observance=observance,
            first=upcoming,
            year=year,
            targets=targets,
            text=text,
            title=title,
            link=link,
            media=checked,
            publish_time=publish_time,
            zone=zone,
            importance=importance,
            author=actor,
            org=org,
        )
        campaign = Campaign(
            observance_id=observance.id,
            org_id=owner.id if owner else None,
            year=year,
            channels=list(channels),
            text=text,
            title=title,
            link=link,
            publish_time=publish_time,
            zone=zone,
            lead_days=lead_days,
            importance=importance,
            audience_zones=list(audience_zones),
            created_by=actor,
            active=True,
            created_at=now,
        )
        campaign.media = [CampaignMedia(position=i, **asdict(item)) for i, (_, item) in enumerate(checked)]
        session.add(campaign)
        session.flush()
        still_stored()  # a refused post or campaign with the same file may have just removed the copy
        record_event(
            session,
            "campaign.added",
            now=now,
            actor=actor,
            message=f"{observance.name}: {', '.join(channels)} at {publish_time} {zone}",
            data={"campaign": campaign.id, "warnings": warnings, "media": [item.path for _, item in checked]},
        )
        return campaign.id, warnings


def edit_campaign(
    db: Database,
    settings: Settings,
    campaign_id: int,
    *,
    now: dt.datetime,
    actor: str | None = None,
    text: str | None = None,
    title: str | None = None,
    link: str | None = None,
    channels: Sequence[str] | None = None,
    publish_time: str | None = None,
    zone: str | None = None,
    lead_days: int | None = None,
    importance: str | None = None,
    media: Sequence[posts.MediaInput] | None = None,
) -> list[str]:
    """Change a campaign's content or schedule for the years still to come; returns the warnings for
    its next date. ``None`` keeps a value; an empty ``title`` or ``link`` removes it, and ``media``
    replaces the files (``[]``: none). The result is checked as ``add_campaign`` checks a new one,
    for the next occurrences: a change their posts would fail on is refused, and nothing changes.
    Posts already made stay as they are (edit them like any post)."""
    changes = {
        name: value
        for name, value in (
            ("text", text),
            ("title", title),
            ("link", link),
            ("channels", channels),
            ("publish_time", publish_time),
            ("zone", zone),
            ("lead_days", lead_days),
            ("importance", importance),
            ("media", media),
        )
        if value is not None
    }
    if not changes:
        raise InvalidInput(
            "nothing to change: give --text, --title, --link, --channel, --at, --tz, --lead-days, "
            "--importance, --media or --no-media"
        )
    with db.transaction() as session:
        current = _active(session, campaign_id)
        before = _view(current)
        kept = [StoredMedia.from_row(row) for row in current.media]
    observance = find(all_observances(db), before["observance"])
    after: dict[str, Any] = {
        "text": before["text"] if text is None else text,
        "title": before["title"] if title is None else (title or None),
        "link": before["link"] if link is None else (link or None),
        "channels": list(before["channels"] if channels is None else dict.fromkeys(channels)),
        "publish_time": before["publish_time"] if publish_time is None else publish_time,
        "zone": before["zone"] if zone is None else zone,
        "lead_days": before["lead_days"] if lead_days is None else lead_days,
        "importance": before["importance"] if importance is None else importance,
    }
    get_zone(after["zone"])
    _check_lead_days(after["lead_days"])
    upcoming = _next(observance, now, before["year"])
    if upcoming is None:
        year = before["year"]
        raise InvalidInput(f"{observance.name} has no date {'in ' + str(year) if year else 'in the next two years'}")
    instant = publish_instant(upcoming, after["publish_time"], after["zone"])
    render(after["text"], upcoming)
    warnings = date_warnings(upcoming, instant, before["audience_zones"])
    if media is None:
        checked = [(settings.media_store / item.path, item) for item in kept]
        new_files: list[tuple[Path, StoredMedia]] = []
    else:
        checked = new_files = _check_media(media, settings)
    with media_store.storing(db, new_files, settings.media_store) as still_stored, db.transaction() as session:
        campaign = _active(session, campaign_id)
        if _view(campaign) != before:
            raise InvalidInput(f"campaign {campaign_id} was changed meanwhile; look at it again (campaign show)")
        targets = posts.channels_named(session, after["channels"], actor=actor)
        owners = {campaign.org_id}
        owners |= set(session.scalars(select(Channel.org_id).where(Channel.name.in_(before["channels"]))))
        owners |= {channel.org_id for channel in targets}
        subject = f"campaign {campaign_id}"
        if actor is not None and actor == campaign.created_by:  # its author, as when adding it
            authorize(session, actor, Action.ADD_CAMPAIGN, owners, subject=subject)
        else:
            authorize(session, actor, Action.EDIT_CAMPAIGN, owners, subject=subject, or_also="its author")
        # its posts are made as its author, in its organisation: checked as they will be
        org = people.org_named_by_id(session, campaign.org_id) if campaign.org_id is not None else None
        _check_as_its_posts(
            session,
            settings,
            observance=observance,
            first=upcoming,
            year=before["year"],
            targets=targets,
            text=after["text"],
            title=after["title"],
            link=after["link"],
            media=checked,
            publish_time=after["publish_time"],
            zone=after["zone"],
            importance=after["importance"],
            author=campaign.created_by,
            org=org,
        )
        for name, value in after.items():
            setattr(campaign, name, value)
        if media is not None:
            campaign.media = [CampaignMedia(position=i, **asdict(item)) for i, (_, item) in enumerate(checked)]
        session.flush()
        still_stored()
        record_event(
            session,
            "campaign.edited",
            now=now,
            actor=actor,
            message=f"campaign {campaign_id}: {', '.join(changes)}",
            data={"campaign": campaign_id, "changed": sorted(changes), "warnings": warnings},
        )
    return warnings


def _active(session: Session, campaign_id: int) -> Campaign:
    campaign = session.get(Campaign, campaign_id)
    if campaign is None or not campaign.active:
        raise NotFound(f"no active campaign with id {campaign_id}")
    return campaign


def _check_lead_days(lead_days: int) -> None:
    if not 0 <= lead_days <= 365:
        raise InvalidInput(f"lead days {lead_days}: give 0 to 365")


def _check_media(media: Sequence[posts.MediaInput], settings: Settings) -> list[tuple[Path, StoredMedia]]:
    """Every check ``post create`` makes of a file (decoded, limits), before anything is stored."""
    return [
        (
            item.path,
            media_store.check(
                item.path, max_bytes=settings.max_media_bytes, alt_text=item.alt_text, name=item.name, focus=item.focus
            ),
        )
        for item in media
    ]


def _check_as_its_posts(
    session: Session,
    settings: Settings,
    *,
    observance: Observance,
    first: Occurrence,
    year: int | None,
    targets: Sequence[Channel],
    text: str,
    title: str | None,
    link: str | None,
    media: Sequence[tuple[Path, StoredMedia]],
    publish_time: str,
    zone: str,
    importance: str,
    author: str | None,
    org: str | None,
) -> None:
    """What the yearly sweep's post would be refused for, or held for at rendering, refused now:
    who may post where, the importance under the policy, the media each channel takes (a video
    too long for one), and, for each of the next dates, the text, title, media count and time
    on each channel (a blackout)."""
    post_org = signoff.resolve_author_org(session, actor=author, org=org, channels=targets, submit_to=None)
    signoff.check_kind(session, targets, post_org, importance, "awareness_day")
    _check_durations(media, targets)
    items = tuple(item.as_item(settings.media_store) for _, item in media)
    for occurrence in _upcoming(observance, first, year):
        try:
            rendered = render(text, occurrence)
            if not rendered.strip() and not items:
                raise ContentRejected("the post is empty: give --text, --media or both")
            posts.check_fits(Content(text=rendered, title=title, link=link, media=items), targets)
            timetable.check_open(session, targets, publish_instant(occurrence, publish_time, zone))
        except InvalidInput as refused:
            raise type(refused)(f"on {occurrence.start.isoformat()}: {refused}") from None


def _check_durations(media: Sequence[tuple[Path, StoredMedia]], targets: Sequence[Channel]) -> None:
    """A clip longer (or shorter) than a channel takes is held at rendering (nothing is trimmed
    unasked): refused at once instead, naming the channel and its limit."""
    problems = []
    for path, item in media:
        if item.kind != "video":
            continue
        seconds = inspect_video(path).duration
        for channel in targets:
            spec = SPECS[channel.platform]
            if spec.video is None:
                continue
            low, high = spec.video.duration
            if seconds > high:
                problems.append(
                    f"{channel.name} ({spec.label}): {item.original_name} is {seconds:.1f} s, "
                    f"{spec.label} takes at most {high:g} s"
                )
            elif seconds < low:
                problems.append(
                    f"{channel.name} ({spec.label}): {item.original_name} is {seconds:.1f} s, "
                    f"{spec.label} needs at least {low:g} s"
                )
    if problems:
        raise ContentRejected("the media does not fit " + " | ".join(problems))


def _upcoming(observance: Observance, first: Occurrence, year: int | None) -> list[Occurrence]:
    """The dates a campaign is checked for at add: the next one, and the one after unless the
    campaign is for one year (a template's text changes with the year: {ordinal}, {year})."""
    if year is not None:
        return [first]
    after = observance.occurrence(first.year + 1)
    return [first] if after is None else [first, after]


def _next(observance: Observance, now: dt.datetime, year: int | None) -> Occurrence | None:
    if year is not None:
        return observance.occurrence(year)
    found = observance.occurrences(now.date(), now.date() + dt.timedelta(days=2 * 366))
    return found[0] if found else None


def campaign_view(db: Database, campaign_id: int, *, now: dt.datetime) -> dict[str, Any]:
    with db.transaction() as session:
        campaign = session.get(Campaign, campaign_id)
        if campaign is None:
            raise NotFound(f"no campaign with id {campaign_id}")
        made = session.scalars(select(CampaignPost).where(CampaignPost.campaign_id == campaign_id)).all()
        view = _view(campaign)
        view["posts"] = [{"year": m.year, "post": m.post_id, "error": m.error} for m in made]
    observance = find(all_observances(db), view["observance"])
    upcoming = _next(observance, now, view["year"])
    if upcoming is not None:
        instant = publish_instant(upcoming, view["publish_time"], view["zone"])
        view["next"] = {
            "date": upcoming.start.isoformat(),
            "publish_at": instant.isoformat(),
            "draft_on": (instant - dt.timedelta(days=view["lead_days"])).isoformat(),
            "text": render(view["text"], upcoming),
            "warnings": date_warnings(upcoming, instant, view["audience_zones"]),
        }
    return view


def _view(campaign: Campaign) -> dict[str, Any]:
    return {
        "id": campaign.id,
        "observance": campaign.observance_id,
        "year": campaign.year,
        "channels": campaign.channels,
        "text": campaign.text,
        "publish_time": campaign.publish_time,
        "zone": campaign.zone,
        "lead_days": campaign.lead_days,
        "audience_zones": campaign.audience_zones,
        "title": campaign.title,
        "link": campaign.link,
        "importance": campaign.importance,
        "media": [
            {"name": m.original_name, "kind": m.kind, "mime": m.mime, "bytes": m.bytes, "alt_text": m.alt_text}
            for m in campaign.media
        ],
        "created_by": campaign.created_by,
        "active": campaign.active,
    }


def list_campaigns(db: Database) -> list[dict[str, Any]]:
    with db.transaction() as session:
        return [_view(c) for c in session.scalars(select(Campaign).order_by(Campaign.id))]


def remove_campaign(db: Database, campaign_id: int, *, now: dt.datetime, actor: str | None = None) -> None:
    """Stop a campaign; posts it already made stay (cancel them like any post)."""
    with db.transaction() as session:
        campaign = session.get(Campaign, campaign_id)
        if campaign is None or not campaign.active:
            raise NotFound(f"no active campaign with id {campaign_id}")
        if actor is None or actor != campaign.created_by:  # its author may always stop it
            owners = [
                campaign.org_id,
                *session.scalars(select(Channel.org_id).where(Channel.name.in_(campaign.channels))),
            ]
            authorize(session, actor, Action.REMOVE_CAMPAIGN, owners, subject=f"campaign {campaign_id}")
        campaign.active = False
        record_event(session, "campaign.removed", now=now, actor=actor, message=f"campaign {campaign_id}")


def sweep(db: Database, settings: Settings, *, now: dt.datetime) -> list[int]:
    """Create the posts whose lead time has come; returns their ids. Safe to run anywhere, often:
    a (campaign, year) gets one post, whoever gets there first."""
    with db.transaction() as session:
        campaigns = [
            (c.id, _view(c), [StoredMedia.from_row(m) for m in c.media], c.org_id)
            for c in session.scalars(select(Campaign).where(Campaign.active.is_(True)))
        ]
        done = {
            (row.campaign_id, row.year) for row in session.execute(select(CampaignPost.campaign_id, CampaignPost.year))
        }
    if not campaigns:
        return []
    every = all_observances(db)
    created = []
    for campaign_id, view, media, org_id in campaigns:
        observance = find(every, view["observance"])
        horizon = now.date() + dt.timedelta(days=view["lead_days"] + 1)
        for occurrence in observance.occurrences(now.date(), horizon):
            if (campaign_id, occurrence.year) in done or view["year"] not in (None, occurrence.year):
                continue
            instant = publish_instant(occurrence, view["publish_time"], view["zone"])
            if not instant - dt.timedelta(days=view["lead_days"]) <= now < instant:
                continue
            post_id = _draft(db, settings, campaign_id, view, media, occurrence, instant, org_id, now=now)
            if post_id is not None:
                created.append(post_id)
    return created


def _draft(
    db: Database,
    settings: Settings,
    campaign_id: int,
    view: dict[str, Any],
    media: Sequence[StoredMedia],
    occurrence: Occurrence,
    instant: dt.datetime,
    org_id: int | None,
    *,
    now: dt.datetime,
) -> int | None:
    # claim the (campaign, year) first: a second sweeper finds the row and makes nothing
    with db.transaction() as session:
        if (
            session.scalar(
                select(CampaignPost.id).where(
                    CampaignPost.campaign_id == campaign_id, CampaignPost.year == occurrence.year
                )
            )
            is not None
        ):
            return None
        claim = CampaignPost(campaign_id=campaign_id, year=occurrence.year, created_at=now)
        session.add(claim)
        session.flush()
        claim_id = claim.id
        org = people.org_named_by_id(session, org_id) if org_id else None
    manual = not occurrence.observance.auto_publishes
    warnings = date_warnings(occurrence, instant, view["audience_zones"])
    try:
        post_id = posts.create_post(
            db,
            settings,
            text=render(view["text"], occurrence),
            channels=view["channels"],
            now=now,
            at=instant.isoformat(),
            title=view["title"],
            link=view["link"],
            # the campaign's files, already in the store: checked again and rendered per channel
            media=[
                posts.MediaInput(settings.media_store / m.path, m.alt_text, m.original_name, m.focus) for m in media
            ],
            actor=view["created_by"],
            org=org,
            importance=view["importance"],
            format="awareness_day",
            draft=manual,
        )
        error = None
    except CrosspostError as refused:
        post_id, error = None, str(refused)
    with db.transaction() as session:
        row = session.get(CampaignPost, claim_id)
        assert row is not None
        row.post_id, row.error = post_id, error
        name = f"{occurrence.observance.name} {occurrence.year}"
        if error is not None:
            record_event(
                session,
                "campaign.failed",
                now=now,
                message=f"{name}: {error}",
                data={"campaign": campaign_id, "year": occurrence.year},
            )
        else:
            message = f"{name}: post {post_id} for {instant.isoformat()}"
            if manual:
                message += f"; {occurrence.observance.tone} {occurrence.observance.kind}: never published by itself, "
                message += "submit it by hand"
            if warnings:
                message += "; " + "; ".join(warnings)
            record_event(
                session,
                "campaign.drafted",
                now=now,
                post_id=post_id,
                message=message,
                data={"campaign": campaign_id, "year": occurrence.year, "warnings": warnings},
            )
    return post_id
