"""A contract fake of TikTok's Content Posting API v2 on loopback (shared/reference/platforms.md §3.6).

It checks requests the way §3 documents them: a Bearer user token on every API call; the
``{"data", "error": {"code", "message", "log_id"}}`` envelope on every answer; creator_info with
the creator's privacy options and switches; init refused unless ``privacy_level`` is one of
``privacy_level_options`` (``privacy_level_option_mismatch``), with captions counted in UTF-16
units (video title 2,200; photo title 90, description 4,000); the chunk rules of §3.2 step 3 to
the byte (``chunk_problem``: 5 MB - 64 MB chunks, the last one absorbing the remainder up to
128 MB, a file under 5 MB whole, 1 - 1,000 chunks, ``total_chunk_count = floor(size / chunk)``;
where "MB" could be read two ways the stricter reading is enforced); ``PUT``s to the
``upload_url`` in order with a ``Content-Range`` that matches the chunk, the length and the total
(206 between chunks, 201 for the last); photos only by ``PULL_FROM_URL`` from a verified URL prefix
(``url_ownership_unverified`` otherwise), really fetched over HTTP (JPEG or WebP, <= 20 MB, else
FAILED ``photo_pull_failed``); the per-token limits of §3.3 (init 6, creator_info 20, status 30
a minute: ``rate_limit_exceeded``/429); and the refresh grant on ``/v2/oauth/token/`` with
rotating refresh tokens (§3.1).

The status of a publish_id (§3.2 step 6): ``PROCESSING_UPLOAD`` while bytes arrive (with
``uploaded_bytes``) or ``PROCESSING_DOWNLOAD`` while photos are pulled (with ``downloaded_bytes``),
then ``processing_polls`` more polls of the same, then ``PUBLISH_COMPLETE``; the public post id
(``publicaly_available_post_id``, spelled so) appears ``post_id_delay`` polls later, and never for
SELF_ONLY. A finished video is probed: longer than the creator's ``max_video_post_duration_sec``
is FAILED ``duration_check_failed``, not a video ``file_format_check_failed``. Photos are pulled
at the first status poll (TikTok does it on its own time; polling makes it deterministic).

``fail_next`` scripts TikTok failing the next post once its media are in.

Faults are scripted per route (a regex on ``METHOD /path``), for the ``skip``-th next match:
'429', '500', '503', '401', ``code:<error code>`` (TikTok's envelope with that code),
'drop' (acted on, then the connection closes: the answer is lost), 'cut' (the connection
closes after half the request body: nothing is acted on) or 'slow:SECONDS'.

HTTP statuses for the posting-specific error codes are not documented (§3.3); the fake's choice
is in ``STATUS_OF``, and the adapter goes by the code.
"""

from __future__ import annotations

import io
import itertools
import json
import re
import threading
import time
import urllib.error
import urllib.request
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, parse_qsl, urlsplit

MIB = 1024 * 1024
MB = 1000 * 1000
MIN_CHUNK = 5 * MIB  # "at least 5 MB": the stricter reading
MAX_CHUNK = 64 * MB  # "no greater than 64 MB": the stricter reading
MAX_FINAL_CHUNK = 128 * MB
MAX_CHUNKS = 1000
MAX_VIDEO = 4 * 1024 * MIB  # §3.4: 4 GB
MAX_PHOTO = 20 * MIB  # §3.4: 20 MB each
PRIVACY_LEVELS = ("PUBLIC_TO_EVERYONE", "MUTUAL_FOLLOW_FRIENDS", "FOLLOWER_OF_CREATOR", "SELF_ONLY")
VIDEO_POST_INFO = {
    "title",
    "privacy_level",
    "disable_duet",
    "disable_comment",
    "disable_stitch",
    "video_cover_timestamp_ms",
    "brand_content_toggle",
    "brand_organic_toggle",
    "is_aigc",
}
PHOTO_POST_INFO = {
    "title",
    "description",
    "privacy_level",
    "disable_comment",
    "auto_add_music",
    "brand_content_toggle",
    "brand_organic_toggle",
}
VIDEO_TYPES = ("video/mp4", "video/quicktime", "video/webm")
STATUS_OF = {
    "ok": 200,
    "invalid_params": 400,
    "invalid_file_upload": 400,
    "privacy_level_option_mismatch": 400,
    "access_token_invalid": 401,
    "scope_not_authorized": 401,
    "scope_permission_missed": 401,
    "url_ownership_unverified": 403,
    "spam_risk_too_many_posts": 403,
    "spam_risk_user_banned_from_posting": 403,
    "spam_risk_text": 403,
    "reached_active_user_cap": 403,
    "unaudited_client_can_only_post_to_private_accounts": 403,
    "upload_url_expired": 403,  # the fake's own word: TikTok's is not documented
    "not_found": 404,
    "rate_limit_exceeded": 429,
    "internal_error": 500,
}
API = "/v2/post/publish/"


