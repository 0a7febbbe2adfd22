"""Renditions made ahead of time: each publication's media is adapted for its channel long before
the due time, so publishing never waits for a transcode and never sends an unadapted file.

A publication with media starts with ``media_ready`` false. The dispatcher's sweep asks for its
renditions (``needing_media``, with a request time as a lease that ``render`` renews while it
works, so only a lost request is asked again); ``render`` makes them and marks the row ready;
``claim_due`` only dispatches ready rows. Nothing waits silently: when the media cannot be made
to fit the channel, when rendering raises anything at all, or when ``RENDER_TRIES`` requests in
a row were lost (a render that kills its process, a queue no worker reads), the row goes to
``needs_attention`` saying why, with an event.
"""

from __future__ import annotations

import logging
import mimetypes
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import ColumnElement, Select, delete, func, insert, select, update
from sqlalchemy.orm import Session

from media import renditions as rendering
from media.files import file_sha256
from media.specs import SPECS
from scheduler.errors import InvalidInput, InvalidMedia
from scheduler.media_store import focus_of
from scheduler.publishing.content import MediaItem
from scheduler.publishing.publications import in_states
from scheduler.publishing.states import PublicationState
from scheduler.publishing.transitions import record_event, transition
from scheduler.settings import Settings
from scheduler.store import Channel, Database, Event, Post, PostMedia, Publication, Rendition

log = logging.getLogger(__name__)
S = PublicationState
# Renditions are made while a post waits for its sign-off too: an approver's preview shows them, and
# a post signed just before its due time is not late by a transcode.
# (in the order ix_publications_needing_media's WHERE lists them)
WAITING_STATES = (S.AWAITING_SIGNOFF, S.SCHEDULED, S.RETRY_WAIT)
WAITING = tuple(state.value for state in WAITING_STATES)
RENDITION_DIR = "renditions"
# Requests in a row that ran out without renditions (each after ``render_lease``) before a person
# is told: a render that is still working renews its request, so only lost ones count.
RENDER_TRIES = 3
REQUESTED = "publication.media_requested"


def needs_renditions(platform: str) -> bool:
    spec = SPECS.get(platform)
    return spec is not None and any((spec.image, spec.video, spec.thumbnail))


def needing_media(db: Database, *, now: datetime, settings: Settings) -> list[int]:
    """Rows waiting for renditions that nobody is making right now; marks them as requested.

    A row whose last ``RENDER_TRIES`` requests all ran out goes to ``needs_attention`` instead."""
    stale = now - timedelta(seconds=settings.render_lease)
    with db.transaction() as session:
        # never asked, then asked too long ago: two index ranges, so renders in progress are not read
        rows: list[Any] = []
        for requested in (Publication.media_requested_at.is_(None), Publication.media_requested_at < stale):
            if len(rows) < settings.dispatch_batch:
                rows += session.execute(_waiting_for_media(session, requested, settings.dispatch_batch - len(rows)))
        if not rows:
            return []
        tries = _requests_in_a_row(session, [row.id for row in rows])
        spent = [row for row in rows if tries.get(row.id, 0) >= RENDER_TRIES]
        asked = [row for row in rows if tries.get(row.id, 0) < RENDER_TRIES]
        for row in spent:
            minutes = RENDER_TRIES * settings.render_lease / 60
            reason = (
                f"media for {row.name}: the renditions were asked for {RENDER_TRIES} times over {minutes:.0f} min "
                "and never made (the process making them died, or no worker takes the media queue); "
                "`crosspost post retry` asks again"
            )
            _hold(session, row, reason, now=now)
        ids = [row.id for row in asked]
        if ids:
            session.execute(update(Publication).where(Publication.id.in_(ids)).values(media_requested_at=now))
            for row in asked:
                attempt = tries.get(row.id, 0) + 1
                record_event(
                    session,
                    REQUESTED,
                    now=now,
                    post_id=row.post_id,
                    publication_id=row.id,
                    channel_id=row.channel_id,
                    actor="media",
                    message=f"renditions for {row.name} asked for"
                    + (f" again ({attempt} of {RENDER_TRIES}): the last request ran out" if attempt > 1 else ""),
                )
        return ids


