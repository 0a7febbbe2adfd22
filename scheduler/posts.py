"""Channels and posts: what the CLI and API call. Every check happens before the first write,
so a refused request stores nothing."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from media.specs import SPECS
from scheduler import languages, media_store
from scheduler.credentials import encrypt_credentials, seal_options
from scheduler.editorial import people, shares, signoff
from scheduler.editorial.authorization import Action, authorize
from scheduler.editorial.policy import is_trivial_edit
from scheduler.errors import ContentRejected, InvalidInput, InvalidTime, Refused, StateConflict, UnknownChannel
from scheduler.media_store import StoredMedia
from scheduler.planning import timetable
from scheduler.planning.slots import parse_priority
from scheduler.publishing.content import Content, MediaItem, problems_for
from scheduler.publishing.media_prep import needs_renditions
from scheduler.publishing.states import APPROVED, CANCELLABLE, DRAFT, EDITABLE, RETRYABLE, SUBMITTED, PublicationState
from scheduler.publishing.transitions import record_event, transition
from scheduler.settings import Settings
from scheduler.store import Channel, Database, Event, Post, PostMedia, PostVariant, Publication
from scheduler.when import DueTime, get_zone, parse_due

S = PublicationState
CHANNEL_NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,99}$")


@dataclass(frozen=True)
class MediaInput:
    path: Path
    alt_text: str | None = None
    name: str | None = None  # the file's name for people, when ``path`` is a stored copy
    focus: tuple[float, float] | None = None  # (x, y), 0..1 each: the point every crop keeps


# -- channels ------------------------------------------------------------------------------------


def add_channel(
    db: Database,
    settings: Settings,
    *,
    name: str,
    platform: str,
    now: datetime,
    timezone: str = "UTC",
    language: str | None = None,
    dry_run: bool = False,
    options: dict[str, Any] | None = None,
    credentials: dict[str, Any] | None = None,
    org: str | None = None,
    actor: str | None = None,
) -> Channel:
    if not CHANNEL_NAME.match(name):
        raise InvalidInput(
            f"channel name {name!r}: use lower-case letters, digits, '-', '_' or '.', starting with a letter or digit"
        )
    if platform not in SPECS:
        raise InvalidInput(f"unknown platform {platform!r}; known: {', '.join(sorted(SPECS))}")
    get_zone(timezone)
    language = languages.parse_optional(language, what="--language")
    secret = encrypt_credentials(credentials, settings) if credentials else None
    plain_options, secret_options = seal_options(options or {}, settings)  # a webhook's URL is a secret
    with db.transaction() as session:
        if session.scalar(select(Channel.id).where(Channel.name == name)) is not None:
            raise InvalidInput(f"a channel named {name!r} already exists")
        owner = people.org_named(session, org) if org else None
        authorize(session, actor, Action.ADD_CHANNEL, [owner.id if owner else None], subject=name)
        channel = Channel(
            org_id=owner.id if owner else None,
            name=name,
            platform=platform,
            timezone=timezone,
            language=language,
            dry_run=dry_run,
            options=plain_options,
            secret_options=secret_options,
            credentials=secret,
            created_at=now,
        )
        session.add(channel)
        session.flush()
        record_event(
            session,
            "channel.added",
            now=now,
            channel_id=channel.id,
            message=f"{name} on {platform}" + (f" for {org}" if org else ""),
        )
    return channel


def assign_channel(
    db: Database, *, channel: str, org: str | None, now: datetime, actor: str | None = None
) -> list[int]:
    """Give a channel to an organisation (or to none): from now on its policy applies, also to the
    posts already waiting on the channel, which are held or released at once. Returns those posts."""
    with db.transaction() as session:
        target = channels_named(session, [channel], actor=actor)[0]
        owner = people.org_named(session, org) if org else None
        # both sides: the organisation that has the channel gives it, the one that gets it takes it
        authorize(session, actor, Action.ASSIGN_CHANNEL, [target.org_id, owner.id if owner else None], subject=channel)
        previous = people.org_named_by_id(session, target.org_id) if target.org_id else None
        target.org_id = owner.id if owner else None
        session.flush()
        pending = session.scalars(
            select(Publication.post_id).where(
                Publication.channel_id == target.id,
                Publication.state.in_(
                    [S.SCHEDULED.value, S.QUEUED.value, S.RETRY_WAIT.value, S.AWAITING_SIGNOFF.value]
                ),
            )
        ).all()
        for post_id in sorted(set(pending)):
            post = signoff.load_post(session, post_id)
            signoff.settle(session, post, now=now, actor=actor)
        record_event(
            session,
            "channel.assigned",
            now=now,
            channel_id=target.id,
            actor=actor,
            message=f"{channel}: {previous or 'no organisation'} -> {org or 'no organisation'}",
            data={"posts_settled": sorted(set(pending))},
        )
        return sorted(set(pending))


def reconnect_channel(
    db: Database,
    settings: Settings,
    *,
    channel: str,
    credentials: dict[str, Any],
    now: datetime,
    actor: str | None = None,
) -> list[int]:
    """New credentials for a channel (encrypted at rest): it takes posts again, and the ones that
    waited for it go out now. Returns the publications released."""
    secret = encrypt_credentials(credentials, settings)
    with db.transaction() as session:
        target = channels_named(session, [channel], actor=actor)[0]
        authorize(session, actor, Action.RECONNECT_CHANNEL, [target.org_id], subject=channel)
        target.credentials, target.status = secret, "active"
        waiting = session.execute(
            select(Publication.id, Publication.state).where(
                Publication.channel_id == target.id, Publication.state == S.RETRY_WAIT.value
            )
        ).all()
        released = transition(
            session,
            waiting,
            S.SCHEDULED,
            now=now,
            values={"next_attempt_at": None},
            actor=actor,
            message=f"{channel} reconnected",
        )
        record_event(
            session,
            "channel.reconnected",
            now=now,
            channel_id=target.id,
            actor=actor,
            message=f"{channel}: new credentials; {len(released)} waiting post(s) released",
        )
        return released


def list_channels(db: Database) -> list[Channel]:
    with db.read() as session:
        return list(session.scalars(select(Channel).order_by(Channel.name)))


def find_channel(db: Database, name: str) -> Channel:
    """A channel by name, for the operator."""
    with db.read() as session:
        return channels_named(session, [name], actor=None)[0]


def channels_named(session: Session, names: Sequence[str], *, actor: str | None) -> list[Channel]:
    """The channels of ``names``; UnknownChannel naming the missing ones and the channels ``actor``
    may use (not other organisations': a partner learns nothing of the host's)."""
    if not names:
        raise InvalidInput("no channel given: name at least one with --channel")
    found = {channel.name: channel for channel in session.scalars(select(Channel).where(Channel.name.in_(names)))}
    missing = [name for name in names if name not in found]
    if missing:
        known = ", ".join(_usable_channel_names(session, actor))
        if not known:
            known = "none yet (crosspost channel add)" if actor is None else "none"
        raise UnknownChannel(f"unknown channel {', '.join(map(repr, missing))}; known channels: {known}")
    return [found[name] for name in dict.fromkeys(names)]


def _usable_channel_names(session: Session, actor: str | None) -> list[str]:
    """The channels of ``actor``'s organisations and of no organisation (the operator: all)."""
    query = select(Channel.name).order_by(Channel.name)
    if actor is not None:
        orgs = list(people.memberships(session, people.user_named(session, actor)))
        query = query.where(or_(Channel.org_id.is_(None), Channel.org_id.in_(orgs)))
    return list(session.scalars(query))


