"""A contract fake of the YouTube Data API v3 on loopback (shared/reference/platforms.md §4.6).

It checks requests the way the documented contract says YouTube does: a Bearer token on every
request; ``part`` on every call; the video resource (title 1-100 characters, description at
most 5,000 UTF-8 bytes, neither with ``<`` or ``>``; tags at most 500 characters as YouTube counts
them; a known ``categoryId``; ``privacyStatus`` present and valid, which YouTube does not require
but crosspost always sends; ``publishAt`` in the future and only with ``private``) with Google's
error shape and reasons (``invalidTitle``, ``invalidDescription``, ``invalidTags``,
``invalidCategoryId``, ``invalidPublishAt``).

Resumable uploads [YT2]: ``POST /upload/youtube/v3/videos?uploadType=resumable`` with
``X-Upload-Content-Length``/``-Type`` answers a session URI in ``Location``; ``PUT``s to it carry
``Content-Range: bytes a-b/N`` (``a`` = the bytes the session holds; every chunk but the last a
multiple of 256 KiB) and get 308 + ``Range: bytes=0-k`` until the last byte, which creates the
video and answers it (200). ``Content-Range: bytes */N`` with no body probes a session: 308 (with
``Range`` once it holds bytes), 200 + the video once complete, 404 unknown, 410 expired.

Quota [YT4][YT5]: ``videos.insert`` has its own bucket (100 calls a day, 1 unit each),
everything else 10,000 units (``thumbnails.set`` 50, lists 1); every call counts, even a refused
one; both reset at midnight Pacific Time on the fake's clock. Spent -> 403 ``quotaExceeded``.

Also ``thumbnails.set`` (verified channels only, 2 MB unless told otherwise), ``channels.list``
(``mine=true``: the uploads playlist), ``playlistItems.list`` (the uploads, newest first) and
``videos.list``. Faults are scripted per route: '429', '500', '503', '401', '403' (quotaExceeded),
'upload-limit' (400 uploadLimitExceeded), 'drop' (acted on, then the connection closes without an
answer), 'cut:N' (the first N bytes of the body arrive and are kept, as Google keeps what
arrived, then the connection breaks) and 'slow:SECONDS'.
"""

from __future__ import annotations

import itertools
import json
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit
from zoneinfo import ZoneInfo

CHUNK_UNIT = 256 * 1024
MAX_VIDEO_BYTES = 274_877_906_944  # discovery doc maxSize [YT8]
CATEGORIES = frozenset({"1", "2", "10", "15", "17", "19", "20", "22", "23", "24", "25", "26", "27", "28", "29"})
PACIFIC = ZoneInfo("America/Los_Angeles")
INSERT = "/upload/youtube/v3/videos"
THUMBNAILS = "/upload/youtube/v3/thumbnails/set"


@dataclass
class Account:
    token: str = "ya29.fake-access-token"
    refresh_token: str = "1//fake-refresh-token"
    refreshes: int = 0
    channel_id: str = "UCcms0000000000000000000"
    channel_title: str = "CMS Experiment"

    @property
    def uploads(self) -> str:
        return "UU" + self.channel_id[2:]

    def credentials(self) -> dict[str, Any]:
        return {
            "access_token": self.token,
            "refresh_token": self.refresh_token,
            "expires_at": time.time() + 3600,
            "channel_id": self.channel_id,
        }


@dataclass
class Session:
    """One resumable upload: what was asked for and the bytes received so far."""

    upload_id: str
    resource: dict[str, Any]
    total: int
    content_type: str
    notify: str | None
    received: bytearray = field(default_factory=bytearray)
    video_id: str | None = None
    expired: bool = False


@dataclass
class Video:
    id: str
    snippet: dict[str, Any]
    status: dict[str, Any]
    data: bytes
    content_type: str
    upload_id: str
    thumbnail: bytes | None = None

    def resource(self) -> dict[str, Any]:
        return {
            "kind": "youtube#video",
            "etag": f"etag-{self.id}",
            "id": self.id,
            "snippet": self.snippet,
            "status": self.status,
        }


@dataclass
class Fault:
    route: str  # a regex on 'METHOD /path'
    kind: str
    skip: int = 0  # let this many matching requests through first
    last_chunk: bool = False  # only an upload PUT that carries the file's last byte


@dataclass
class Call:
    method: str
    path: str
    query: dict[str, str]
    content_range: str | None = None