def chunk_problem(video_size: object, chunk_size: object, count: object) -> str | None:
    """What is wrong with a FILE_UPLOAD's numbers by §3.2 step 3, or None."""
    if not (_integer(video_size) and _integer(chunk_size) and _integer(count)):
        return "video_size, chunk_size and total_chunk_count are required integers"
    assert isinstance(video_size, int)
    assert isinstance(chunk_size, int)
    assert isinstance(count, int)
    if not 0 < video_size <= MAX_VIDEO:
        return f"video_size {video_size}: 1 byte to 4 GB"
    if video_size < MIN_CHUNK and (chunk_size, count) != (video_size, 1):
        return "a video under 5 MB is uploaded whole: chunk_size = video_size, total_chunk_count = 1"
    if chunk_size != video_size and not MIN_CHUNK <= chunk_size <= MAX_CHUNK:
        return f"chunk_size {chunk_size}: 5 MB to 64 MB"
    if chunk_size > MAX_CHUNK:
        return "a video over 64 MB is uploaded in chunks of 64 MB at most"
    if count != video_size // chunk_size:
        return f"total_chunk_count {count} is not video_size / chunk_size rounded down ({video_size // chunk_size})"
    if not 1 <= count <= MAX_CHUNKS:
        return f"total_chunk_count {count}: 1 to 1000"
    if video_size - (count - 1) * chunk_size > MAX_FINAL_CHUNK:
        return "the last chunk would be over 128 MB"
    return None


def _integer(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def utf16(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


@dataclass
class Account:
    access_token: str = "act.cms-user-token"
    refresh_token: str = "rft.cms-refresh-1"
    open_id: str = "open-id-cms"
    client_key: str = "cms-client-key"
    client_secret: str = "cms-client-secret"
    username: str = "cmsexperiment"
    nickname: str = "CMS Experiment"
    privacy_level_options: list[str] = field(
        default_factory=lambda: ["PUBLIC_TO_EVERYONE", "MUTUAL_FOLLOW_FRIENDS", "SELF_ONLY"]
    )
    comment_disabled: bool = False
    duet_disabled: bool = False
    stitch_disabled: bool = False
    max_video_post_duration_sec: int = 600
    refreshes: int = 0

    def credentials(self, *, expires_in: float = 7200.0) -> dict[str, Any]:
        return {
            "access_token": self.access_token,
            "refresh_token": self.refresh_token,
            "expires_at": time.time() + expires_in,
            "open_id": self.open_id,
            "client_key": self.client_key,
            "client_secret": self.client_secret,
        }


@dataclass
class Post:
    publish_id: str
    kind: str  # "video" | "photo"
    token: str
    post_info: dict[str, Any]
    source_info: dict[str, Any]
    video_size: int = 0
    chunk_size: int = 0
    total_chunk_count: int = 0
    received: bytearray = field(default_factory=bytearray)
    chunks: list[tuple[int, int]] = field(default_factory=list)  # (first, last) of every accepted PUT
    upload_token: str = ""
    upload_expires: float = 0.0
    photos: list[bytes] = field(default_factory=list)
    pulled: bool = False
    downloaded_bytes: int = 0
    ready_polls: int = 0  # polls since the media were all in
    status: str = "PROCESSING_UPLOAD"
    fail_reason: str = ""
    post_id: str | None = None  # given when published; shown post_id_delay polls later
    polls: int = 0

    @property
    def uploaded(self) -> bool:
        return self.kind == "video" and len(self.received) == self.video_size


@dataclass
class State:
    account: Account = field(default_factory=Account)
    url: str = ""  # this server's own, for upload_url
    posts: dict[str, Post] = field(default_factory=dict)
    verified_prefixes: list[str] = field(default_factory=list)
    limits: dict[str, int] = field(default_factory=lambda: {"init": 6, "creator_info": 20, "status": 30})
    windows: dict[tuple[str, str], deque[float]] = field(default_factory=dict)
    processing_polls: int = 1
    post_id_delay: int = 1
    upload_lifetime: float = 3600.0
    fail_next: str | None = None  # the next post whose media are all in is FAILED with this fail_reason
    faults: list[list[Any]] = field(default_factory=list)  # [route pattern, fault, matches to skip]
    calls: list[tuple[str, str]] = field(default_factory=list)  # (method, path) of every request
    fetched: list[str] = field(default_factory=list)  # every photo URL pulled
    on_put: Callable[[Post], None] | None = None  # called as a PUT arrives, before it is read
    lock: threading.RLock = field(default_factory=threading.RLock)
    clock: Callable[[], float] = field(default=time.monotonic)
    ids: Iterator[int] = field(default_factory=lambda: itertools.count(7_400_000_000_000_000_001))

    def next_id(self) -> str:
        return str(next(self.ids))

    def inits(self) -> int:
        return sum(1 for method, path in self.calls if method == "POST" and path.endswith("/init/"))

    def published(self) -> list[Post]:
        return [post for post in self.posts.values() if post.status == "PUBLISH_COMPLETE"]

    def exhaust(self, bucket: str = "init") -> None:
        """Spend the account token's whole window for ``bucket``, as other calls would have."""
        with self.lock:
            window = self.windows.setdefault((self.account.access_token, bucket), deque())
            window.extend([self.clock()] * (self.limits[bucket] - len(window)))


class TikTokFake:
    """``with TikTokFake() as tiktok: settings(tiktok_api_url=tiktok.url)``."""

    def __init__(self, *, verified_prefixes: list[str] | None = None) -> None:
        self.state = State(verified_prefixes=list(verified_prefixes or []))
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self.state))
        self.server.daemon_threads = True
        self.url = self.state.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def __enter__(self) -> TikTokFake:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def fault(self, route: str, fault: str, *, skip: int = 0) -> None:
        """The next request matching ``route`` (a regex on 'METHOD /path'), after ``skip`` others,
        gets ``fault`` (see the module docstring)."""
        with self.state.lock:
            self.state.faults.append([route, fault, skip])

    @property
    def posts(self) -> dict[str, Post]:
        return self.state.posts