# -- posts ---------------------------------------------------------------------------------------


def _zone_for(at: str | None, tz: str | None, channels: Sequence[Channel]) -> str | None:
    """A wall time without --tz is read in the channels' zone, when they all share one."""
    if tz or not at or re.search(r"(Z|[+-]\d{2}:?\d{2})$", at.strip(), re.IGNORECASE):
        return tz
    zones = sorted({channel.timezone for channel in channels})
    if len(zones) == 1:
        return zones[0]
    listed = ", ".join(f"{channel.name} ({channel.timezone})" for channel in channels)
    raise InvalidTime(f"{at} has no offset and the channels are in different time zones: {listed}; give --tz")


def check_fits(content: Content, channels: Sequence[Channel]) -> None:
    problems = [
        f"{channel.name} ({SPECS[channel.platform].label}): {'; '.join(found)}"
        for channel in channels
        if (found := problems_for(SPECS[channel.platform], content))
    ]
    if problems:
        raise ContentRejected("the post does not fit " + " | ".join(problems))


def _as_items(stored: Sequence[StoredMedia], settings: Settings) -> tuple[MediaItem, ...]:
    return tuple(item.as_item(settings.media_store) for item in stored)


def create_post(
    db: Database,
    settings: Settings,
    *,
    text: str,
    channels: Sequence[str],
    now: datetime,
    at: str | None = None,
    tz: str | None = None,
    immediately: bool = False,
    queue: bool = False,
    title: str | None = None,
    link: str | None = None,
    language: str | None = None,
    author: str | None = None,
    media: Sequence[MediaInput] = (),
    actor: str | None = None,
    org: str | None = None,
    submit_to: str | None = None,
    importance: str = "routine",
    format: str | None = None,
    priority: str = "normal",
    draft: bool = False,
    share: int | None = None,
    any_language: bool = False,
) -> int:
    """Queue one piece of content for several channels; returns the post id.

    ``actor`` is the user creating it (None: the operator). Where a channel's organisation requires
    a sign-off, its publication waits in ``awaiting_signoff`` (editorial.py). ``queue`` gives each
    channel's publication the next free slot of its posting schedule instead of a time (``at``).
    A channel with a language gets only text in that language: the post's own (``language``,
    English when not given) or a variant; otherwise it waits in ``awaiting_signoff`` for one,
    unless ``any_language`` lets the post's text go out there.
    """
    language = languages.parse_optional(language, what="--language")
    if actor is not None and author is not None and author != actor:
        # the author is who may not sign (four eyes): a named person cannot write in someone else's name
        raise InvalidInput(
            f"--author {author!r} differs from --as {actor!r}: a post's author is the person creating it"
        )
    author = author or actor
    rank = parse_priority(priority)
    if queue and (at or immediately):
        raise InvalidTime("give either a time (--at or --now) or --queue, not both")
    with db.transaction() as session:
        targets = channels_named(session, channels, actor=actor)
        post_org = signoff.resolve_author_org(session, actor=actor, org=org, channels=targets, submit_to=submit_to)
        if share is not None:
            offer, _ = shares.open_share(session, share, actor=actor, text=text)
            post_org = offer.to_org_id
    due = None if queue else parse_due(at, _zone_for(at, tz, targets), now=now, immediately=immediately)
    checked = [
        (
            item.path,
            media_store.check(
                item.path, max_bytes=settings.max_media_bytes, alt_text=item.alt_text, name=item.name, focus=item.focus
            ),
        )
        for item in media
    ]
    stored = [item for _, item in checked]
    content = Content(text=text, title=title, link=link, language=language, media=_as_items(stored, settings))
    if not text.strip() and not media:
        raise ContentRejected("the post is empty: give --text, --media or both")
    check_fits(content, targets)
    kind = format or ("video" if any(item.kind == "video" for item in stored) else "social")

    # the files are copied before the write transaction, and removed again if the post is not stored
    with media_store.storing(db, checked, settings.media_store) as still_stored, db.transaction() as session:
        targets = channels_named(session, channels, actor=actor)
        signoff.check_kind(session, targets, post_org, importance, kind)
        if due is not None:
            timetable.check_open(session, targets, due.utc)
        post = Post(
            text=text,
            title=title,
            link=link,
            language=language,
            any_language=any_language,
            author=author,
            version=1,
            content_hash=content.content_hash,
            org_id=post_org,
            importance=importance,
            format=kind,
            priority=rank.value,
            review=APPROVED,
            share_id=share,
            created_at=now,
            updated_at=now,
        )
        post.media = [PostMedia(position=index, **asdict(item)) for index, item in enumerate(stored)]
        session.add(post)
        session.flush()
        still_stored()  # a refused post with the same file may have just removed the copy
        if share is not None:
            shares.adopt_share(session, share, post, now=now)
        record_event(session, "post.created", now=now, post_id=post.id, actor=author, data={"version": 1})
        rows = []
        for channel in targets:
            publication = _new_publication(post, channel, due or DueTime(utc=now, zone=channel.timezone), now)
            publication.immediate = immediately
            publication.media_ready = not (stored and needs_renditions(channel.platform))
            if channel.org_id is not None or post_org is not None or draft or _wrong_language(post, channel):
                # settle() below releases what needs no sign-off; a draft waits for `post submit`;
                # a channel of another language waits for a variant in its language
                publication.state = S.AWAITING_SIGNOFF.value
            if queue:
                publication.from_queue, publication.queued_at = True, now
            session.add(publication)
            rows.append((publication, channel))
        session.flush()
        if queue:
            for publication, channel in rows:
                timetable.enqueue(session, channel, [publication], now=now, actor=author)
        for publication, channel in rows:
            record_event(
                session,
                f"publication.{publication.state}",
                now=now,
                post_id=post.id,
                publication_id=publication.id,
                channel_id=channel.id,
                to_state=publication.state,
                actor=author,
                message=f"due {publication.due_at.isoformat()}" + (" (from the queue)" if queue else ""),
            )
        if any(publication.state == S.AWAITING_SIGNOFF for publication, _ in rows):
            session.refresh(post, ["publications"])
            post.review = DRAFT if draft else SUBMITTED
            if not draft:
                record_event(
                    session,
                    "post.submitted",
                    now=now,
                    post_id=post.id,
                    actor=author,
                    message=signoff.awaiting(session, post),
                    data={"version": 1},
                )
            signoff.settle(session, post, now=now, actor=author)
        return post.id