@dataclass
class State:
    account: Account = field(default_factory=Account)
    sessions: dict[str, Session] = field(default_factory=dict)
    videos: dict[str, Video] = field(default_factory=dict)
    faults: list[Fault] = field(default_factory=list)
    calls: list[Call] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    ids: Iterator[int] = field(default_factory=lambda: itertools.count(1))
    verified: bool = True  # custom thumbnails need a verified channel [YT3]
    thumbnail_limit: int = 2 * 1024 * 1024  # 2 MB; 50 MB since 2026-09-14 [YT5]: settable
    insert_limit: int = 100  # videos.insert calls a day (own bucket since 2026-06-01) [YT5]
    unit_limit: int = 10_000
    inserts: int = 0
    units: int = 0
    quota_day: date | None = None

    def uploads_started(self) -> int:
        return sum(1 for call in self.calls if (call.method, call.path) == ("POST", INSERT))

    def probes(self) -> int:
        return sum(
            1 for call in self.calls if call.method == "PUT" and (call.content_range or "").startswith("bytes */")
        )

    def chunks(self) -> list[str]:
        return [
            call.content_range or ""
            for call in self.calls
            if call.method == "PUT" and not (call.content_range or "").startswith("bytes */")
        ]


class YouTubeFake:
    """``with YouTubeFake() as yt: settings(youtube_api_url=yt.url, youtube_upload_url=yt.upload_url)``."""

    def __init__(self, clock: Callable[[], datetime] | None = None) -> None:
        self.state = State()
        if clock is not None:
            self.state.clock = clock
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self.state))
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.upload_url = f"{self.url}/upload"
        self._thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def __enter__(self) -> YouTubeFake:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def fault(self, route: str, fault: str, *, skip: int = 0, last_chunk: bool = False) -> None:
        """The next request matching ``route`` (after ``skip`` of them) gets ``fault``; see the module doc."""
        with self.state.lock:
            self.state.faults.append(Fault(route, fault, skip, last_chunk))

    def expire_sessions(self) -> None:
        """Every open upload session expires (their lifetime is not documented: §4.2)."""
        with self.state.lock:
            for session in self.state.sessions.values():
                session.expired = True

    @property
    def videos(self) -> dict[str, Video]:
        return self.state.videos


def _refresh(state: State, form: dict[str, str]) -> _Reply:
    """Google's token endpoint (oauth2.googleapis.com/token), refresh grant: a new access token,
    the refresh token unchanged (Google does not rotate it); the old access token stops working."""
    account = state.account
    with state.lock:
        if form.get("grant_type") != "refresh_token" or form.get("refresh_token") != account.refresh_token:
            return _Reply(400, {"error": "invalid_grant", "error_description": "Token has been expired or revoked."})
        account.refreshes += 1
        account.token = f"ya29.fake-access-token-{account.refreshes + 1}"
        return _Reply(200, {"access_token": account.token, "expires_in": 3599, "token_type": "Bearer"})


class _Refusal(Exception):
    def __init__(self, status: int, reason: str, message: str, *, domain: str = "youtube.video") -> None:
        super().__init__(message)
        self.status = status
        self.payload = {
            "error": {
                "code": status,
                "message": message,
                "errors": [{"message": message, "domain": domain, "reason": reason}],
            }
        }


class _Reply:
    def __init__(self, status: int, payload: Any = None, headers: dict[str, str] | None = None) -> None:
        self.status = status
        self.payload = payload
        self.headers = headers or {}