class _Refusal(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.status = STATUS_OF.get(code, 400)
        self.payload = _envelope({}, code, message)


def _envelope(data: dict[str, Any], code: str = "ok", message: str = "") -> dict[str, Any]:
    return {"data": data, "error": {"code": code, "message": message, "log_id": f"2027{time.time_ns():x}"}}


def _handler(state: State) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:
            pass

        def do_POST(self) -> None:
            self._route("POST")

        def do_PUT(self) -> None:
            self._route("PUT")

        def do_GET(self) -> None:
            self._route("GET")

        def _route(self, method: str) -> None:
            parts = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            with state.lock:
                state.calls.append((method, parts.path))
                kind = _take_fault(state, f"{method} {parts.path}")
            if kind == "cut":  # the connection breaks half-way through the request body
                self.rfile.read(length // 2)
                return self._hang_up()
            if method == "PUT" and state.on_put is not None:
                post = state.posts.get(parts.path.rsplit("/", 1)[-1])
                if post is not None:
                    state.on_put(post)
            body = self.rfile.read(length) if length else b""
            if kind and kind.startswith("slow:"):
                time.sleep(float(kind.split(":", 1)[1]))
            elif kind in ("429", "500", "503", "401"):
                code = {"429": "rate_limit_exceeded", "401": "access_token_invalid"}.get(kind, "internal_error")
                return self._send(int(kind), _envelope({}, code, f"scripted {kind}"))
            elif kind and kind.startswith("code:"):
                code = kind.split(":", 1)[1]
                return self._send(STATUS_OF.get(code, 400), _envelope({}, code, f"scripted {code}"))
            try:
                status, payload = _dispatch(state, method, parts.path, parts.query, body, self.headers)
            except _Refusal as refusal:
                status, payload = refusal.status, refusal.payload
            if kind == "drop":  # acted on; the answer never arrives
                return self._hang_up()
            self._send(status, payload)

        def _hang_up(self) -> None:
            self.close_connection = True
            self.connection.close()

        def _send(self, status: int, payload: Any) -> None:
            data = json.dumps(payload).encode() if payload is not None else b""
            self.send_response(status)
            if data:
                self.send_header("Content-Type", "application/json; charset=UTF-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    return Handler


def _take_fault(state: State, request: str) -> str | None:
    for fault in state.faults:
        if re.fullmatch(fault[0], request):
            if fault[2] > 0:
                fault[2] -= 1
                return None
            state.faults.remove(fault)
            return str(fault[1])
    return None


def _dispatch(state: State, method: str, path: str, query: str, body: bytes, headers: Any) -> tuple[int, Any]:
    if (method, path) == ("POST", "/v2/oauth/token/"):
        return _token(state, dict(parse_qsl(body.decode())))
    if method == "PUT" and (match := re.fullmatch(r"/upload/([^/]+)", path)):
        return _upload(state, match[1], parse_qs(query), body, headers)
    if method != "POST" or not path.startswith(API):
        raise _Refusal("not_found", f"no route {method} {path}")
    token = _bearer(state, headers)
    if not headers.get("Content-Type", "").startswith("application/json"):
        raise _Refusal("invalid_params", "Content-Type must be application/json; charset=UTF-8")
    try:
        request = json.loads(body or b"{}")
    except ValueError:
        raise _Refusal("invalid_params", "the body is not JSON") from None
    if not isinstance(request, dict):
        raise _Refusal("invalid_params", "the body must be a JSON object")
    route = path[len(API) :]
    bucket = {"creator_info/query/": "creator_info", "status/fetch/": "status"}.get(route, "init")
    _count(state, token, bucket)
    if route == "creator_info/query/":
        return 200, _envelope(_creator_info(state))
    if route == "video/init/":
        return _video_init(state, token, request)
    if route == "content/init/":
        return _photo_init(state, token, request)
    if route == "status/fetch/":
        return _status(state, token, request)
    raise _Refusal("not_found", f"no route {method} {path}")


def _bearer(state: State, headers: Any) -> str:
    header = headers.get("Authorization", "")
    if not header.startswith("Bearer ") or header[7:] != state.account.access_token:
        raise _Refusal("access_token_invalid", "The access token is invalid or not found in the request.")
    return str(header[7:])


def _count(state: State, token: str, bucket: str) -> None:
    with state.lock:
        now = state.clock()
        window = state.windows.setdefault((token, bucket), deque())
        while window and window[0] <= now - 60:
            window.popleft()
        if len(window) >= state.limits[bucket]:
            raise _Refusal("rate_limit_exceeded", f"{state.limits[bucket]} requests per minute per token")
        window.append(now)


def _creator_info(state: State) -> dict[str, Any]:
    account = state.account
    return {
        "creator_avatar_url": f"https://p16.tiktokcdn.example/{account.open_id}.jpeg",
        "creator_username": account.username,
        "creator_nickname": account.nickname,
        "privacy_level_options": list(account.privacy_level_options),
        "comment_disabled": account.comment_disabled,
        "duet_disabled": account.duet_disabled,
        "stitch_disabled": account.stitch_disabled,
        "max_video_post_duration_sec": account.max_video_post_duration_sec,
    }


def _check_post_info(state: State, info: object, allowed: set[str], *, video: bool) -> dict[str, Any]:
    if not isinstance(info, dict):
        raise _Refusal("invalid_params", "post_info is required")
    unknown = set(info) - allowed
    if unknown:
        raise _Refusal("invalid_params", f"unknown post_info fields {sorted(unknown)}")
    account = state.account
    privacy = info.get("privacy_level")
    if privacy not in PRIVACY_LEVELS:
        raise _Refusal("invalid_params", f"privacy_level {privacy!r} is not one of {', '.join(PRIVACY_LEVELS)}")
    if privacy not in account.privacy_level_options:
        raise _Refusal(
            "privacy_level_option_mismatch",
            f"privacy_level {privacy} is not in privacy_level_options {account.privacy_level_options}",
        )
    switches = [("disable_comment", account.comment_disabled)]
    if video:
        switches += [("disable_duet", account.duet_disabled), ("disable_stitch", account.stitch_disabled)]
    for name, off in switches:
        if name in info and not isinstance(info[name], bool):
            raise _Refusal("invalid_params", f"{name} must be a boolean")
        if off and info.get(name) is not True:
            raise _Refusal("invalid_params", f"the creator turned {name.split('_', 1)[1]} off: {name} must be true")
    limits = {"title": 2200} if video else {"title": 90, "description": 4000}
    for name, limit in limits.items():
        text = info.get(name, "")
        if not isinstance(text, str):
            raise _Refusal("invalid_params", f"{name} must be a string")
        if utf16(text) > limit:
            raise _Refusal("invalid_params", f"{name} is {utf16(text)} UTF-16 units, over {limit}")
    return dict(info)


def _video_init(state: State, token: str, request: dict[str, Any]) -> tuple[int, Any]:
    post_info = _check_post_info(state, request.get("post_info"), VIDEO_POST_INFO, video=True)
    source = request.get("source_info")
    if not isinstance(source, dict) or source.get("source") != "FILE_UPLOAD":
        raise _Refusal("invalid_params", "source_info.source: the fake takes FILE_UPLOAD for videos")
    size, chunk, count = source.get("video_size"), source.get("chunk_size"), source.get("total_chunk_count")
    problem = chunk_problem(size, chunk, count)
    if problem:
        raise _Refusal("invalid_params", problem)
    with state.lock:
        publish_id = f"v_pub_file~v2-1.{state.next_id()}"
        upload_token = state.next_id()
        state.posts[publish_id] = Post(
            publish_id=publish_id,
            kind="video",
            token=token,
            post_info=post_info,
            source_info=dict(source),
            video_size=int(str(size)),
            chunk_size=int(str(chunk)),
            total_chunk_count=int(str(count)),
            upload_token=upload_token,
            upload_expires=state.clock() + state.upload_lifetime,
        )
    upload_url = f"{state.url}/upload/{publish_id}?upload_token={upload_token}"
    return 200, _envelope({"publish_id": publish_id, "upload_url": upload_url})


def _photo_init(state: State, token: str, request: dict[str, Any]) -> tuple[int, Any]:
    if request.get("media_type") != "PHOTO":
        raise _Refusal("invalid_params", "media_type must be PHOTO")
    if request.get("post_mode") not in ("DIRECT_POST", "MEDIA_UPLOAD"):
        raise _Refusal("invalid_params", "post_mode must be DIRECT_POST or MEDIA_UPLOAD")
    post_info = _check_post_info(state, request.get("post_info"), PHOTO_POST_INFO, video=False)
    source = request.get("source_info")
    if not isinstance(source, dict) or source.get("source") != "PULL_FROM_URL":
        raise _Refusal("invalid_params", "photos are posted with source PULL_FROM_URL only")
    images = source.get("photo_images")
    if not isinstance(images, list) or not 1 <= len(images) <= 35 or not all(isinstance(i, str) for i in images):
        raise _Refusal("invalid_params", "photo_images: 1 to 35 URLs")
    cover = source.get("photo_cover_index", 0)
    if not isinstance(cover, int) or not 0 <= cover < len(images):
        raise _Refusal("invalid_params", "photo_cover_index must index photo_images")
    for url in images:
        if not any(url.startswith(prefix) for prefix in state.verified_prefixes):
            raise _Refusal("url_ownership_unverified", f"the domain or URL prefix of {url} is not verified")
    with state.lock:
        publish_id = f"p_pub_url~v2-1.{state.next_id()}"
        state.posts[publish_id] = Post(
            publish_id=publish_id,
            kind="photo",
            token=token,
            post_info=post_info,
            source_info=dict(source),
            status="PROCESSING_DOWNLOAD",
        )
    return 200, _envelope({"publish_id": publish_id})


def _upload(state: State, publish_id: str, query: dict[str, list[str]], body: bytes, headers: Any) -> tuple[int, Any]:
    with state.lock:
        post = state.posts.get(publish_id)
        if post is None or post.kind != "video" or query.get("upload_token") != [post.upload_token]:
            raise _Refusal("not_found", "no such upload")
        if state.clock() > post.upload_expires:
            raise _Refusal("upload_url_expired", "the upload_url has expired")
        if post.uploaded or post.status != "PROCESSING_UPLOAD":
            raise _Refusal("invalid_params", "the upload is complete")
        if headers.get("Content-Type") not in VIDEO_TYPES:
            raise _Refusal("invalid_file_upload", f"Content-Type must be one of {', '.join(VIDEO_TYPES)}")
        match = re.fullmatch(r"bytes (\d+)-(\d+)/(\d+)", headers.get("Content-Range", ""))
        if match is None:
            raise _Refusal("invalid_params", "Content-Range: bytes FIRST-LAST/TOTAL is required")
        first, last, total = (int(group) for group in match.groups())
        if total != post.video_size:
            raise _Refusal("invalid_params", f"Content-Range total {total} is not video_size {post.video_size}")
        if first != len(post.received):
            raise _Refusal("invalid_params", f"chunks go in order: expected the one at byte {len(post.received)}")
        index = first // post.chunk_size
        final = index == post.total_chunk_count - 1
        expected = post.video_size - first if final else post.chunk_size
        if first % post.chunk_size or last - first + 1 != expected:
            raise _Refusal("invalid_params", f"chunk {index} is bytes {first}-{first + expected - 1}")
        if int(headers.get("Content-Length") or -1) != len(body) or len(body) != expected:
            raise _Refusal("invalid_params", "Content-Length does not match the chunk")
        post.received += body
        post.chunks.append((first, last))
        if not post.uploaded:
            return 206, None
    problem = _video_problem(bytes(post.received), state.account.max_video_post_duration_sec)
    with state.lock:
        if problem:
            post.status, post.fail_reason = "FAILED", problem
    return 201, None


def _video_problem(data: bytes, max_seconds: int) -> str:
    import av  # PyAV, as the media pipeline uses

    try:
        with av.open(io.BytesIO(data), "r") as container:
            if not container.streams.video:
                return "file_format_check_failed"
            duration = (container.duration or 0) / av.time_base
    except (av.FFmpegError, OSError, ValueError):
        return "file_format_check_failed"
    return "duration_check_failed" if duration > max_seconds else ""


def _pull(state: State, post: Post) -> None:
    """Fetch every photo as TikTok would; FAILED photo_pull_failed when one cannot be had."""
    photos: list[bytes] = []
    for url in post.source_info["photo_images"]:
        state.fetched.append(url)
        try:
            with urllib.request.urlopen(url, timeout=10) as response:
                data = response.read(MAX_PHOTO + 1)
        except (urllib.error.URLError, OSError):
            post.status, post.fail_reason = "FAILED", "photo_pull_failed"
            return
        is_jpeg = data.startswith(b"\xff\xd8\xff")
        is_webp = data[:4] == b"RIFF" and data[8:12] == b"WEBP"
        if len(data) > MAX_PHOTO or not (is_jpeg or is_webp):
            post.status, post.fail_reason = "FAILED", "photo_pull_failed"
            return
        photos.append(data)
        post.downloaded_bytes += len(data)
    post.photos = photos
    post.pulled = True


def _status(state: State, token: str, request: dict[str, Any]) -> tuple[int, Any]:
    publish_id = request.get("publish_id")
    with state.lock:
        post = state.posts.get(str(publish_id))
        if post is None or post.token != token:
            raise _Refusal("invalid_params", f"publish_id {publish_id!r} not found")
        post.polls += 1
        if post.kind == "photo" and not post.pulled and post.status != "FAILED":
            _pull(state, post)
        ready = post.uploaded or post.pulled
        if ready and post.status != "FAILED" and state.fail_next:
            post.status, post.fail_reason, state.fail_next = "FAILED", state.fail_next, None
        if ready and post.status != "FAILED":
            post.ready_polls += 1
            if post.ready_polls > state.processing_polls and post.status != "PUBLISH_COMPLETE":
                post.status, post.post_id = "PUBLISH_COMPLETE", state.next_id()
        data: dict[str, Any] = {"status": post.status}
        if post.status == "FAILED":
            data["fail_reason"] = post.fail_reason
        shown = post.ready_polls > state.processing_polls + state.post_id_delay
        public = post.post_info.get("privacy_level") != "SELF_ONLY"
        data["publicaly_available_post_id"] = [post.post_id] if post.post_id and shown and public else []
        if post.kind == "video":
            data["uploaded_bytes"] = len(post.received)
        else:
            data["downloaded_bytes"] = post.downloaded_bytes
    return 200, _envelope(data)


def _token(state: State, form: dict[str, str]) -> tuple[int, Any]:
    """The refresh grant (§3.1): TikTok answers the token fields at the top level, and rotates."""
    account = state.account
    if (form.get("client_key"), form.get("client_secret")) != (account.client_key, account.client_secret):
        return 200, {"error": "invalid_client", "error_description": "Client key or secret is incorrect."}
    if form.get("grant_type") != "refresh_token" or form.get("refresh_token") != account.refresh_token:
        return 200, {"error": "invalid_grant", "error_description": "Refresh token is invalid or expired."}
    with state.lock:
        account.refreshes += 1
        account.access_token = f"act.cms-user-token-{account.refreshes + 1}"
        account.refresh_token = f"rft.cms-refresh-{account.refreshes + 1}"
    return 200, {
        "access_token": account.access_token,
        "expires_in": 7200,
        "open_id": account.open_id,
        "refresh_expires_in": 15_552_000,
        "refresh_token": account.refresh_token,
        "scope": "user.info.basic,video.publish,video.upload",
        "token_type": "Bearer",
    }
