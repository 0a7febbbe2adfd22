"""Media: uploads (``POST /media``), their metadata, and the renditions made for each channel.

An upload is streamed to disk as it arrives, never spooled whole first: the endpoint reads the
request body itself (``request.stream()``) and parses ``multipart/form-data`` with
python-multipart's streaming parser, writing the file part to ``<data_dir>/uploads/`` chunk by
chunk. The size limit (``CROSSPOST_MAX_MEDIA_BYTES``) is enforced before the body is read: a
``Content-Length`` over it is answered 413 at once, and a body without one (chunked) is counted
as it streams and refused, its partial file deleted, the moment it passes the limit. The file is
then checked as a file named on the command line is (``media_store.check``: it decodes, it fits
the limits) and kept as ``<sha256><ext>`` with its original name beside it (``media_refs``).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import uuid
from collections.abc import Callable
from pathlib import Path as FilePath
from typing import Annotated, Any, BinaryIO

import anyio.from_thread
from fastapi import APIRouter, Path, Request, Response
from fastapi.responses import FileResponse
from pydantic import BaseModel, Field
from starlette.requests import ClientDisconnect

from scheduler.api.auth import Caller, RuntimeDep
from scheduler.api.media_refs import MEDIA_ID, metadata_file, name_file, uploaded, uploads_dir
from scheduler.api.paths import PostId, RenditionId
from scheduler.api.problems import MEDIA_TYPE, ApiProblem, Problem
from scheduler.api.routes.posts import FILE_TYPES, safe_file
from scheduler.runtime import Runtime

router = APIRouter(tags=["media"])

# room for the multipart framing around the file: boundaries and part headers
FRAMING_ALLOWANCE = 64 * 1024
FILE_FIELD = "file"
MAX_NAME = 255


class UploadedMedia(BaseModel):
    id: str = Field(description="The file's SHA-256: refer to it in a post's media as {'id': ...}")
    kind: str = Field(description="image or video")
    mime: str
    bytes: int
    width: int | None
    height: int | None
    name: str = Field(description="The file's name as uploaded")


def _problem(description: str) -> dict[str, Any]:
    return {"model": Problem, "content": {MEDIA_TYPE: {}}, "description": description}


UPLOAD_BODY = {
    "required": True,
    "content": {
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "required": [FILE_FIELD],
                "properties": {FILE_FIELD: {"type": "string", "format": "binary", "description": "The image or video"}},
            }
        }
    },
}


@router.post(
    "/media",
    status_code=201,
    summary="Upload an image or video (multipart/form-data, field 'file'), streamed to disk and checked",
    openapi_extra={"requestBody": UPLOAD_BODY},
    responses={
        400: _problem("The multipart body is malformed or ended early"),
        413: _problem("Over the size limit (CROSSPOST_MAX_MEDIA_BYTES); refused before the body is read"),
        415: _problem("Not multipart/form-data"),
    },
)
def upload_media(request: Request, caller: Caller, runtime: RuntimeDep, response: Response) -> UploadedMedia:
    from scheduler import media_store
    from scheduler.errors import InvalidInput

    limit = runtime.settings.max_media_bytes
    announced = request.headers.get("content-length")
    if announced is not None and announced.isdigit() and int(announced) > limit + FRAMING_ALLOWANCE:
        raise ApiProblem(413, f"the upload is {announced} bytes; the limit is {limit} bytes", field=FILE_FIELD)
    boundary = _boundary(request.headers.get("content-type", ""))
    incoming = uploads_dir(runtime) / f".incoming-{uuid.uuid4().hex}"
    incoming.mkdir(parents=True)
    try:
        path = _receive(_chunks(request), boundary, incoming, limit)
        try:
            checked = media_store.check(path, max_bytes=limit, name=path.name)
        except InvalidInput as error:
            raise ApiProblem(422, str(error), field=FILE_FIELD) from None
        kept = _keep(runtime, path, checked)
    finally:
        shutil.rmtree(incoming, ignore_errors=True)
    response.headers["Location"] = f"/api/v1/media/{kept.id}"
    return kept


def _boundary(content_type: str) -> bytes:
    from python_multipart.multipart import parse_options_header

    kind, options = parse_options_header(content_type)
    if kind != b"multipart/form-data":
        raise ApiProblem(415, "send the file as multipart/form-data, in a field named 'file'")
    boundary = options.get(b"boundary", b"")
    if not 1 <= len(boundary) <= 200:
        raise ApiProblem(400, "the multipart/form-data Content-Type has no usable boundary")
    return boundary


def _chunks(request: Request) -> Callable[[], bytes | None]:
    """The body's next chunk, read from this worker thread through the event loop; None at its end."""
    stream = request.stream()

    async def next_chunk() -> bytes | None:
        try:
            return await stream.__anext__()
        except StopAsyncIteration:
            return None

    return lambda: anyio.from_thread.run(next_chunk)