def _handler(state: State) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            self._route("GET")

        def do_POST(self) -> None:
            self._route("POST")

        def do_PUT(self) -> None:
            self._route("PUT")

        def _route(self, method: str) -> None:
            parts = urlsplit(self.path)
            query = dict(parse_qsl(parts.query))
            content_range = self.headers.get("Content-Range")
            length = int(self.headers.get("Content-Length") or 0)
            with state.lock:
                state.calls.append(Call(method, parts.path, query, content_range))
                fault = _take_fault(state, f"{method} {parts.path}", content_range)
            kind = fault.kind if fault else None
            if kind and kind.startswith("cut:"):
                arrived = self.rfile.read(min(length, int(kind.split(":", 1)[1])))
                with state.lock:
                    _keep_partial(state, query.get("upload_id", ""), content_range, arrived)
                return self._hang_up()
            body = self.rfile.read(length) if length else b""
            if kind and kind.startswith("slow:"):
                time.sleep(float(kind.split(":", 1)[1]))
            elif kind in _FAULTS:
                return self._reply(_FAULTS[kind]())
            if (method, parts.path) == ("POST", "/token"):
                return self._reply(_refresh(state, dict(parse_qsl(body.decode()))))
            try:
                if self.headers.get("Authorization") != f"Bearer {state.account.token}":
                    raise _Refusal(
                        401,
                        "authError",
                        "Request had invalid authentication credentials. Expected OAuth 2 access token.",
                        domain="global",
                    )
                with state.lock:
                    reply = _dispatch(state, method, parts.path, query, body, self.headers, self._base())
            except _Refusal as refusal:
                reply = _Reply(refusal.status, refusal.payload)
            if kind == "drop":  # acted on; the answer never arrives
                return self._hang_up()
            self._reply(reply)

        def _base(self) -> str:
            host, port = self.connection.getsockname()[:2]
            return f"http://{host}:{port}"

        def _hang_up(self) -> None:
            self.close_connection = True
            self.connection.close()

        def _reply(self, reply: _Reply) -> None:
            data = json.dumps(reply.payload).encode() if reply.payload is not None else b""
            self.send_response(reply.status)
            for name, value in reply.headers.items():
                self.send_header(name, value)
            if data:
                self.send_header("Content-Type", "application/json; charset=UTF-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    return Handler


QUOTA_MESSAGE = "The request cannot be completed because you have exceeded your quota."


def _quota_refusal() -> _Reply:
    return _Reply(403, _Refusal(403, "quotaExceeded", QUOTA_MESSAGE, domain="youtube.quota").payload)


def _error(status: int, reason: str, message: str, domain: str = "global") -> Callable[[], _Reply]:
    def make() -> _Reply:
        headers = {"Retry-After": "2"} if status == 429 else {}
        return _Reply(status, _Refusal(status, reason, message, domain=domain).payload, headers)

    return make


_FAULTS: dict[str, Callable[[], _Reply]] = {
    "429": _error(429, "rateLimitExceeded", "Too many requests.", "usageLimits"),
    "500": _error(500, "backendError", "Backend Error"),
    "503": _error(503, "backendError", "The service is currently unavailable."),
    "401": _error(401, "authError", "Invalid Credentials"),
    "403": _quota_refusal,
    "upload-limit": _error(
        400, "uploadLimitExceeded", "The user has exceeded the number of videos they may upload.", "youtube.video"
    ),
}


def _take_fault(state: State, route: str, content_range: str | None) -> Fault | None:
    for fault in state.faults:
        if not re.fullmatch(fault.route, route):
            continue
        if fault.last_chunk and not _is_last_chunk(content_range):
            continue
        if fault.skip:
            fault.skip -= 1
            return None
        state.faults.remove(fault)
        return fault
    return None


def _is_last_chunk(content_range: str | None) -> bool:
    match = re.fullmatch(r"bytes (\d+)-(\d+)/(\d+)", content_range or "")
    return match is not None and int(match[2]) == int(match[3]) - 1


def _keep_partial(state: State, upload_id: str, content_range: str | None, arrived: bytes) -> None:
    """A chunk cut short: the bytes that arrived stay in the session, as Google keeps them."""
    session = state.sessions.get(upload_id)
    match = re.fullmatch(r"bytes (\d+)-(\d+)/(\d+)", content_range or "")
    if session and match and int(match[1]) == len(session.received) and session.video_id is None:
        session.received += arrived[: session.total - len(session.received)]


def _dispatch(
    state: State, method: str, path: str, query: dict[str, str], body: bytes, headers: Any, base: str
) -> _Reply:
    _roll_quota_day(state)
    if (method, path) == ("POST", INSERT):
        return _start_upload(state, query, body, headers, base)
    if (method, path) == ("PUT", INSERT):
        return _put(state, query, body, headers)
    if (method, path) == ("POST", THUMBNAILS):
        return _set_thumbnail(state, query, body, headers)
    if (method, path) == ("GET", "/youtube/v3/channels"):
        return _channels(state, query)
    if (method, path) == ("GET", "/youtube/v3/playlistItems"):
        return _playlist_items(state, query)
    if (method, path) == ("GET", "/youtube/v3/videos"):
        return _videos_list(state, query)
    raise _Refusal(404, "notFound", f"no route {method} {path}", domain="global")


def _roll_quota_day(state: State) -> None:
    today = state.clock().astimezone(PACIFIC).date()
    if state.quota_day != today:
        state.quota_day, state.inserts, state.units = today, 0, 0


def _spend(state: State, units: int) -> None:
    if state.units + units > state.unit_limit:
        state.units += 1  # a refused call still costs
        raise _Refusal(403, "quotaExceeded", QUOTA_MESSAGE, domain="youtube.quota")
    state.units += units


def _parts(query: dict[str, str], allowed: set[str]) -> set[str]:
    if not query.get("part"):
        raise _Refusal(400, "required", "Required parameter: part", domain="global")
    parts = {part.strip() for part in query["part"].split(",")}
    unknown = parts - allowed
    if unknown:
        raise _Refusal(400, "unknownPart", f"part {sorted(unknown)} is not a part of this resource")
    return parts


# -- videos.insert, resumable -----------------------------------------------------------------------


def _start_upload(state: State, query: dict[str, str], body: bytes, headers: Any, base: str) -> _Reply:
    state.inserts += 1  # its own bucket, 1 unit a call, even a refused one
    if state.inserts > state.insert_limit:
        return _quota_refusal()
    if query.get("uploadType") != "resumable":
        raise _Refusal(400, "invalidUploadType", "this fake takes resumable uploads only (uploadType=resumable)")
    parts = _parts(query, {"snippet", "status", "contentDetails", "recordingDetails", "localizations"})
    if query.get("notifySubscribers") not in (None, "true", "false"):
        raise _Refusal(400, "invalidValue", "notifySubscribers: true or false", domain="global")
    declared = headers.get("X-Upload-Content-Length", "")
    if not declared.isdigit() or not 0 < int(declared) <= MAX_VIDEO_BYTES:
        raise _Refusal(400, "invalidValue", "X-Upload-Content-Length: 1 to 274877906944 bytes", domain="global")
    content_type = headers.get("X-Upload-Content-Type", "")
    if not (content_type.startswith("video/") or content_type == "application/octet-stream"):
        raise _Refusal(
            400, "invalidValue", f"X-Upload-Content-Type {content_type!r}: video/* or application/octet-stream"
        )
    if not headers.get("Content-Type", "").startswith("application/json"):
        raise _Refusal(400, "parseError", "the video resource must be JSON", domain="global")
    try:
        resource = json.loads(body or b"{}")
    except ValueError:
        raise _Refusal(400, "parseError", "the request body is not valid JSON", domain="global") from None
    if not isinstance(resource, dict):
        raise _Refusal(400, "parseError", "the request body must be a video resource", domain="global")
    for key in set(resource) - {"kind", "id", "etag"}:
        if key not in parts:
            raise _Refusal(400, "unexpectedPart", f"the resource has {key!r}, which part= does not name")
    _check_video(state, resource)
    upload_id = uuid.uuid4().hex
    state.sessions[upload_id] = Session(
        upload_id, resource, int(declared), content_type, query.get("notifySubscribers")
    )
    location = f"{base}{INSERT}?uploadType=resumable&upload_id={upload_id}"
    return _Reply(200, None, {"Location": location, "X-GUploader-UploadID": upload_id})


def _check_video(state: State, resource: dict[str, Any]) -> None:
    snippet = resource.get("snippet")
    if not isinstance(snippet, dict):
        raise _Refusal(400, "invalidTitle", "snippet.title is required")
    title = snippet.get("title")
    if not isinstance(title, str) or not title.strip() or len(title) > 100 or any(c in title for c in "<>"):
        raise _Refusal(400, "invalidTitle", "The video title is empty, over 100 characters, or has < or >.")
    description = snippet.get("description", "")
    if (
        not isinstance(description, str)
        or len(description.encode("utf-8")) > 5000
        or any(c in description for c in "<>")
    ):
        raise _Refusal(400, "invalidDescription", "The video description is over 5000 bytes or has < or >.")
    tags = snippet.get("tags", [])
    if not isinstance(tags, list) or not all(isinstance(tag, str) for tag in tags):
        raise _Refusal(400, "invalidTags", "snippet.tags must be a list of strings")
    counted = sum(len(tag) + (2 if " " in tag else 0) for tag in tags) + max(0, len(tags) - 1)
    if counted > 500 or any(c in tag for tag in tags for c in "<>"):
        raise _Refusal(400, "invalidTags", f"The video tags are {counted} characters, over 500.")
    if "categoryId" in snippet and str(snippet["categoryId"]) not in CATEGORIES:
        raise _Refusal(400, "invalidCategoryId", f"The category {snippet['categoryId']!r} does not exist.")
    status = resource.get("status")
    if not isinstance(status, dict) or status.get("privacyStatus") not in ("public", "private", "unlisted"):
        raise _Refusal(400, "invalidVideoMetadata", "status.privacyStatus: public, private or unlisted")
    if "selfDeclaredMadeForKids" in status and not isinstance(status["selfDeclaredMadeForKids"], bool):
        raise _Refusal(400, "invalidVideoMetadata", "status.selfDeclaredMadeForKids must be true or false")
    if "publishAt" in status:
        try:
            moment = datetime.fromisoformat(str(status["publishAt"]).replace("Z", "+00:00"))
        except ValueError:
            raise _Refusal(400, "invalidPublishAt", "status.publishAt is not an ISO 8601 time") from None
        if status["privacyStatus"] != "private":
            raise _Refusal(400, "invalidPublishAt", "publishAt can be set only if the privacy status is private")
        if moment.tzinfo is None or moment <= state.clock():
            raise _Refusal(400, "invalidPublishAt", "status.publishAt must be a future time with a zone")


def _put(state: State, query: dict[str, str], body: bytes, headers: Any) -> _Reply:
    session = state.sessions.get(query.get("upload_id", ""))
    if session is None:
        raise _Refusal(404, "notFound", "no such upload session", domain="global")
    if session.expired:
        raise _Refusal(410, "gone", "the upload session has expired; start a new one", domain="global")
    content_range = headers.get("Content-Range", "")
    if probe := re.fullmatch(r"bytes \*/(\d+|\*)", content_range):
        if body:
            raise _Refusal(400, "badRequest", "a status request (bytes */N) has no body", domain="global")
        if probe[1] != "*" and int(probe[1]) != session.total:
            raise _Refusal(400, "badRequest", f"the session is for {session.total} bytes, not {probe[1]}")
        return _progress(state, session)
    match = re.fullmatch(r"bytes (\d+)-(\d+)/(\d+)", content_range)
    if match is None:
        raise _Refusal(400, "badRequest", f"Content-Range {content_range!r}: bytes a-b/N or bytes */N", domain="global")
    first, last, total = int(match[1]), int(match[2]), int(match[3])
    if total != session.total:
        raise _Refusal(400, "badRequest", f"the session is for {session.total} bytes, the chunk says {total}")
    if last < first or last >= total or len(body) != last - first + 1:
        raise _Refusal(400, "badRequest", f"Content-Range {content_range!r} does not match the {len(body)} bytes sent")
    if session.video_id is not None:
        return _progress(state, session)
    if first != len(session.received):
        raise _Refusal(
            400, "badRequest", f"the chunk starts at byte {first}; the session holds {len(session.received)}"
        )
    if last != total - 1 and len(body) % CHUNK_UNIT:
        raise _Refusal(
            400, "badRequest", f"a chunk of {len(body)} bytes: all but the last must be multiples of 256 KiB"
        )
    session.received += body
    if len(session.received) == session.total:
        _create_video(state, session)
    return _progress(state, session)


def _progress(state: State, session: Session) -> _Reply:
    if session.video_id is not None:
        return _Reply(200, state.videos[session.video_id].resource())
    headers = {"Range": f"bytes=0-{len(session.received) - 1}"} if session.received else {}
    return _Reply(308, None, headers)


def _create_video(state: State, session: Session) -> None:
    video_id = f"yt{next(state.ids):09d}"
    requested = session.resource
    account = state.account
    snippet = {
        "publishedAt": _stamp(state.clock()),
        "channelId": account.channel_id,
        "channelTitle": account.channel_title,
        "title": requested["snippet"]["title"],
        "description": requested["snippet"].get("description", ""),
        "thumbnails": {
            "default": {"url": f"https://i.ytimg.com/vi/{video_id}/default.jpg", "width": 120, "height": 90}
        },
        "categoryId": str(requested["snippet"].get("categoryId", "22")),
        "liveBroadcastContent": "none",
    }
    if requested["snippet"].get("tags"):
        snippet["tags"] = list(requested["snippet"]["tags"])
    status = {
        "uploadStatus": "uploaded",
        "privacyStatus": requested["status"]["privacyStatus"],
        "license": "youtube",
        "embeddable": True,
        "publicStatsViewable": True,
    }
    for key in ("publishAt", "selfDeclaredMadeForKids"):
        if key in requested["status"]:
            status[key] = requested["status"][key]
    state.videos[video_id] = Video(
        video_id, snippet, status, bytes(session.received), session.content_type, session.upload_id
    )
    session.video_id = video_id


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# -- the rest -----------------------------------------------------------------------------------------


def _set_thumbnail(state: State, query: dict[str, str], body: bytes, headers: Any) -> _Reply:
    _spend(state, 50)
    video = state.videos.get(query.get("videoId", ""))
    if video is None:
        raise _Refusal(404, "videoNotFound", f"The video {query.get('videoId')!r} cannot be found.")
    if not state.verified:
        raise _Refusal(403, "forbidden", "The channel is not permitted to upload custom thumbnails.")
    content_type = headers.get("Content-Type", "")
    if content_type not in ("image/jpeg", "image/png", "application/octet-stream"):
        raise _Refusal(400, "invalidImage", f"Content-Type {content_type!r}: image/jpeg or image/png")
    if not body:
        raise _Refusal(400, "mediaBodyRequired", "The request does not include the image content.")
    if len(body) > state.thumbnail_limit:
        # the documented limit; the exact refusal is not documented
        raise _Refusal(413, "mediaBodyTooLarge", f"The image is {len(body)} bytes, over {state.thumbnail_limit}.")
    if not (body.startswith(b"\xff\xd8\xff") or body.startswith(b"\x89PNG\r\n\x1a\n")):
        raise _Refusal(400, "invalidImage", "The image is not a JPEG or PNG.")
    video.thumbnail = body
    url = f"https://i.ytimg.com/vi/{video.id}/maxresdefault.jpg"
    return _Reply(
        200,
        {
            "kind": "youtube#thumbnailSetResponse",
            "etag": "etag",
            "items": [{"maxres": {"url": url, "width": 1280, "height": 720}}],
        },
    )


def _channels(state: State, query: dict[str, str]) -> _Reply:
    _spend(state, 1)
    _parts(query, {"id", "snippet", "contentDetails", "statistics", "status"})
    account = state.account
    mine = query.get("mine") == "true" or account.channel_id in query.get("id", "").split(",")
    items = (
        [
            {
                "kind": "youtube#channel",
                "id": account.channel_id,
                "contentDetails": {"relatedPlaylists": {"likes": "", "uploads": account.uploads}},
            }
        ]
        if mine
        else []
    )
    return _Reply(
        200, {"kind": "youtube#channelListResponse", "pageInfo": {"totalResults": len(items)}, "items": items}
    )


def _playlist_items(state: State, query: dict[str, str]) -> _Reply:
    _spend(state, 1)
    _parts(query, {"id", "snippet", "contentDetails", "status"})
    if query.get("playlistId") != state.account.uploads:
        raise _Refusal(404, "playlistNotFound", f"The playlist {query.get('playlistId')!r} cannot be found.")
    limit = int(query.get("maxResults", "5"))
    if not 0 <= limit <= 50:
        raise _Refusal(400, "invalidValue", "maxResults: 0 to 50", domain="global")
    start = int(query.get("pageToken", "0") or 0)
    videos = sorted(state.videos.values(), key=lambda v: (v.snippet["publishedAt"], v.id), reverse=True)
    page = videos[start : start + limit]
    items = [
        {
            "kind": "youtube#playlistItem",
            "id": f"item-{video.id}",
            "snippet": {
                "publishedAt": video.snippet["publishedAt"],
                "channelId": state.account.channel_id,
                "title": video.snippet["title"],
                "description": video.snippet["description"],
                "playlistId": state.account.uploads,
                "position": start + index,
                "resourceId": {"kind": "youtube#video", "videoId": video.id},
            },
            "contentDetails": {"videoId": video.id, "videoPublishedAt": video.snippet["publishedAt"]},
        }
        for index, video in enumerate(page)
    ]
    payload: dict[str, Any] = {
        "kind": "youtube#playlistItemListResponse",
        "pageInfo": {"totalResults": len(videos), "resultsPerPage": limit},
        "items": items,
    }
    if start + limit < len(videos):
        payload["nextPageToken"] = str(start + limit)
    return _Reply(200, payload)


def _videos_list(state: State, query: dict[str, str]) -> _Reply:
    _spend(state, 1)
    _parts(query, {"id", "snippet", "status", "contentDetails"})
    wanted = [v for v in query.get("id", "").split(",") if v]
    items = [state.videos[v].resource() for v in wanted if v in state.videos]
    return _Reply(200, {"kind": "youtube#videoListResponse", "items": items})