def adopt_share(
    db: Database,
    settings: Settings,
    share_id: int,
    *,
    channels: Sequence[str],
    now: datetime,
    actor: str | None = None,
    org: str | None = None,
    text: str | None = None,
    at: str | None = None,
    tz: str | None = None,
    immediately: bool = False,
    queue: bool = False,
    draft: bool = False,
    importance: str | None = None,
    format: str | None = None,
    priority: str | None = None,
) -> int:
    """A partner adopts a shared post on its own channels: a copy under its own policy and sign-off.

    The copy keeps the original's text (unless ``text`` is given and the share allows it, or keeps
    the original whole), title, link, language, media and kind. Returns the copy's post id.
    """
    with db.transaction() as session:
        _, original = shares.share_and_original(session, share_id)
        media = [
            MediaInput(settings.media_store / m.path, m.alt_text, m.original_name, media_store.focus_of(m))
            for m in original.media
        ]
        title, link, language = original.title, original.link, original.language
        kind = (importance or original.importance, format or original.format, priority or original.priority)
    return create_post(
        db,
        settings,
        text=original.text if text is None else text,
        channels=channels,
        now=now,
        at=at,
        tz=tz,
        immediately=immediately,
        queue=queue,
        media=media,
        actor=actor,
        org=org,
        share=share_id,
        draft=draft,
        title=title,
        link=link,
        language=language,
        importance=kind[0],
        format=kind[1],
        priority=kind[2],
    )