def _waiting_for_media(session: Session, requested: ColumnElement[bool], limit: int) -> Select[int, str, int, int, str]:
    query = (
        select(Publication.id, Publication.state, Publication.post_id, Publication.channel_id, Channel.name)
        .join(Channel, Channel.id == Publication.channel_id)
        .where(Publication.media_ready.is_(False), in_states(*WAITING_STATES), requested)
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(of=Publication, skip_locked=True)
    return query


def _requests_in_a_row(session: Session, ids: list[int]) -> dict[int, int]:
    """How many times each publication's renditions were asked for since it last changed state."""
    since = (
        select(Event.publication_id, func.max(Event.id).label("since"))
        .where(Event.publication_id.in_(ids), Event.to_state.is_not(None))
        .group_by(Event.publication_id)
        .subquery()
    )
    counted = session.execute(
        select(Event.publication_id, func.count())
        .join(since, since.c.publication_id == Event.publication_id)
        .where(Event.kind == REQUESTED, Event.id > since.c.since)
        .group_by(Event.publication_id)
    )
    return {publication_id: count for publication_id, count in counted if publication_id is not None}


def _hold(session: Session, row: Any, reason: str, *, now: datetime) -> None:
    """The row waits for a person, saying why; its renditions are asked for anew after `post retry`."""
    transition(
        session,
        [row],
        S.NEEDS_ATTENTION,
        now=now,
        values={"last_error": reason, "media_requested_at": None},
        message=reason,
        actor="media",
    )


def render(db: Database, publication_id: int, *, settings: Settings, clock: Callable[[], datetime]) -> bool:
    """Make the renditions one publication needs; True when it is ready to dispatch.

    Whatever goes wrong with the media (it cannot fit the channel, or rendering raises anything at
    all) moves the row to ``needs_attention`` with the reason: nothing is left to be asked again
    for ever."""
    with db.transaction() as session:
        row = session.execute(
            select(Publication.state, Publication.media_ready, Channel.platform, Channel.name, Channel.options)
            .join(Channel, Channel.id == Publication.channel_id)
            .where(Publication.id == publication_id)
        ).one_or_none()
        if row is None or row.media_ready or row.state not in WAITING:
            return bool(row and row.media_ready)
        media = list(
            session.scalars(
                select(PostMedia)
                .join(Post, Post.id == PostMedia.post_id)
                .join(Publication, Publication.post_id == Post.id)
                .where(Publication.id == publication_id)
                .order_by(PostMedia.position)
            )
        )
    made: list[dict[str, object]] = []
    try:
        with _renewing(db, publication_id, settings, clock):
            made = _make(media, row.platform, row.options or {}, publication_id, settings, clock())
    except Exception as exc:
        if isinstance(exc, InvalidInput):
            reason = f"media for {row.name}: {exc}"
        else:  # a bug, a decoder's error, memory: said once, to a person, not retried for ever
            log.exception("publication %s: rendering its media for %s failed", publication_id, row.name)
            reason = f"media for {row.name}: the renditions could not be made ({type(exc).__name__}: {exc})"
        with db.transaction() as session:
            rows = session.execute(
                select(Publication.id, Publication.state, Publication.post_id, Publication.channel_id).where(
                    Publication.id == publication_id, Publication.state.in_(WAITING)
                )
            ).all()
            for waiting in rows:
                _hold(session, waiting, reason, now=clock())
        return False
    with db.transaction() as session:
        session.execute(delete(Rendition).where(Rendition.publication_id == publication_id))
        if made:
            session.execute(insert(Rendition), made)
        session.execute(
            update(Publication)
            .where(Publication.id == publication_id, Publication.media_ready.is_(False))
            .values(media_ready=True, updated_at=clock())
        )
    return True


def _make(
    media: list[PostMedia],
    platform: str,
    options: dict[str, object],
    publication_id: int,
    settings: Settings,
    now: datetime,
) -> list[dict[str, object]]:
    """The renditions of ``media`` for one channel, as rendition rows in the order they are sent;
    InvalidMedia when one breaks the platform's rules."""
    mode = str(options.get("framing", "crop"))
    # YouTube: a vertical clip becomes a 9:16 Short unless the channel says shorts=false
    shorts = str(options.get("shorts", "true")).lower() not in ("false", "0", "no")
    made: list[dict[str, object]] = []
    for item in media:
        for rendition in rendering.adapt(
            settings.media_store / item.path,
            platform,
            settings.media_store / RENDITION_DIR,
            mode=mode,
            focus=focus_of(item),  # a person's choice; None: the subject found automatically
            shorts=shorts,
        ):
            if rendition.kind == "cover":
                continue  # kept for previews; platforms take the video and, on YouTube, a thumbnail
            if rendition.problems:  # never sent as it is: the platform would refuse it, or worse
                raise InvalidMedia(
                    f"{item.original_name}: its {rendition.kind} for {SPECS[platform].label} breaks "
                    f"the platform's rules: {'; '.join(rendition.problems)}"
                )
            made.append(_row(rendition, item, publication_id, len(made), settings, now))
    order = {"video": 0, "image": 1, "thumbnail": 2}  # the upload first, its thumbnail last
    made.sort(key=lambda entry: (order.get(str(entry["kind"]), 3), int(str(entry["position"]))))
    for position, entry in enumerate(made):
        entry["position"] = position
    return made


def preview_renditions(
    db: Database, publication_id: int, *, settings: Settings, clock: Callable[[], datetime]
) -> tuple[MediaItem, ...]:
    """The renditions a publication will be sent, made now (content-addressed: the pipeline's
    render finds the same files) without recording anything: for a preview before sign-off."""
    with db.transaction() as session:
        row = session.execute(
            select(Channel.platform, Channel.options)
            .join(Publication, Publication.channel_id == Channel.id)
            .where(Publication.id == publication_id)
        ).one()
        media = list(
            session.scalars(
                select(PostMedia)
                .join(Publication, Publication.post_id == PostMedia.post_id)
                .where(Publication.id == publication_id)
                .order_by(PostMedia.position)
            )
        )
    made = _make(media, row.platform, row.options or {}, publication_id, settings, clock())
    return tuple(
        MediaItem(
            path=settings.media_store / str(entry["path"]),
            original_name=str(entry["original_name"]),
            kind=str(entry["kind"]),
            mime=str(entry["mime"]),
            bytes=int(str(entry["bytes"])),
            sha256=str(entry["sha256"]),
            width=None if entry["width"] is None else int(str(entry["width"])),
            height=None if entry["height"] is None else int(str(entry["height"])),
            alt_text=None if entry["alt_text"] is None else str(entry["alt_text"]),
        )
        for entry in made
    )


@contextmanager
def _renewing(db: Database, publication_id: int, settings: Settings, clock: Callable[[], datetime]) -> Iterator[None]:
    """Renew the render request every ``render_lease / 4`` while this render works, so a long
    transcode is not asked for again (nor counted as lost); a render that dies stops renewing."""
    done = threading.Event()

    def renew() -> None:
        while not done.wait(settings.render_lease / 4):
            try:
                with db.transaction() as session:
                    session.execute(
                        update(Publication)
                        .where(Publication.id == publication_id, Publication.media_ready.is_(False))
                        .values(media_requested_at=clock())
                    )
            except Exception:
                log.exception("publication %s: renewing its render request failed; trying again", publication_id)

    thread = threading.Thread(target=renew, name=f"crosspost-render-{publication_id}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join()


def _row(
    rendition: rendering.Rendition,
    item: PostMedia,
    publication_id: int,
    position: int,
    settings: Settings,
    now: datetime,
) -> dict[str, object]:
    return {
        "publication_id": publication_id,
        "position": position,
        "kind": rendition.kind,
        "path": rendition.path.relative_to(settings.media_store).as_posix(),
        "original_name": f"{Path(item.original_name).stem}-{rendition.channel}-{rendition.kind}{rendition.path.suffix}",
        "mime": mimetypes.guess_type(rendition.path.name)[0] or "application/octet-stream",
        "bytes": rendition.path.stat().st_size,
        "sha256": file_sha256(rendition.path),
        "width": rendition.width,
        "height": rendition.height,
        "alt_text": item.alt_text,
        "created_at": now,
    }