class _FilePart:
    """python-multipart's callbacks: the part headers read, the one file part written to disk."""

    def __init__(self, folder: FilePath, limit: int) -> None:
        self.folder = folder
        self.limit = limit
        self.header = b""
        self.headers: dict[bytes, bytes] = {}
        self.path: FilePath | None = None
        self.out: BinaryIO | None = None
        self.size = 0
        self.done = False

    def callbacks(self) -> dict[str, Callable[..., None]]:
        return {
            "on_header_field": self.on_header_field,
            "on_header_value": self.on_header_value,
            "on_header_end": self.on_header_end,
            "on_headers_finished": self.on_headers_finished,
            "on_part_data": self.on_part_data,
            "on_part_end": self.close,
            "on_end": self.on_end,
        }

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self.header += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        name = self.header.lower()
        self.headers[name] = self.headers.get(name, b"") + data[start:end]

    def on_header_end(self) -> None:
        self.header = b""

    def on_headers_finished(self) -> None:
        from python_multipart.multipart import parse_options_header

        _, options = parse_options_header(self.headers.get(b"content-disposition", b""))
        self.headers = {}
        field = options.get(b"name", b"").decode("utf-8", "replace")
        if field != FILE_FIELD or b"filename" not in options:
            raise ApiProblem(
                422, f"unexpected part {field!r}: send only the file, in a field named 'file'", field=field
            )
        if self.path is not None:
            raise ApiProblem(422, "one file per upload", field=FILE_FIELD)
        self.path = self.folder / _safe_name(options[b"filename"].decode("utf-8", "replace"))
        self.out = self.path.open("wb")

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        self.size += end - start
        if self.size > self.limit:
            raise ApiProblem(413, f"the file is over the limit of {self.limit} bytes", field=FILE_FIELD)
        assert self.out is not None
        self.out.write(data[start:end])

    def close(self) -> None:
        if self.out is not None:
            self.out.close()

    def on_end(self) -> None:
        self.done = True


def _receive(next_chunk: Callable[[], bytes | None], boundary: bytes, folder: FilePath, limit: int) -> FilePath:
    """Parse the multipart body as it arrives, writing the file part into ``folder``; returns its path."""
    from python_multipart.multipart import MultipartParser

    part = _FilePart(folder, limit)
    parser = MultipartParser(boundary, part.callbacks())  # type: ignore[arg-type]
    received = 0
    try:
        while (chunk := next_chunk()) is not None:
            received += len(chunk)
            if received > limit + FRAMING_ALLOWANCE:
                raise ApiProblem(413, f"the upload is over the limit of {limit} bytes", field=FILE_FIELD)
            if chunk:
                parser.write(chunk)
        parser.finalize()
    except ClientDisconnect:
        raise ApiProblem(400, "the upload ended before its body did") from None
    except ApiProblem:
        raise
    except Exception as error:  # python-multipart's parse errors: the body is not what it says
        raise ApiProblem(400, f"malformed multipart body: {error}") from None
    finally:
        part.close()
    if part.path is None:
        raise ApiProblem(422, "no file: send it in a field named 'file'", field=FILE_FIELD)
    if not part.done:
        raise ApiProblem(400, "the multipart body ended before its closing boundary")
    return part.path


def _safe_name(raw: str) -> str:
    """The uploaded file's base name, printable and short; never a path."""
    base = re.split(r"[\\/]", raw)[-1]
    base = "".join(ch for ch in base if ch.isprintable()).strip().lstrip(".")
    if len(base) > MAX_NAME:
        stem, dot, ext = base.rpartition(".")
        base = (stem[: MAX_NAME - len(ext) - 1] + dot + ext) if dot and len(ext) <= 16 else base[:MAX_NAME]
    return base or "upload"


def _keep(runtime: Runtime, path: FilePath, checked: Any) -> UploadedMedia:
    folder = uploads_dir(runtime)
    ext = FilePath(checked.path).suffix
    kept = UploadedMedia(
        id=checked.sha256,
        kind=checked.kind,
        mime=checked.mime,
        bytes=checked.bytes,
        width=checked.width,
        height=checked.height,
        name=checked.original_name,
    )
    # the sidecars first, each written whole then renamed: a file with an id always has its name
    for target, text in (
        (name_file(folder, kept.id), kept.name),
        (metadata_file(folder, kept.id), json.dumps(kept.model_dump())),
    ):
        partial = target.with_name(f".{target.name}.{uuid.uuid4().hex}")
        partial.write_text(text, encoding="utf-8")
        os.replace(partial, target)
    os.replace(path, folder / f"{kept.id}{ext}")
    return kept


