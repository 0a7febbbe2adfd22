"""Reading the files people name on the command line: one clear line for every way it can fail."""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from scheduler.documents import MAX_NESTING, nesting
from scheduler.errors import InvalidInput

if TYPE_CHECKING:
    from scheduler.posts import MediaInput
    from scheduler.settings import Settings


def read_text(path: Path, what: str, *, max_bytes: int = 1_000_000) -> str:
    """The file's text (UTF-8), or InvalidInput saying why it cannot be read."""
    try:
        with path.open("rb") as handle:
            data = handle.read(max_bytes + 1)
    except FileNotFoundError:
        raise InvalidInput(f"{what} {path} does not exist") from None
    except IsADirectoryError:
        raise InvalidInput(f"{what} {path} is a directory") from None
    except OSError as error:
        raise InvalidInput(f"{what} {path} cannot be read: {error.strerror or error}") from None
    if len(data) > max_bytes:
        raise InvalidInput(f"{what} {path} is over {max_bytes:,} bytes; it cannot be one")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as bad:
        raise InvalidInput(f"{what} {path} is not UTF-8 text (byte {bad.start + 1})") from None


def json_object(path: Path, what: str) -> dict[str, Any]:
    """A JSON object from the file: refused if it is not one, is nested absurdly deep, or holds text
    that is not Unicode (a lone surrogate escape such as \\ud800 cannot be stored or printed)."""
    text = read_text(path, what)
    try:
        data = json.loads(text)
    except RecursionError:
        raise InvalidInput(f"{what} {path} is nested too deeply") from None
    except ValueError as error:
        raise InvalidInput(f"{what} {path} is not valid JSON: {error}") from None
    if not isinstance(data, dict):
        raise InvalidInput(f"{what} {path} must hold a JSON object")
    if nesting(data) > MAX_NESTING:
        raise InvalidInput(f"{what} {path} is nested more than {MAX_NESTING} levels deep")
    try:
        json.dumps(data, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidInput(f"{what} {path} holds a \\\\uD800-style escape that is not a Unicode character") from None
    return data


def focus_point(text: str) -> tuple[float, float] | None:
    """``--focus X,Y`` (0..1 each, from the left and from the top); ``auto`` for the subject found
    automatically, to give a focus for a later file only."""
    if text.strip().lower() == "auto":
        return None
    try:
        x, y = (float(part) for part in text.split(","))
    except ValueError:
        raise InvalidInput(
            f"--focus {text!r}: write it as X,Y with numbers between 0 and 1, e.g. 0.3,0.4 (or auto)"
        ) from None
    if not (0.0 <= x <= 1.0 and 0.0 <= y <= 1.0):
        raise InvalidInput(f"--focus {text!r}: X and Y must each be between 0 and 1 (from the left, from the top)")
    return (x, y)


@contextmanager
def media_inputs(
    media: list[str] | None, alt: list[str] | None, settings: Settings, focus: list[str] | None = None
) -> Iterator[list[MediaInput] | None]:
    """``--media`` (files or http(s) URLs), with ``--alt`` and ``--focus`` (in the same order), as
    media inputs, None when no ``--media`` was given. URLs are fetched with media.fetch's limits and
    safety checks into this command's own folder, removed when the command ends whatever happens:
    the store keeps its own content-addressed copy."""
    from media.fetch import fetch, is_url
    from scheduler.posts import MediaInput

    files, alts = media or [], alt or []
    if len(alts) > len(files):
        raise InvalidInput(f"{len(alts)} --alt texts for {len(files)} --media files")
    if len(focus or []) > len(files):
        raise InvalidInput(f"{len(focus or [])} --focus points for {len(files)} --media files")
    points = [focus_point(text) for text in focus or []]
    if media is None:
        yield None
        return
    downloads = None
    if any(is_url(item) for item in files):
        parent = settings.data_dir / "downloads"
        parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        downloads = Path(tempfile.mkdtemp(dir=parent))
    try:
        paths = [
            fetch(
                item,
                downloads,
                max_bytes=settings.max_media_bytes,
                timeout=settings.media_fetch_timeout,
                allowed_hosts=settings.media_allowed_hosts,
            )
            if downloads is not None and is_url(item)
            else Path(item)
            for item in files
        ]
        yield [
            MediaInput(path, alts[i] if i < len(alts) else None, focus=points[i] if i < len(points) else None)
            for i, path in enumerate(paths)
        ]
    finally:
        if downloads is not None:
            shutil.rmtree(downloads, ignore_errors=True)
