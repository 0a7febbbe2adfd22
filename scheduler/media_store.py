"""Taking media files into the content-addressed store (``<media_dir>/<sha[:2]>/<sha><ext>``).

Images are decoded (``media.images.read_image``) to prove they are images (a text file named
.jpg, a truncated file or a decompression bomb is refused);
videos are recognised by their container signature. The media issue adds deep checks and
renditions; this keeps broken files out of the queue from the start.
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from PIL import Image

from media.files import file_sha256, sniff_video
from media.images import read_image
from scheduler.content import MediaItem
from scheduler.errors import InvalidMedia


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

    @classmethod
    def from_row(cls, row: Any) -> StoredMedia:
        """From anything with these attributes: a ``PostMedia`` row, or a query row."""
        return cls(**{field.name: getattr(row, field.name) for field in fields(cls)})

    def as_item(self, store: Path) -> MediaItem:
        values = asdict(self)
        values["path"] = store / self.path
        return MediaItem(**values)


def _probe_image(path: Path, max_bytes: int) -> tuple[str, str, int, int]:
    loaded = read_image(path, max_bytes=max_bytes)  # refuses damaged, fake and bomb files
    mime = Image.MIME.get(loaded.format, f"image/{loaded.format.lower()}")
    extension = {"JPEG": ".jpg"}.get(loaded.format, f".{loaded.format.lower()}")
    return mime, extension, loaded.image.width, loaded.image.height


def ingest(
    source: Path, store: Path, *, max_bytes: int, alt_text: str | None = None, name: str | None = None
) -> StoredMedia:
    """Check ``source`` and copy it into the store; raises InvalidMedia naming the file and the problem.

    ``name`` is the name the user knows the file by, when ``source`` is a copy (a shared post's media)."""
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
        kind, (mime, extension) = "video", video
    else:
        kind = "image"
        mime, extension, width, height = _probe_image(source, max_bytes)
    sha = file_sha256(source)
    relative = Path(sha[:2]) / f"{sha}{extension}"
    target = store / relative
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        # copy then rename: a crash never leaves a half-written file under the final name
        with tempfile.NamedTemporaryFile(dir=target.parent, delete=False) as staging, source.open("rb") as handle:
            shutil.copyfileobj(handle, staging)
        Path(staging.name).replace(target)
    return StoredMedia(
        path=relative.as_posix(),
        original_name=name or source.name,
        sha256=sha,
        kind=kind,
        mime=mime,
        bytes=size,
        width=width,
        height=height,
        alt_text=alt_text,
    )