MediaId = Annotated[str, Path(pattern=MEDIA_ID.pattern, description="The id POST /media answered (64 hex)")]


@router.get("/media/{media_id}", summary="An upload's metadata")
def get_media(media_id: MediaId, caller: Caller, runtime: RuntimeDep) -> UploadedMedia:
    from scheduler.errors import InvalidInput, NotFound

    try:
        uploaded(runtime, media_id)
        meta = json.loads(metadata_file(uploads_dir(runtime), media_id).read_text(encoding="utf-8"))
    except (InvalidInput, OSError, ValueError):
        raise NotFound(f"no uploaded media {media_id}") from None
    return UploadedMedia.model_validate(meta)


# -- renditions -------------------------------------------------------------------------------------


class RenditionView(BaseModel):
    id: int
    position: int = Field(description="The order it is sent in")
    kind: str = Field(description="image, video or thumbnail")
    name: str
    mime: str
    bytes: int
    sha256: str
    width: int | None
    height: int | None
    alt_text: str | None
    url: str = Field(description="Download it: GET /renditions/{id}/file")


class PublicationRenditions(BaseModel):
    publication: int
    channel: str
    platform: str
    state: str
    media_ready: bool = Field(description="Whether the renditions are made (a publication waits for them)")
    renditions: list[RenditionView]


@router.get("/posts/{post_id}/renditions", summary="The renditions made for each of a post's publications")
def post_renditions(post_id: PostId, caller: Caller, runtime: RuntimeDep) -> list[PublicationRenditions]:
    from sqlalchemy import select

    from scheduler.editorial.authorization import authorize_view
    from scheduler.store import Channel, Publication, Rendition

    with runtime.db.read() as session:
        authorize_view(session, caller.user, post_id)
        publications = session.execute(
            select(Publication.id, Publication.state, Publication.media_ready, Channel.name, Channel.platform)
            .join(Channel, Channel.id == Publication.channel_id)
            .where(Publication.post_id == post_id)
            .order_by(Channel.name)
        ).all()
        made: dict[int, list[RenditionView]] = {}
        for row in session.scalars(
            select(Rendition)
            .where(Rendition.publication_id.in_([p.id for p in publications]))
            .order_by(Rendition.publication_id, Rendition.position)
        ):
            made.setdefault(row.publication_id, []).append(
                RenditionView(
                    id=row.id,
                    position=row.position,
                    kind=row.kind,
                    name=row.original_name,
                    mime=row.mime,
                    bytes=row.bytes,
                    sha256=row.sha256,
                    width=row.width,
                    height=row.height,
                    alt_text=row.alt_text,
                    url=f"/api/v1/renditions/{row.id}/file",
                )
            )
    return [
        PublicationRenditions(
            publication=p.id,
            channel=p.name,
            platform=p.platform,
            state=p.state,
            media_ready=p.media_ready,
            renditions=made.get(p.id, []),
        )
        for p in publications
    ]


@router.get(
    "/renditions/{rendition_id}/file",
    summary="Download a rendition, the file a channel is sent",
    response_class=FileResponse,
    responses={200: {"content": FILE_TYPES, "description": "The file"}},
)
def rendition_file(rendition_id: RenditionId, caller: Caller, runtime: RuntimeDep) -> FileResponse:
    from sqlalchemy import select

    from scheduler.editorial.authorization import authorize_view
    from scheduler.errors import NotFound
    from scheduler.store import Publication, Rendition

    with runtime.db.read() as session:
        found = session.execute(
            select(Rendition.path, Rendition.mime, Rendition.original_name, Publication.post_id)
            .join(Publication, Publication.id == Rendition.publication_id)
            .where(Rendition.id == rendition_id)
        ).first()
        if found is None:
            raise NotFound(f"no rendition with id {rendition_id}")
        authorize_view(session, caller.user, found.post_id)
        relative, mime, name = found.path, found.mime, found.original_name
    target = safe_file(runtime.settings.media_store, *FilePath(relative).parts)
    if target is None:
        raise NotFound(f"rendition {rendition_id}'s file is gone from the media store")
    return FileResponse(
        target,
        media_type=mime,
        filename=_safe_name(name),
        headers={"X-Content-Type-Options": "nosniff"},
    )
