"""Renditions made ahead of time: each publication's media is adapted for its channel long before
the due time, so publishing never waits for a transcode and never sends an unadapted file.

A publication with media starts with ``media_ready`` false. The dispatcher's sweep asks for its
renditions (``needing_media``, with a request time as a lease, so a lost request is asked again);
``render`` makes them and marks the row ready; ``claim_due`` only dispatches ready rows. When the
media cannot be made to fit the channel, the row goes to ``needs_attention`` saying why.
"""

from __future__ import annotations

import mimetypes
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import delete, insert, select, update

from media import renditions as rendering
from media.files import file_sha256
from media.specs import SPECS
from scheduler.errors import InvalidInput, InvalidMedia
from scheduler.settings import Settings
from scheduler.states import PublicationState
from scheduler.store import Channel, Database, Post, PostMedia, Publication, Rendition
from scheduler.transitions import transition

S = PublicationState
WAITING = (S.SCHEDULED.value, S.RETRY_WAIT.value)
RENDITION_DIR = "renditions"


def needs_renditions(platform: str) -> bool:
    spec = SPECS.get(platform)
    return spec is not None and any((spec.image, spec.video, spec.thumbnail))


def needing_media(db: Database, *, now: datetime, settings: Settings) -> list[int]:
    """Rows waiting for renditions that nobody is making right now; marks them as requested."""
    stale = now - timedelta(seconds=settings.render_lease)
    with db.transaction() as session:
        query = (
            select(Publication.id)
            .where(
                Publication.media_ready.is_(False),
                Publication.state.in_(WAITING),
                (Publication.media_requested_at.is_(None)) | (Publication.media_requested_at < stale),
            )
            .limit(settings.dispatch_batch)
        )
        if session.get_bind().dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True)
        ids = list(session.scalars(query))
        if ids:
            session.execute(update(Publication).where(Publication.id.in_(ids)).values(media_requested_at=now))
        return ids


def render(db: Database, publication_id: int, *, settings: Settings, clock: Callable[[], datetime]) -> bool:
    """Make the renditions one publication needs; True when it is ready to dispatch."""
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
    options = row.options or {}
    mode = str(options.get("framing", "crop"))
    # YouTube: a vertical clip becomes a 9:16 Short unless the channel says shorts=false
    shorts = str(options.get("shorts", "true")).lower() not in ("false", "0", "no")
    made: list[dict[str, object]] = []
    try:
        for item in media:
            for rendition in rendering.adapt(
                settings.media_store / item.path,
                row.platform,
                settings.media_store / RENDITION_DIR,
                mode=mode,
                shorts=shorts,
            ):
                if rendition.kind == "cover":
                    continue  # kept for previews; platforms take the video and, on YouTube, a thumbnail
                if rendition.problems:  # never sent as it is: the platform would refuse it, or worse
                    raise InvalidMedia(
                        f"{item.original_name}: its {rendition.kind} for {SPECS[row.platform].label} breaks "
                        f"the platform's rules: {'; '.join(rendition.problems)}"
                    )
                made.append(_row(rendition, item, publication_id, len(made), settings, clock()))
    except InvalidInput as refused:
        with db.transaction() as session:
            rows = session.execute(
                select(Publication.id, Publication.state, Publication.post_id, Publication.channel_id).where(
                    Publication.id == publication_id, Publication.state.in_(WAITING)
                )
            ).all()
            transition(
                session,
                rows,
                S.NEEDS_ATTENTION,
                now=clock(),
                values={"last_error": f"media for {row.name}: {refused}"},
                message=f"media for {row.name}: {refused}",
                actor="media",
            )
        return False
    order = {"video": 0, "image": 1, "thumbnail": 2}  # the upload first, its thumbnail last
    made.sort(key=lambda entry: (order.get(str(entry["kind"]), 3), int(str(entry["position"]))))
    for position, entry in enumerate(made):
        entry["position"] = position
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
