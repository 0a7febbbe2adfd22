"""Path parameters every router shares: ids are bounded, so no input reaches the database as an
integer it cannot hold."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path

MAX_ID = 2**31 - 1

PostId = Annotated[int, Path(ge=1, le=MAX_ID, description="A post's id")]
PublicationId = Annotated[int, Path(ge=1, le=MAX_ID, description="A publication's id (one post on one channel)")]
ShareId = Annotated[int, Path(ge=1, le=MAX_ID, description="A share's id")]
RenditionId = Annotated[int, Path(ge=1, le=MAX_ID, description="A rendition's id")]
