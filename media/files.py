"""Facts about a media file that several steps need: what container it is, and its hash."""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path

_QUICKTIME_BRANDS = {b"qt  "}
_MATROSKA_MAGIC = b"\x1a\x45\xdf\xa3"  # WebM and Matroska


def sniff_video(path: Path) -> tuple[str, str] | None:
    """(mime, extension) when ``path`` is an MP4, MOV or WebM container by its signature, else None."""
    with path.open("rb") as handle:
        head = handle.read(16)
    if head[4:8] == b"ftyp":  # ISO base media: an "ftyp" box at offset 4
        return ("video/quicktime", ".mov") if head[8:12] in _QUICKTIME_BRANDS else ("video/mp4", ".mp4")
    if head.startswith(_MATROSKA_MAGIC):
        return "video/webm", ".webm"
    return None


def file_sha256(path: Path) -> str:
    """The file's SHA-256, read once however many renditions are made from it (keyed by mtime and size)."""
    stat = path.stat()
    return _sha256(str(path), stat.st_mtime_ns, stat.st_size)


@functools.lru_cache(maxsize=64)
def _sha256(name: str, _mtime: int, _size: int) -> str:
    digest = hashlib.sha256()
    with Path(name).open("rb") as handle:
        for block in iter(lambda: handle.read(1024 * 1024), b""):
            digest.update(block)
    return digest.hexdigest()
