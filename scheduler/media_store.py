"""Taking media files into the content-addressed store (``<media_dir>/<sha[:2]>/<sha><ext>``).

Images are decoded whole (``media.images.read_image``) to prove they are images (a text file named
.jpg, a truncated file, a decompression bomb or a 1x1 pixel is refused); videos are recognised
by their container signature, checked against the limits of ``media.video`` from their headers,
and their first frames decoded (``media.video.verify``). This keeps files that cannot be
rendered out of the queue from the start: a refused post stores nothing.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, fields
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from PIL import Image
from sqlalchemy import select, text

from media.files import file_sha256, sniff_video
from media.images import read_image
from media.video import verify as verify_video
from scheduler.errors import InvalidMedia
from scheduler.publishing.content import MediaItem
from scheduler.store import CampaignMedia, Database, PostMedia

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class StoredMedia:
    path: str  # relative to the media store
    original_name: str
    sha256: str
    kind: str
    mime: str
    bytes: int
    width: int | None
    height: int | None
    alt_text: str | None
    # the point every crop of it keeps (0..1 from the left, from the top); None: found automatically
    focus_x: float | None = None
    focus_y: float | None = None

    @classmethod
    def from_row(cls, row: Any) -> StoredMedia:
        """From anything with these attributes: a ``PostMedia`` or ``CampaignMedia`` row, or a query
        row (one without the focus columns, a rendition's, reads as having none)."""
        values: dict[str, Any] = {
            field.name: getattr(row, field.name) if field.name not in FOCUS else getattr(row, field.name, None)
            for field in fields(cls)
        }
        return cls(**values)

    @property
    def focus(self) -> tuple[float, float] | None:
        return None if self.focus_x is None or self.focus_y is None else (self.focus_x, self.focus_y)

    def as_item(self, store: Path) -> MediaItem:
        values = asdict(self)
        for name in FOCUS:  # the renditions hold the focus: what is sent is already cropped
            del values[name]
        values["path"] = store / self.path
        return MediaItem(**values)


FOCUS = ("focus_x", "focus_y")


def focus_of(row: Any) -> tuple[float, float] | None:
    """A stored file's focus (a ``PostMedia`` or ``CampaignMedia`` row), None when it has none."""
    return StoredMedia.from_row(row).focus


def _probe_image(path: Path, max_bytes: int) -> tuple[str, str, int, int]:
    loaded = read_image(path, max_bytes=max_bytes)  # refuses damaged, fake and bomb files
    mime = Image.MIME.get(loaded.format, f"image/{loaded.format.lower()}")
    extension = {"JPEG": ".jpg"}.get(loaded.format, f".{loaded.format.lower()}")
    return mime, extension, loaded.image.width, loaded.image.height


def check(
    source: Path,
    *,
    max_bytes: int,
    alt_text: str | None = None,
    name: str | None = None,
    focus: tuple[float, float] | None = None,
) -> StoredMedia:
    """Every check ``source`` must pass, and where it would be stored; writes nothing. Raises
    InvalidMedia naming the file and the problem.

    ``name`` is the name the user knows the file by, when ``source`` is a copy (a shared post's media).
    ``focus`` is the point (x, y, each 0..1) its crops keep instead of the subject found automatically."""
    if focus is not None and (len(focus) != 2 or not all(0.0 <= value <= 1.0 for value in focus)):
        raise InvalidMedia(
            f"{name or source.name}: focus {tuple(focus)} must be two numbers between 0 and 1 "
            "(x from the left, y from the top)"
        )
    if not source.is_file():
        raise InvalidMedia(f"{source}: no such file")
    size = source.stat().st_size
    if size == 0:
        raise InvalidMedia(f"{source.name}: the file is empty")
    if size > max_bytes:
        raise InvalidMedia(f"{source.name}: {size} bytes is over the limit of {max_bytes} bytes")
    video = sniff_video(source)
    width = height = None
    if video is not None:
        verify_video(source)  # the limits of media.video, and the first frames decode
        kind, (mime, extension) = "video", video
    else:
        kind = "image"
        mime, extension, width, height = _probe_image(source, max_bytes)
    sha = file_sha256(source)
    return StoredMedia(
        path=(Path(sha[:2]) / f"{sha}{extension}").as_posix(),
        original_name=name or source.name,
        sha256=sha,
        kind=kind,
        mime=mime,
        bytes=size,
        width=width,
        height=height,
        alt_text=alt_text,
        focus_x=None if focus is None else float(focus[0]),
        focus_y=None if focus is None else float(focus[1]),
    )


def keep(files: Sequence[tuple[Path, StoredMedia]], store: Path) -> list[str]:
    """Copy each checked source into the store, unless it is there already; returns the paths
    (relative to the store) this call added, for ``discard`` should the post not be stored."""
    added = []
    for source, stored in files:
        target = store / stored.path
        if target.exists():
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        # copy then rename: a crash never leaves a half-written file under the final name; the
        # copy is hashed as it is written, so a file changed since it was checked is not kept
        with tempfile.NamedTemporaryFile(dir=target.parent, delete=False) as staging:
            staged = Path(staging.name)
            try:
                digest = hashlib.sha256()
                with source.open("rb") as handle:
                    for block in iter(lambda: handle.read(1024 * 1024), b""):
                        digest.update(block)
                        staging.write(block)
            except BaseException:
                staged.unlink(missing_ok=True)
                raise
        if digest.hexdigest() != stored.sha256:
            staged.unlink(missing_ok=True)
            raise InvalidMedia(f"{stored.original_name}: the file changed while it was being stored; try again")
        staged.replace(target)
        added.append(stored.path)
    return added


@contextmanager
def storing(db: Database, files: Sequence[tuple[Path, StoredMedia]], store: Path) -> Iterator[Callable[[], None]]:
    """The checked ``files`` in the store for the block that stores their post: copied on entry
    (outside any write transaction), removed again if the block raises, so a refused post leaves
    nothing behind. Yields a function that copies them again where one has gone meanwhile: call
    it once the post's media rows are written, inside the transaction."""
    added = keep(files, store)

    def again() -> None:
        added.extend(keep(files, store))

    try:
        yield again
    except BaseException:
        try:
            discard(db, added, store)
        except Exception:  # the post's own error is the one to report
            log.exception("could not remove the media of a post that was not stored: %s", added)
        raise


def discard(db: Database, paths: Sequence[str], store: Path) -> None:
    """Remove files ``keep`` added for a post (or campaign) that was then not stored, unless a post
    or a campaign uses them (one with the same file may have been stored meanwhile: the store is
    by content)."""
    if not paths:
        return
    with db.transaction() as session:
        if session.get_bind().dialect.name == "postgresql":
            # a post or campaign being stored with the same file commits first, or waits until it is
            # gone (and then copies it again: both call keep again inside their transaction)
            session.execute(text("LOCK TABLE post_media, campaign_media IN SHARE MODE"))
        used = set(session.scalars(select(PostMedia.path).where(PostMedia.path.in_(paths))))
        used |= set(session.scalars(select(CampaignMedia.path).where(CampaignMedia.path.in_(paths))))
        for path in paths:
            if path not in used:
                (store / path).unlink(missing_ok=True)


UPLOAD_KEEP = timedelta(days=7)  # an upload a post has not taken by then was abandoned
UPLOAD_SWEEP_EVERY = timedelta(hours=1)


def sweep_uploads(folder: Path, *, now: datetime, keep: timedelta = UPLOAD_KEEP) -> int:
    """Remove uploads (``<data_dir>/uploads``: files sent to the API or the web composer, then
    copied into the store by the post that uses them) older than ``keep``, and uploads cut off
    mid-way (``.incoming-*``) older than a day; returns how many files went. At most once an hour
    whichever process asks (the ``.swept`` marker's time), so every dispatcher may call it."""
    marker = folder / ".swept"
    if not folder.is_dir():
        return 0
    try:
        if now.timestamp() - marker.stat().st_mtime < UPLOAD_SWEEP_EVERY.total_seconds():
            return 0
    except FileNotFoundError:
        pass
    marker.touch()
    os.utime(marker, (now.timestamp(), now.timestamp()))  # the clock the callers share
    removed = 0
    for path in folder.iterdir():
        try:
            age = now.timestamp() - path.stat().st_mtime
            if path.name.startswith(".incoming-") and path.is_dir() and age > 86400:
                shutil.rmtree(path, ignore_errors=True)
                removed += 1
            elif path.is_file() and path != marker and age > keep.total_seconds():
                path.unlink(missing_ok=True)
                removed += 1
        except FileNotFoundError:  # another process removed it meanwhile
            continue
    return removed
