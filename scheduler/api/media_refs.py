"""Media a request names: files uploaded first (``POST /api/v1/media``), referred to by their id.

An upload is checked (``media_store.check``: it decodes, it fits the limits) and kept under
``<data_dir>/uploads/<sha256><ext>`` with its original name beside it (``<sha256>.name``) and what
the check found (``<sha256>.meta``, JSON); a post
created with it copies it into the content-addressed media store, as a file named on the command
line would be.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

from pydantic import BaseModel, ConfigDict, Field

from scheduler.errors import InvalidInput
from scheduler.runtime import Runtime

if TYPE_CHECKING:
    from scheduler.posts import MediaInput

MEDIA_ID = re.compile(r"^[0-9a-f]{64}$")
Fraction = Annotated[float, Field(ge=0, le=1)]


class MediaRef(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=r"^[0-9a-f]{64}$", description="The id POST /media answered (the file's SHA-256)")
    alt_text: str | None = Field(None, max_length=5000, description="What the image or video shows, for screen readers")
    focus: tuple[Fraction, Fraction] | None = Field(
        None,
        description="The point every crop keeps, [x, y]: 0..1 from the left and from the top "
        "(default: the subject found automatically)",
        examples=[[0.8, 0.4]],
    )


def uploads_dir(runtime: Runtime) -> Path:
    return runtime.settings.data_dir / "uploads"


def name_file(folder: Path, media_id: str) -> Path:
    """The upload's original name, beside it."""
    return folder / f"{media_id}.name"


def metadata_file(folder: Path, media_id: str) -> Path:
    """What the upload's check found (kind, type, size, dimensions), as JSON beside it."""
    return folder / f"{media_id}.meta"


SIDECARS = frozenset({".name", ".meta"})


def uploaded(runtime: Runtime, media_id: str) -> Path:
    """The uploaded file with this id, or ``InvalidInput`` naming it."""
    if not MEDIA_ID.match(media_id):
        raise InvalidInput(f"media id {media_id!r} is not a media id (64 hex characters)")
    found = [p for p in uploads_dir(runtime).glob(f"{media_id}.*") if p.suffix not in SIDECARS]
    if not found:
        raise InvalidInput(f"no uploaded media {media_id}; upload it first with POST /api/v1/media")
    return found[0]


@contextmanager
def media_inputs(runtime: Runtime, refs: Sequence[MediaRef]) -> Iterator[list[MediaInput]]:
    """``posts.MediaInput`` for each reference, for the duration of the block."""
    from scheduler.posts import MediaInput

    inputs: list[MediaInput] = []
    for ref in refs:
        path = uploaded(runtime, ref.id)
        name_file = path.with_suffix(".name")
        name = name_file.read_text(encoding="utf-8").strip() if name_file.exists() else path.name
        inputs.append(MediaInput(path=path, alt_text=ref.alt_text, name=name, focus=ref.focus))
    yield inputs