def _wrong_language(post: Post, channel: Channel) -> bool:
    """The post's own text, without a variant, is not in the channel's language (signoff.language_hold)."""
    if channel.language is None or post.any_language:
        return False
    return not languages.matches(post.language or languages.DEFAULT, channel.language)


def _language_variant_for(post: Post, channel: Channel) -> PostVariant | None:
    """The language variant a channel publishes: one in its exact tag, else one of its language."""
    if channel.language is None:
        return None
    candidates = [v for v in post.variants if v.channel_id is None and v.language is not None]
    exact = [v for v in candidates if languages.exact(v.language or "", channel.language)]
    close = [v for v in candidates if languages.matches(v.language or "", channel.language)]
    found = exact or close
    return found[-1] if found else None


def _new_publication(post: Post, channel: Channel, due: DueTime, now: datetime) -> Publication:
    return Publication(
        post_id=post.id,
        channel_id=channel.id,
        state=S.SCHEDULED.value,
        due_at=due.utc,
        due_zone=due.zone,
        attempts=0,
        idempotency_key=str(uuid.uuid4()),
        created_at=now,
        updated_at=now,
    )


def _publications(post: Post, channel: str | None) -> list[Publication]:
    chosen = [p for p in post.publications if channel is None or p.channel.name == channel]
    if channel is not None and not chosen:
        raise UnknownChannel(f"post {post.id} is not scheduled on channel {channel!r}")
    return chosen


@dataclass(frozen=True)
class _EditPlan:
    """An edit checked and counted outside the write transaction, against one version of the post."""

    version: int
    pending: tuple[int, ...]  # the publications it applies to
    limit: int  # the trivial-edit allowance it was counted against
    content: Content
    due: DueTime | None
    small: bool  # the text changed within the allowance (title and link unchanged)
    add: tuple[str, ...] = ()  # channels to add, checked to fit
    remove: tuple[str, ...] = ()
    any_language: bool | None = None


def _editable(post: Post, *, adding: bool = False) -> list[Publication]:
    """The publications an edit applies to; StateConflict if one is going out or nothing is left."""
    busy = [p for p in post.publications if p.state in (S.PUBLISHING, S.UNKNOWN)]
    if busy:
        names = ", ".join(f"{p.channel.name} ({p.state})" for p in busy)
        raise StateConflict(f"post {post.id} is being published on {names}; edit it once that settles")
    pending = [p for p in post.publications if p.state in EDITABLE]
    if not pending and not adding:
        raise StateConflict(f"post {post.id} has nothing left to publish; create a new post instead")
    return pending


def _plan_edit(
    db: Database,
    settings: Settings,
    post_id: int,
    *,
    now: datetime,
    text: str | None,
    title: str | None,
    link: str | None,
    at: str | None,
    tz: str | None,
    actor: str | None,
    add: Sequence[str] = (),
    remove: Sequence[str] = (),
    any_language: bool | None = None,
) -> _EditPlan:
    """Every check of an edit and all its counting, on a snapshot read without the write lock."""
    if set(add) & set(remove):
        raise InvalidInput(f"{', '.join(sorted(set(add) & set(remove)))}: both added and removed")
    with db.read() as session:
        post = signoff.load_post(session, post_id, lock=False)
        signoff.require_editor_of(session, actor, post, "edit")
        pending = _editable(post, adding=bool(add))
        new = channels_named(session, add, actor=actor) if add else []
        channels = [p.channel for p in pending] + new
        limit = signoff.trivial_edit_limit(session, post)
        media = _as_items([StoredMedia.from_row(m) for m in post.media], settings)
        shared = shares.share_and_original(session, post.share_id) if post.share_id is not None else None
    due = parse_due(at, _zone_for(at, tz, channels), now=now) if at else None
    content = Content(
        text=post.text if text is None else text,
        title=post.title if title is None else title,
        link=post.link if link is None else link,
        language=post.language,
        media=media,
    )
    check_fits(content, channels)  # the counting: bounded per text (media.text.raw_limit), and lock-free
    for channel in new:  # a new channel of another language publishes its variant: that must fit too
        if (variant := _language_variant_for(post, channel)) is not None:
            check_fits(_variant_content(post, variant, media), [channel])
    if shared is not None:
        shares.check_share_edit(*shared, content.text, title=content.title, link=content.link)
    small = (
        content.title == post.title
        and content.link == post.link
        and is_trivial_edit(post.text, content.text, limit=limit)  # linear for a bounded allowance
    )
    return _EditPlan(
        post.version, tuple(p.id for p in pending), limit, content, due, small, tuple(add), tuple(remove), any_language
    )


