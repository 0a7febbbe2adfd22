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

import contextlib
import logging
import mimetypes
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Select, delete, func, insert, select, update
from sqlalchemy.orm import Session

from media import raster
from media import renditions as rendering
from media.files import file_sha256
from media.images import MAX_INPUT_BYTES, MAX_PIXELS, MIN_SIDE
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
C = TypeVar("C")
R = TypeVar("R")


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

    A post of images is rendered for all its channels together: the sibling publications still
    waiting for renditions are made in the same call, each source decoded once for all of them,
    and each is stored (or held) on its own exactly as its own call would, which then finds it
    ready. Videos are transcoded per channel, each in its own call.

    Whatever goes wrong with the media (it cannot fit the channel, or rendering raises anything at
    all) moves the row to ``needs_attention`` with the reason: nothing is left to be asked again
    for ever. A sibling's failure holds that sibling only."""
    with db.transaction() as session:
        row = session.execute(
            select(
                Publication.id,
                Publication.post_id,
                Publication.state,
                Publication.media_ready,
                Channel.platform,
                Channel.name,
                Channel.options,
            )
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
        targets = [_Target(row.id, row.platform, row.name, row.options or {})]
        if media and all(item.kind == "image" for item in media):
            targets += [
                _Target(sibling.id, sibling.platform, sibling.name, sibling.options or {})
                for sibling in session.execute(
                    select(Publication.id, Channel.platform, Channel.name, Channel.options)
                    .join(Channel, Channel.id == Publication.channel_id)
                    .where(
                        Publication.post_id == row.post_id,
                        Publication.id != publication_id,
                        Publication.media_ready.is_(False),
                        Publication.state.in_(WAITING),
                    )
                    .order_by(Publication.id)
                )
            ]
    try:
        # the siblings' requests are renewed too: their own calls may wait behind this one
        with _renewing(db, [target.publication_id for target in targets], settings, clock):
            outcomes = _make(media, targets, settings, clock())
    except Exception as exc:  # outside any one channel's rendering: this publication alone, as before
        outcomes = [exc]
        targets = targets[:1]
    for target, outcome in zip(targets, outcomes, strict=True):
        if isinstance(outcome, Exception):
            _failed(db, target, outcome, sibling=target.publication_id != publication_id, clock=clock)
        else:
            _store(db, target.publication_id, outcome, clock=clock)
    return not isinstance(outcomes[0], Exception)


@dataclass(frozen=True)
class _Target:
    """A publication to render for: its channel's platform, name and options."""

    publication_id: int
    platform: str
    name: str
    options: dict[str, object]


def _store(db: Database, publication_id: int, made: list[dict[str, object]], *, clock: Callable[[], datetime]) -> None:
    """Record ``made`` as the publication's renditions and mark it ready, unless it already is.

    Two workers may render the same publication at once (each rendering its own publication and
    its siblings, or a request asked again): the files are the same content-addressed paths,
    each written by an atomic rename, so readers see one whole file. The guarded update comes
    first so that it takes the row's lock (PostgreSQL) or the write lock (SQLite): the second
    writer waits, then finds the row ready and leaves the first one's rows alone, rather than
    both deleting before either inserts and leaving two sets."""
    with db.transaction() as session:
        marked = session.execute(
            update(Publication)
            .where(Publication.id == publication_id, Publication.media_ready.is_(False))
            .values(media_ready=True, updated_at=clock())
        )
        if not marked.rowcount:  # type: ignore[attr-defined]
            return
        session.execute(delete(Rendition).where(Rendition.publication_id == publication_id))
        if made:
            session.execute(insert(Rendition), made)


def _failed(db: Database, target: _Target, exc: Exception, *, sibling: bool, clock: Callable[[], datetime]) -> None:
    if isinstance(exc, InvalidInput):
        reason = f"media for {target.name}: {exc}"
    else:  # a bug, a decoder's error, memory: said once, to a person, not retried for ever
        log.error("publication %s: rendering its media for %s failed", target.publication_id, target.name, exc_info=exc)
        reason = f"media for {target.name}: the renditions could not be made ({type(exc).__name__}: {exc})"
    with db.transaction() as session:
        query = select(Publication.id, Publication.state, Publication.post_id, Publication.channel_id).where(
            Publication.id == target.publication_id, Publication.state.in_(WAITING)
        )
        if sibling:  # one another worker has made meanwhile is left as it is
            query = query.where(Publication.media_ready.is_(False))
        for waiting in session.execute(query).all():
            _hold(session, waiting, reason, now=clock())


def render_together(
    sources: Sequence[Path], channels: Sequence[C], adapt: Callable[[int, C], R]
) -> list[list[R] | Exception]:
    """``adapt(index, channel)`` for every source (by its index) and channel, all of a source's channels while
    one decode of it is kept (``raster.decoded_once``): an image is decoded once for the post
    rather than once per channel. For each channel, what ``adapt`` returned for each source in
    order, or the exception that stopped that channel (the others go on).

    Every image goes through the kept decode, also for one channel alone, so a rendition's
    bytes do not depend on which channels were rendered with it."""
    results: list[list[R] | Exception] = [[] for _ in channels]
    for index, source in enumerate(sources):
        with _decoded_once(source):
            for number, channel in enumerate(channels):
                done = results[number]
                if isinstance(done, Exception):
                    continue
                try:
                    done.append(adapt(index, channel))
                except Exception as exc:
                    results[number] = exc
    return results


def _decoded_once(source: Path) -> contextlib.AbstractContextManager[object]:
    """The kept decode of an image; nothing for a video, nor for a file that cannot be opened:
    each channel then meets the problem on its own and says it as when rendered alone."""
    kept = contextlib.ExitStack()
    try:
        if source.is_file() and not rendering.is_video(source):
            loaded = raster.header(source, max_bytes=MAX_INPUT_BYTES, max_pixels=MAX_PIXELS, min_side=MIN_SIDE)
            kept.enter_context(raster.decoded_once(loaded))  # decodes now: a damaged file is found here
    except Exception:
        kept.close()
        return contextlib.nullcontext()
    return kept


def _make(
    media: list[PostMedia],
    targets: list[_Target],
    settings: Settings,
    now: datetime,
) -> list[list[dict[str, object]] | Exception]:
    """The renditions of ``media`` for each target, as rendition rows in the order they are sent;
    or what stopped a target: InvalidMedia when one breaks its platform's rules."""

    def adapt(index: int, target: _Target) -> list[rendering.Rendition]:
        item = media[index]
        renditions = rendering.adapt(
            sources[index],
            target.platform,
            settings.media_store / RENDITION_DIR,
            mode=str(target.options.get("framing", "crop")),
            focus=focus_of(item),  # a person's choice; None: the subject found automatically
            # YouTube: a vertical clip becomes a 9:16 Short unless the channel says shorts=false
            shorts=str(target.options.get("shorts", "true")).lower() not in ("false", "0", "no"),
        )
        kept = [rendition for rendition in renditions if rendition.kind != "cover"]  # covers: for previews
        for rendition in kept:
            if rendition.problems:  # never sent as it is: the platform would refuse it, or worse
                raise InvalidMedia(
                    f"{item.original_name}: its {rendition.kind} for {SPECS[target.platform].label} breaks "
                    f"the platform's rules: {'; '.join(rendition.problems)}"
                )
        return kept

    sources = [settings.media_store / item.path for item in media]
    outcomes: list[list[dict[str, object]] | Exception] = []
    for target, made in zip(targets, render_together(sources, targets, adapt), strict=True):
        if isinstance(made, Exception):
            outcomes.append(made)
            continue
        rows: list[dict[str, object]] = []
        for item, renditions in zip(media, made, strict=True):
            for rendition in renditions:
                rows.append(_row(rendition, item, target.publication_id, len(rows), settings, now))
        order = {"video": 0, "image": 1, "thumbnail": 2}  # the upload first, its thumbnail last
        rows.sort(key=lambda entry: (order.get(str(entry["kind"]), 3), int(str(entry["position"]))))
        for position, entry in enumerate(rows):
            entry["position"] = position
        outcomes.append(rows)
    return outcomes


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
    (made,) = _make(media, [_Target(publication_id, row.platform, "", row.options or {})], settings, clock())
    if isinstance(made, Exception):
        raise made
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
def _renewing(db: Database, ids: list[int], settings: Settings, clock: Callable[[], datetime]) -> Iterator[None]:
    """Renew the render requests of ``ids`` every ``render_lease / 4`` while this render works, so
    a long transcode is not asked for again (nor counted as lost); a render that dies stops renewing."""
    done = threading.Event()

    def renew() -> None:
        while not done.wait(settings.render_lease / 4):
            try:
                with db.transaction() as session:
                    session.execute(
                        update(Publication)
                        .where(Publication.id.in_(ids), Publication.media_ready.is_(False))
                        .values(media_requested_at=clock())
                    )
            except Exception:
                log.exception("publications %s: renewing their render requests failed; trying again", ids)

    thread = threading.Thread(target=renew, name=f"crosspost-render-{ids[0]}", daemon=True)
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