def edit_post(
    db: Database,
    settings: Settings,
    post_id: int,
    *,
    now: datetime,
    text: str | None = None,
    title: str | None = None,
    link: str | None = None,
    at: str | None = None,
    tz: str | None = None,
    actor: str | None = None,
    add_channels: Sequence[str] = (),
    remove_channels: Sequence[str] = (),
    any_language: bool | None = None,
) -> int:
    """Change the content, the due time or the channels of a post that is not being published.

    ``add_channels`` get the checks a new post's channels get (the content fits, the actor may
    post there, the organisations know its kind, the time is open) and go through the sign-off
    gate; ``remove_channels`` are cancelled where the post is not out (refused where it is
    published or publishing). ``any_language`` sets whether the post's own text may go out on
    channels of another language.

    Messages already in the broker for it become stale (the token is cleared), so the old
    content can never go out after an edit. Changed content needs a new sign-off where a policy
    applies, unless the policy counts the edit as trivial. Returns the post's new version.

    Everything slow (counting the text as each platform does, comparing it with the old one) runs
    before the write transaction, on a snapshot that takes no lock; the write transaction checks
    that the post is still that version, and starts again if it changed meanwhile.
    """
    for _ in range(3):
        plan = _plan_edit(
            db,
            settings,
            post_id,
            now=now,
            text=text,
            title=title,
            link=link,
            at=at,
            tz=tz,
            actor=actor,
            add=add_channels,
            remove=remove_channels,
            any_language=any_language,
        )
        with db.transaction() as session:
            post = signoff.load_post(session, post_id)
            signoff.require_editor_of(session, actor, post, "edit")
            pending = _editable(post, adding=bool(add_channels))
            if (
                post.version != plan.version
                or tuple(p.id for p in pending) != plan.pending
                or signoff.trivial_edit_limit(session, post) != plan.limit
            ):
                continue  # changed since it was checked: check again
            return _apply_edit(session, post, pending, plan, now=now, actor=actor)
    raise StateConflict(f"post {post_id} kept changing while this edit was checked; try again")


def _apply_edit(
    session: Session, post: Post, pending: list[Publication], plan: _EditPlan, *, now: datetime, actor: str | None
) -> int:
    content, due = plan.content, plan.due
    if due is not None:
        timetable.check_open(session, [p.channel for p in pending], due.utc)
    if post.share_id is not None:  # a share's terms may have changed: cheap to check again
        offer, original = shares.share_and_original(session, post.share_id)
        shares.check_share_edit(offer, original, content.text, title=content.title, link=content.link)
    changed = content.content_hash != post.content_hash
    if changed:
        old_hashes = {p.id: signoff.content_of(p)[0] for p in post.publications}
        trivial = post.review == APPROVED and plan.small
        # what it said before, so a reviewer sees what changed (the web app's diff between versions)
        previous = {"version": post.version, "text": post.text, "title": post.title, "link": post.link}
        post.text, post.title, post.link = content.text, content.title, content.link
        post.version += 1
        post.content_hash = content.content_hash
        post.updated_at = now
        for variant in post.variants:  # a variant publishes with the post's link and media: its hash covers them
            variant.content_hash = _variant_content(post, variant, content.media).content_hash
        record_event(
            session,
            "post.edited",
            now=now,
            post_id=post.id,
            actor=actor,
            data={"version": post.version, "previous": previous},
        )
        if trivial:
            signoff.carry_signoffs(session, post, old_hashes, now=now, actor=actor)
    if plan.any_language is not None and plan.any_language != post.any_language:
        post.any_language = plan.any_language
        record_event(
            session,
            "post.edited",
            now=now,
            post_id=post.id,
            actor=actor,
            message="its text may go out in any channel's language" if plan.any_language else "languages kept apart",
            data={"version": post.version, "any_language": plan.any_language},
        )
    if plan.remove:
        pending = _remove_channels(session, post, pending, plan.remove, now=now, actor=actor)
    if plan.add:
        _add_channels(session, post, pending, plan.add, due, now=now, actor=actor)
    waiting = [p for p in pending if p.state in (S.SCHEDULED, S.QUEUED, S.RETRY_WAIT)]
    if due is not None:
        values = {
            "due_at": due.utc,
            "due_zone": due.zone,
            "dispatch_token": None,
            "next_attempt_at": None,
            "from_queue": False,
            "immediate": False,  # a time given now replaces "as soon as signed off"
        }
        message = f"rescheduled to {due.utc.isoformat()}"
        moved = transition(session, waiting, S.SCHEDULED, now=now, values=values, message=message, actor=actor)
        signoff.require_all_moved(waiting, moved, post)
        # a never-attempted publication that needed a person (a missed sign-off deadline) re-enters
        # through the sign-off gate; one that was attempted may have landed and is left alone
        held = [
            p for p in pending if p.state == S.AWAITING_SIGNOFF or (p.state == S.NEEDS_ATTENTION and p.attempts == 0)
        ]
        transition(session, held, S.AWAITING_SIGNOFF, now=now, values=values, message=message, actor=actor)
    elif changed:
        queued = [p for p in waiting if p.state == S.QUEUED]
        moved = transition(
            session,
            queued,
            S.SCHEDULED,
            now=now,
            values={"dispatch_token": None},
            message="content edited: the message in flight is void",
            actor=actor,
        )
        signoff.require_all_moved(queued, moved, post)
    signoff.settle(session, post, now=now, actor=actor)
    return post.version


def _remove_channels(
    session: Session, post: Post, pending: list[Publication], names: Sequence[str], *, now: datetime, actor: str | None
) -> list[Publication]:
    """Cancel the post on these channels; refused where it is out or may be. Returns what is left pending."""
    targets = channels_named(session, names, actor=actor)
    on = {p.channel_id: p for p in post.publications}
    absent = [channel.name for channel in targets if channel.id not in on]
    if absent:
        raise UnknownChannel(f"post {post.id} is not on {', '.join(absent)}")
    chosen = [on[channel.id] for channel in targets]
    out = [
        p
        for p in chosen
        if p.state in (S.PUBLISHED, S.PUBLISHING, S.UNKNOWN) or (p.state == S.NEEDS_ATTENTION and p.attempts)
    ]
    if out:
        listed = ", ".join(f"{p.channel.name} ({p.state})" for p in out)
        raise StateConflict(f"post {post.id} is published, or may be, on {listed}: it cannot be removed there")
    cancel = [p for p in chosen if p.state != S.CANCELLED]
    moved = transition(
        session,
        cancel,
        S.CANCELLED,
        now=now,
        values={"dispatch_token": None},
        message="channel removed from the post",
        actor=actor,
    )
    signoff.require_all_moved(cancel, moved, post)
    return [p for p in pending if p not in chosen]


def _add_channels(
    session: Session,
    post: Post,
    pending: list[Publication],
    names: Sequence[str],
    due: DueTime | None,
    *,
    now: datetime,
    actor: str | None,
) -> None:
    """The post on more channels, through the checks of post create and the sign-off gate."""
    targets = channels_named(session, names, actor=actor)
    allowed = {post.org_id} | {p.channel.org_id for p in post.publications if p.state != S.CANCELLED}
    for channel in targets:
        if actor is not None and channel.org_id is not None and channel.org_id not in allowed:
            owner = people.org_named_by_id(session, channel.org_id)
            raise Refused(
                f"rule {signoff.PARTNER_RULE!r}: post {post.id} ({people.org_named_by_id(session, post.org_id)}) "
                f"may not go on {channel.name}, which belongs to {owner}; create a post with --submit-to {owner}"
            )
        authorize(
            session,
            actor,
            Action.CREATE_POST,
            [post.org_id if post.org_id is not None else channel.org_id],
            doing=f"put post {post.id} on {channel.name}",
        )
    on = {p.channel_id: p for p in post.publications}
    for channel in targets:
        existing = on.get(channel.id)
        if existing is not None and existing.state not in (S.CANCELLED, S.FAILED):
            raise InvalidInput(f"post {post.id} is already on {channel.name} ({existing.state})")
    signoff.check_kind(session, targets, post.org_id, post.importance, post.format)
    live = (S.AWAITING_SIGNOFF, S.SCHEDULED, S.QUEUED, S.RETRY_WAIT)
    reference = next((p for p in pending if p.state in live and p.channel_id not in {c.id for c in targets}), None)
    queue = due is None and reference is not None and reference.from_queue
    if due is None and reference is not None:
        due = DueTime(utc=reference.due_at, zone=reference.due_zone or reference.channel.timezone)
    if due is None and not queue:
        raise InvalidTime(f"post {post.id} has nothing left to publish: give --at for {', '.join(names)}")
    if due is not None and not queue:
        timetable.check_open(session, targets, due.utc)
    for channel in targets:
        variant = _language_variant_for(post, channel)
        ready = not (post.media and needs_renditions(channel.platform))
        values: dict[str, Any] = {
            "variant_id": variant.id if variant else None,
            "media_ready": ready,
            "from_queue": queue,
            "queued_at": now if queue else None,
            "dispatch_token": None,
            "next_attempt_at": None,
            "attempts": 0,
        }
        if due is not None:
            values |= {"due_at": due.utc, "due_zone": due.zone}
        existing = on.get(channel.id)
        if existing is not None:  # removed or failed before: the same row, scheduled anew
            moved = transition(
                session,
                [existing],
                S.AWAITING_SIGNOFF,
                now=now,
                values=values,
                message="channel added again",
                actor=actor,
            )
            signoff.require_all_moved([existing], moved, post)
            publication = existing
        else:
            publication = _new_publication(post, channel, due or DueTime(utc=now, zone=channel.timezone), now)
            for name, value in values.items():
                setattr(publication, name, value)
            publication.state = S.AWAITING_SIGNOFF.value  # settle() releases it if nothing is needed
            session.add(publication)
            session.flush()
            record_event(
                session,
                "publication.awaiting_signoff",
                now=now,
                post_id=post.id,
                publication_id=publication.id,
                channel_id=channel.id,
                to_state=publication.state,
                actor=actor,
                message=f"channel added: due {publication.due_at.isoformat()}",
            )
        if queue:
            session.refresh(publication)
            timetable.enqueue(session, channel, [publication], now=now, actor=actor)
    signoff.fresh(session, post)


def add_variant(
    db: Database,
    settings: Settings,
    post_id: int,
    *,
    text: str,
    now: datetime,
    language: str | None = None,
    channel: str | None = None,
    title: str | None = None,
    actor: str | None = None,
) -> list[str]:
    """The post's text in another language (used on channels of that language) or for one channel.

    Each variant is its own version with its own hash, so it needs its own sign-off where a policy
    applies. Returns the channels that will publish it.
    """
    if (language is None) == (channel is None):
        raise InvalidInput("a variant is for one --language or for one --channel")
    language = languages.parse_optional(language, what="--language")
    if not text.strip():
        raise ContentRejected("the variant's text is empty")
    with db.transaction() as session:
        post = signoff.load_post(session, post_id)
        signoff.require_editor_of(session, actor, post, "add a variant to")
        if post.share_id is not None:
            offer, original = shares.share_and_original(session, post.share_id)
            if not offer.may_edit:
                raise Refused(
                    f"rule 'shared as is': post {post_id} is a copy of post {original.id}, shared without changes; "
                    "it takes no variants"
                )
        target = channels_named(session, [channel], actor=actor)[0] if channel else None
        if target is not None and target.id not in {p.channel_id for p in post.publications}:
            raise UnknownChannel(f"post {post_id} is not scheduled on channel {channel!r}")
        applies = [
            p
            for p in post.publications
            if (target is not None and p.channel_id == target.id)
            or (target is None and language is not None and _takes(post, p, language))
        ]
        busy = [p for p in applies if p.state not in EDITABLE]
        if busy:
            names = ", ".join(f"{p.channel.name} ({p.state})" for p in busy)
            raise StateConflict(f"post {post_id} is already out or going out on {names}")
        media = _as_items([StoredMedia.from_row(m) for m in post.media], settings)
        variant = next(
            (v for v in post.variants if v.language == language and v.channel_id == (target.id if target else None)),
            None,
        )
        if variant is None:
            variant = PostVariant(language=language, channel_id=target.id if target else None, updated_at=now)
            post.variants.append(variant)
        variant.text, variant.title, variant.updated_at = text, title or post.title, now
        content = _variant_content(post, variant, media)
        check_fits(content, [p.channel for p in applies])
        variant.content_hash = content.content_hash
        session.flush()
        for publication in applies:
            publication.variant_id = variant.id
        record_event(
            session,
            "post.variant",
            now=now,
            post_id=post.id,
            actor=actor,
            message=f"{'language ' + language if language else 'channel ' + str(channel)}: "
            f"{', '.join(p.channel.name for p in applies) or 'no channel yet'}",
        )
        signoff.settle(session, post, now=now, actor=actor)
        return [p.channel.name for p in applies]


def _variant_content(post: Post, variant: PostVariant, media: tuple[MediaItem, ...]) -> Content:
    """What a publication of ``variant`` sends: its text and title with the post's link and media
    (as publications.load builds it), so its hash is what a sign-off covers."""
    return Content(
        text=variant.text,
        title=variant.title,
        link=post.link,
        language=variant.language or post.language,
        media=media,
    )


def _has_channel_variant(post: Post, channel_id: int) -> bool:
    return any(variant.channel_id == channel_id for variant in post.variants)


def _takes(post: Post, publication: Publication, language: str) -> bool:
    """Whether a new variant in ``language`` becomes what ``publication`` publishes: its channel is
    of that language, it has no variant of its own, and none in the channel's exact tag already."""
    wanted = publication.channel.language
    if wanted is None or not languages.matches(language, wanted) or _has_channel_variant(post, publication.channel_id):
        return False
    current = next((v for v in post.variants if v.id == publication.variant_id), None)
    return not (
        current is not None
        and current.language is not None
        and languages.exact(current.language, wanted)
        and not languages.exact(language, wanted)
    )


def cancel_post(
    db: Database, post_id: int, *, now: datetime, channel: str | None = None, actor: str | None = None
) -> list[str]:
    """Cancel what has not gone out; returns the channels cancelled."""
    values = {"dispatch_token": None}
    return _move_post(db, post_id, channel, CANCELLABLE, S.CANCELLED, values, "cancel", now=now, actor=actor)


def retry_post(
    db: Database, post_id: int, *, now: datetime, channel: str | None = None, actor: str | None = None
) -> list[str]:
    """Send failed, cancelled or needs-attention publications again, now; returns their channels."""
    values = {"due_at": now, "attempts": 0, "next_attempt_at": None, "dispatch_token": None}
    # what lacks its sign-off goes back to awaiting_signoff in the same transaction
    return _move_post(
        db, post_id, channel, RETRYABLE, S.SCHEDULED, values, "retry", now=now, actor=actor, then=signoff.settle
    )


def _move_post(
    db: Database,
    post_id: int,
    channel: str | None,
    movable: frozenset[PublicationState],
    to: PublicationState,
    values: dict[str, Any],
    verb: str,
    *,
    now: datetime,
    actor: str | None,
    then: Callable[..., None] | None = None,
) -> list[str]:
    """A user's action on a post's publications (one channel, or all): those it applies to move,
    and the channels are returned; if it applies to none, StateConflict says why."""
    with db.transaction() as session:
        post = signoff.load_post(session, post_id)
        signoff.require_editor_of(session, actor, post, verb)
        chosen = _publications(post, channel)
        applicable = [p for p in chosen if p.state in movable]
        if not applicable:
            states = ", ".join(f"{p.channel.name} is {p.state}" for p in chosen)
            raise StateConflict(f"nothing to {verb} in post {post_id}: {states}")
        names = {p.id: p.channel.name for p in applicable}
        moved = transition(session, applicable, to, now=now, values=values, message=f"{verb} requested", actor=actor)
        if then is not None:
            then(session, post, now=now, actor=actor)
        return [names[i] for i in moved]


# -- reading -------------------------------------------------------------------------------------


def publication_view(publication: Publication) -> dict[str, Any]:
    due_local = None
    if publication.due_zone:
        due_local = publication.due_at.astimezone(get_zone(publication.due_zone)).isoformat()
    return {
        "id": publication.id,
        "channel": publication.channel.name,
        "platform": publication.channel.platform,
        "dry_run": publication.channel.dry_run,
        "state": publication.state,
        "due_at": publication.due_at.isoformat(),
        "due_zone": publication.due_zone,
        "due_local": due_local,
        "attempts": publication.attempts,
        "remote_id": publication.remote_id,
        "remote_url": publication.remote_url,
        "published_at": publication.published_at.isoformat() if publication.published_at else None,
        "last_error": publication.last_error,
        "from_queue": publication.from_queue,
        "content": signoff.content_of(publication)[1],
    }


def post_view(post: Post) -> dict[str, Any]:
    return {
        "id": post.id,
        "text": post.text,
        "title": post.title,
        "link": post.link,
        "language": post.language,
        "author": post.author,
        "version": post.version,
        "content_hash": post.content_hash,
        "review": post.review,
        "importance": post.importance,
        "format": post.format,
        "priority": post.priority,
        "variants": [
            {"language": v.language, "channel_id": v.channel_id, "text": v.text, "content_hash": v.content_hash}
            for v in post.variants
        ],
        "created_at": post.created_at.isoformat(),
        "media": [
            {
                "name": m.original_name,
                "kind": m.kind,
                "mime": m.mime,
                "bytes": m.bytes,
                "alt_text": m.alt_text,
                **({} if (focus := media_store.focus_of(m)) is None else {"focus": list(focus)}),
            }
            for m in post.media
        ],
        "publications": [publication_view(p) for p in post.publications],
    }


def show_post(db: Database, post_id: int) -> dict[str, Any]:
    with db.read() as session:
        view = post_view(signoff.load_post(session, post_id, lock=False))
        return {**view, "requeued": timetable.requeued(session, post_id)}  # moves by the queue of over a day


def read_events(db: Database, *, after: int = 0, limit: int = 200, post_id: int | None = None) -> list[Event]:
    with db.read() as session:
        query = select(Event).where(Event.id > after).order_by(Event.id).limit(limit)
        if post_id is not None:
            query = query.where(Event.post_id == post_id)
        return list(session.scalars(query))
