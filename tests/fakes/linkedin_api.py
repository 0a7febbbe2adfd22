"""A contract fake of LinkedIn's versioned REST API on loopback (shared/reference/platforms.md §2).

It checks requests the way LinkedIn does (§2.6 checklist):

* ``GET /v2/userinfo`` (OpenID Connect, unversioned): ``sub`` is the member's person id [PZ-LI];
* every REST call: ``Authorization: Bearer`` (401 otherwise), ``LinkedIn-Version`` and
  ``X-Restli-Protocol-Version: 2.0.0`` (400 when missing [§2.6]). Versions are monthly (YYYYMM)
  and served for about a year [LI2]: one 12 months or more older than the fake's date (``today``,
  by default the real one), or from a later month, gets LinkedIn's ``426`` with
  ``{"status": 426, "code": "NONEXISTENT_VERSION", "message": "Requested version V is not active"}``
  (verbatim in integrators' bug reports, e.g. n8n-io/n8n#28967 for 20250401 on 2026-04-23,
  PipedreamHQ/pipedream#7739; platforms.md gives no body);
* ``POST /rest/posts``: the required fields (422 listing the missing ones [LI-n8n]), the author's
  URN form and that the token may post as it, ``lifecycleState: PUBLISHED``, visibility,
  distribution, ``content.media`` (one image or video, uploaded and AVAILABLE) or
  ``content.multiImage`` (2-20 images [LI4]), alt text <= 4,086 characters [LI2], the commentary's
  3,000-character limit [LI13] (counted on the field as sent, escapes included: which one LinkedIn
  counts is UNCONFIRMED, this is the stricter reading). Commentary is little text [LI5]: a
  backslash escapes a reserved character; the first unescaped reserved character truncates the
  post *silently*, with a 201, as production does [LI12]. Each post keeps ``text``, what LinkedIn
  would display. A repeated commentary by the same author gets the verbatim 422 DUPLICATE_POST
  naming the first post [LI9]. 201 with the URN in ``x-restli-id`` [LI1];
* Images API: initializeUpload -> one PUT of the whole file to ``uploadUrl`` (Bearer) -> status
  PROCESSING, AVAILABLE after ``image_polls`` reads of ``GET /rest/images/{urn}``. A member's
  token cannot read images [PZ-LI]: for person-owned images that read answers 403 and the image
  becomes AVAILABLE ``image_ready_seconds`` after its PUT. Attaching an image that is not yet
  AVAILABLE is refused [PZ-LI] (the exact error is UNCONFIRMED: a 400 here);
* Videos API: initializeUpload (owner, fileSizeBytes 75 KB-500 MB [LI3], uploadCaptions,
  uploadThumbnail) -> ``uploadInstructions`` of ``part_size`` bytes -> a PUT per part with exactly
  its bytes, answered with an ``ETag`` -> finalizeUpload, which requires every part's ETag, in
  order, and the upload token -> status PROCESSING, AVAILABLE after ``video_polls`` reads.

Faults are scripted per route like the X fake: '429' (no headers, as LinkedIn documents [LI7]),
'429:SECONDS' (with a Retry-After, as a proxy might add), '500', '503', '401', 'drop' (acted on,
then the connection closes without an answer) or 'slow:SECONDS'.
"""

from __future__ import annotations

import io
import itertools
import json
import re
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from PIL import Image as PILImage

VERSION_LIFETIME_MONTHS = 12
RESERVED = set("\\|{}@[]()<>#*_~")
COMMENTARY_LIMIT = 3000
ALT_TEXT_LIMIT = 4086
MAX_PIXELS = 36_152_320
VIDEO_BYTES = (75 * 1024, 500 * 1024 * 1024)
PART_SIZE = 4_194_304
_PERSON = re.compile(r"urn:li:person:[A-Za-z0-9_-]+")
_ORGANIZATION = re.compile(r"urn:li:organization:[0-9]+")


def version_served(version: str, today: date) -> bool:
    """Does LinkedIn serve API version ``version`` (YYYYMM, or YYYYMMDD as some integrators send)
    on ``today``: released this month or in the 11 before it."""
    match = re.fullmatch(r"(\d{4})(\d{2})(\d{2})?", version)
    if match is None or not 1 <= int(match[2]) <= 12:
        return False
    age = (today.year * 12 + today.month) - (int(match[1]) * 12 + int(match[2]))
    return 0 <= age < VERSION_LIFETIME_MONTHS


def newest_version(today: date | None = None) -> str:
    """The newest version served on ``today`` (default: the real date): this month's."""
    return f"{today or datetime.now(UTC).date():%Y%m}"


ACTIVE_VERSION = newest_version()


@dataclass
class Account:
    """The member the token belongs to, and the pages they administer."""

    access_token: str = "li-access-token"
    member: str = "urn:li:person:cmsMember_01"
    organizations: tuple[str, ...] = ("urn:li:organization:2414183",)

    def credentials(
        self, *, author: str | None = None, expires_at: float | None = None, with_author: bool = True
    ) -> dict[str, Any]:
        """As stored for a channel; ``with_author=False`` as an OAuth connect leaves them."""
        values: dict[str, Any] = {"access_token": self.access_token}
        if with_author:
            values["author"] = author or self.member
        if expires_at is not None:
            values["expires_at"] = expires_at
        return values

    def may_act_as(self, urn: str) -> bool:
        return urn == self.member or urn in self.organizations


@dataclass
class Image:
    owner: str
    status: str = "WAITING_UPLOAD"  # -> PROCESSING -> AVAILABLE
    data: bytes = b""
    uploaded_at: float = 0.0
    reads: int = 0
    format: str = ""


@dataclass
class Video:
    owner: str
    size: int
    upload_token: str
    parts: list[tuple[int, int, str]]  # (firstByte, lastByte, upload id)
    received: dict[int, tuple[bytes, str]] = field(default_factory=dict)  # part index -> (bytes, ETag)
    status: str = "WAITING_UPLOAD"  # -> PROCESSING -> AVAILABLE
    reads: int = 0
    finalized_with: list[str] = field(default_factory=list)


@dataclass
class State:
    account: Account = field(default_factory=Account)
    # the date versions are judged by: the real one (crosspost's default follows the real date),
    # not the test clock, which the rest of the fake follows
    today: Callable[[], date] = field(default=lambda: datetime.now(UTC).date())
    posts: dict[str, dict[str, Any]] = field(default_factory=dict)
    images: dict[str, Image] = field(default_factory=dict)
    videos: dict[str, Video] = field(default_factory=dict)
    uploads: dict[str, tuple[str, str, int]] = field(default_factory=dict)  # id -> (kind, urn, part index)
    faults: list[tuple[str, str]] = field(default_factory=list)
    calls: list[tuple[str, str]] = field(default_factory=list)  # (method, path) of every request
    headers: list[dict[str, str]] = field(default_factory=list)  # the headers of every request
    lock: threading.Lock = field(default_factory=threading.Lock)
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    ids: Iterator[int] = field(default_factory=lambda: itertools.count(7141138937766391808))
    part_size: int = PART_SIZE
    image_polls: int = 1
    image_ready_seconds: float = 0.0
    video_polls: int = 2
    fail_videos: bool = False  # processing ends in PROCESSING_FAILED
    base_url: str = ""  # where uploadUrls point: this server

    def next_id(self) -> str:
        return str(next(self.ids))

    def creates(self) -> int:
        return sum(1 for call in self.calls if call == ("POST", "/rest/posts"))


class LinkedInFake:
    """``with LinkedInFake() as li: settings(linkedin_api_url=li.url)``."""

    def __init__(
        self, clock: Callable[[], datetime] | None = None, *, part_size: int = PART_SIZE, today: date | None = None
    ) -> None:
        self.state = State(part_size=part_size)
        if clock is not None:
            self.state.clock = clock
        if today is not None:
            self.state.today = lambda: today
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self.state))
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.state.base_url = self.url
        self._thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def __enter__(self) -> LinkedInFake:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def fault(self, route: str, fault: str) -> None:
        """The next request matching ``route`` (a regex on 'METHOD /path', query excluded) gets
        ``fault``: '429', '429:SECONDS', '500', '503', '401', 'drop' or 'slow:SECONDS'."""
        with self.state.lock:
            self.state.faults.append((route, fault))

    @property
    def posts(self) -> dict[str, dict[str, Any]]:
        return self.state.posts


class _Refusal(Exception):
    def __init__(self, status: int, message: str, *, code: str | None = None, extra: dict[str, Any] | None = None):
        super().__init__(message)
        self.status = status
        self.payload: dict[str, Any] = {"status": status, "message": message}
        if code:
            self.payload["code"] = code
        self.payload.update(extra or {})


def _input_errors(status: int, message: str, errors: list[tuple[str, str, str]]) -> _Refusal:
    """LinkedIn's validation failure: ``errorDetails.inputErrors`` of (code, description, field)."""
    details = [
        {"description": description, "input": {"inputPath": {"fieldPath": path}}, "code": code}
        for code, description, path in errors
    ]
    return _Refusal(
        status,
        message,
        extra={"errorDetailType": "com.linkedin.common.error.BadRequest", "errorDetails": {"inputErrors": details}},
    )


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
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            with state.lock:
                state.calls.append((method, parts.path))
                state.headers.append({name.lower(): value for name, value in self.headers.items()})
                fault = next((f for f in state.faults if re.fullmatch(f[0], f"{method} {parts.path}")), None)
                if fault is not None:
                    state.faults.remove(fault)
            kind = fault[1] if fault else None
            if kind and kind.startswith("slow:"):
                time.sleep(float(kind.split(":", 1)[1]))
            elif kind and kind.startswith("429"):
                # LinkedIn documents no rate-limit headers [LI7]; '429:N' adds a Retry-After
                extra = {"Retry-After": kind.split(":", 1)[1]} if ":" in kind else {}
                return self._send(429, {"status": 429, "message": "Resource level throttle limit reached"}, extra)
            elif kind == "401":
                return self._send(401, {"status": 401, "code": "EXPIRED_ACCESS_TOKEN", "message": "token expired"})
            elif kind in ("500", "503"):
                return self._send(int(kind), {"status": int(kind), "message": "Internal Server Error"})
            try:
                status, payload, headers = self._answer(method, parts.path, parts.query, body)
            except _Refusal as refusal:
                status, payload, headers = refusal.status, refusal.payload, {}
            if kind == "drop":  # the request was acted on; the answer never arrives
                self.close_connection = True
                self.connection.close()
                return
            self._send(status, payload, headers)

        def _answer(self, method: str, path: str, query: str, body: bytes) -> tuple[int, Any, dict[str, str]]:
            if path.startswith("/dms-uploads/"):
                return _upload(state, method, path, body, self.headers)
            if (method, path) == ("GET", "/v2/userinfo"):  # OpenID Connect, not versioned [PZ-LI]
                if self.headers.get("Authorization") != f"Bearer {state.account.access_token}":
                    raise _Refusal(401, "Invalid access token", code="INVALID_ACCESS_TOKEN")
                sub = state.account.member.rsplit(":", 1)[-1]
                return 200, {"sub": sub, "name": "CMS Member", "email_verified": True}, {}
            self._check_headers(method)
            return _dispatch(state, method, path, dict(parse_qsl(query)), body)

        def _check_headers(self, method: str) -> None:
            if self.headers.get("Authorization") != f"Bearer {state.account.access_token}":
                raise _Refusal(401, "Invalid access token", code="INVALID_ACCESS_TOKEN")
            version = self.headers.get("LinkedIn-Version")
            if not version:
                raise _Refusal(
                    400, "A version must be present. Please specify a version by adding the LinkedIn-Version header."
                )
            if not version_served(version, state.today()):
                raise _Refusal(426, f"Requested version {version} is not active", code="NONEXISTENT_VERSION")
            if self.headers.get("X-Restli-Protocol-Version") != "2.0.0":
                raise _Refusal(400, "X-Restli-Protocol-Version: 2.0.0 is required for this resource")
            if method == "POST" and not (self.headers.get("Content-Type") or "").startswith("application/json"):
                raise _Refusal(400, "Content-Type must be application/json")

        def _send(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
            data = json.dumps(payload).encode() if payload is not None else b""
            self.send_response(status)
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            if data:
                self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    return Handler


def _dispatch(
    state: State, method: str, path: str, query: dict[str, str], body: bytes
) -> tuple[int, Any, dict[str, str]]:
    request = json.loads(body or b"{}") if method == "POST" else {}
    if (method, path) == ("POST", "/rest/posts"):
        return _create(state, request)
    if (method, path) == ("POST", "/rest/images") and query.get("action") == "initializeUpload":
        return _initialize_image(state, request)
    if (method, path) == ("POST", "/rest/videos") and query.get("action") == "initializeUpload":
        return _initialize_video(state, request)
    if (method, path) == ("POST", "/rest/videos") and query.get("action") == "finalizeUpload":
        return _finalize_video(state, request)
    if method == "GET" and (match := re.fullmatch(r"/rest/(images|videos)/([^/]+)", path)):
        return _status(state, match[1], unquote(match[2]))
    raise _Refusal(404, f"No virtual resource found for {method} {path}", code="RESOURCE_NOT_FOUND")


# -- posts -----------------------------------------------------------------------------------------


def displayed(commentary: str) -> tuple[str, bool]:
    """What LinkedIn shows for little text: escapes resolved, cut at the first unescaped reserved
    character. Returns (text, truncated)."""
    out: list[str] = []
    index = 0
    while index < len(commentary):
        char = commentary[index]
        if char == "\\" and index + 1 < len(commentary) and commentary[index + 1] in RESERVED:
            out.append(commentary[index + 1])
            index += 2
            continue
        if char in RESERVED:
            return "".join(out), True
        out.append(char)
        index += 1
    return "".join(out), False


def _utf16(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _create(state: State, request: dict[str, Any]) -> tuple[int, Any, dict[str, str]]:
    required = ("author", "commentary", "visibility", "distribution", "lifecycleState")
    missing = [name for name in required if name not in request]
    if missing:
        raise _input_errors(
            422,
            "ERROR :: "
            + ", ".join(f"/{name} :: field is required but not found and has no default value" for name in missing),
            [("FIELD_REQUIRED", "field is required but not found and has no default value", f"/{n}") for n in missing],
        )
    known = set(required) | {
        "content",
        "isReshareDisabledByAuthor",
        "contentLandingPage",
        "reshareContext",
        "adContext",
    }
    unknown = sorted(set(request) - known)
    if unknown:
        raise _input_errors(
            422, f"Unrecognized field(s) {unknown}", [("UNRECOGNIZED_FIELD", "unknown field", f"/{n}") for n in unknown]
        )
    author = request["author"]
    if not isinstance(author, str) or not (_PERSON.fullmatch(author) or _ORGANIZATION.fullmatch(author)):
        raise _input_errors(
            422,
            f"/author: {author!r} is not a person or organization URN",
            [("INVALID_URN", "invalid author", "/author")],
        )
    if not state.account.may_act_as(author):
        raise _Refusal(403, f"Not enough permissions to post as {author}", code="ACCESS_DENIED")
    if request["lifecycleState"] != "PUBLISHED":
        raise _input_errors(
            422, "lifecycleState must be PUBLISHED", [("INVALID_VALUE", "only PUBLISHED", "/lifecycleState")]
        )
    if request["visibility"] not in ("PUBLIC", "CONNECTIONS", "LOGGED_IN"):
        raise _input_errors(
            422, f"visibility {request['visibility']!r}", [("INVALID_VALUE", "visibility", "/visibility")]
        )
    distribution = request["distribution"]
    if (
        not isinstance(distribution, dict)
        or distribution.get("feedDistribution") not in ("MAIN_FEED", "NONE")
        or not isinstance(distribution.get("targetEntities", []), list)
        or not isinstance(distribution.get("thirdPartyDistributionChannels", []), list)
    ):
        raise _input_errors(422, f"distribution {distribution!r}", [("INVALID_VALUE", "distribution", "/distribution")])
    if not isinstance(request.get("isReshareDisabledByAuthor", False), bool):
        raise _input_errors(
            422,
            "isReshareDisabledByAuthor must be a boolean",
            [("INVALID_VALUE", "boolean", "/isReshareDisabledByAuthor")],
        )
    commentary = request["commentary"]
    if not isinstance(commentary, str):
        raise _input_errors(422, "commentary must be a string", [("INVALID_VALUE", "string", "/commentary")])
    if _utf16(commentary) > COMMENTARY_LIMIT:
        raise _input_errors(
            422,
            f"/commentary is {_utf16(commentary)} characters long, more than {COMMENTARY_LIMIT}",
            [("COMMENTARY_LENGTH_TOO_LONG", f"at most {COMMENTARY_LIMIT} characters", "/commentary")],
        )
    with state.lock:
        media = _attached(state, author, request.get("content"))
        for urn, post in state.posts.items():
            if post["author"] == author and post["commentary"] == commentary:
                # verbatim shape of LinkedIn's answer [LI9]
                raise _Refusal(
                    422,
                    "com.linkedin.content.common.exception.BadRequestResponseException: "
                    f"Content is a duplicate of {urn}",
                    extra={
                        "errorDetailType": "com.linkedin.common.error.BadRequest",
                        "errorDetails": {
                            "inputErrors": [
                                {"description": "Duplicate post is detected", "input": {}, "code": "DUPLICATE_POST"}
                            ]
                        },
                    },
                )
        urn = f"urn:li:share:{state.next_id()}"
        text, truncated = displayed(commentary)
        state.posts[urn] = {
            "urn": urn,
            "author": author,
            "commentary": commentary,
            "text": text,
            "truncated": truncated,
            "visibility": request["visibility"],
            "content": request.get("content"),
            "media": media,
            "created_at": state.clock().isoformat(),
        }
    return 201, None, {"x-restli-id": urn}


def _attached(state: State, author: str, content: Any) -> list[str]:
    """The URNs a post's ``content`` attaches, checked: owned by the author, uploaded, AVAILABLE."""
    if content is None:
        return []
    if not isinstance(content, dict) or len(content) != 1 or next(iter(content)) not in ("media", "multiImage"):
        raise _input_errors(
            422, f"content {content!r}: one of media, multiImage", [("INVALID_VALUE", "content", "/content")]
        )
    items: Any
    if "media" in content:
        items, path = [content["media"]], "/content/media"
    else:
        multi = content["multiImage"]
        items, path = (multi.get("images") if isinstance(multi, dict) else None), "/content/multiImage/images"
        if not isinstance(items, list) or not 2 <= len(items) <= 20:
            raise _input_errors(422, "multiImage takes 2 to 20 images", [("INVALID_VALUE", "2-20 images", path)])
    urns = []
    for item in items:
        if not isinstance(item, dict) or not isinstance(item.get("id"), str):
            raise _input_errors(422, f"{path}: an id is required", [("FIELD_REQUIRED", "id", f"{path}/id")])
        alt = item.get("altText", "")
        if not isinstance(alt, str) or len(alt) > ALT_TEXT_LIMIT:
            raise _input_errors(
                422, f"altText longer than {ALT_TEXT_LIMIT}", [("INVALID_VALUE", "altText", f"{path}/altText")]
            )
        urn = item["id"]
        asset: Image | Video | None = state.images.get(urn) or state.videos.get(urn)
        if "multiImage" in content and urn not in state.images:
            raise _input_errors(422, f"{urn}: multiImage takes images only", [("INVALID_VALUE", "image URN", path)])
        if asset is None:
            raise _input_errors(422, f"{urn} does not exist", [("INVALID_URN", "unknown media", path)])
        if asset.owner != author:
            raise _Refusal(403, f"{urn} is not owned by {author}", code="ACCESS_DENIED")
        if isinstance(asset, Image):
            _settle_image(state, asset, read=False)
        if asset.status != "AVAILABLE":
            # UNCONFIRMED how LinkedIn words it; that it refuses is from [PZ-LI]
            raise _Refusal(400, f"Media {urn} is not AVAILABLE (status {asset.status})", code="MEDIA_NOT_READY")
        urns.append(urn)
    return urns


# -- media -----------------------------------------------------------------------------------------


def _owner(state: State, request: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    init = request.get("initializeUploadRequest")
    if not isinstance(init, dict) or not isinstance(init.get("owner"), str):
        raise _input_errors(
            422,
            "initializeUploadRequest.owner is required",
            [("FIELD_REQUIRED", "owner", "/initializeUploadRequest/owner")],
        )
    owner = init["owner"]
    if not (_PERSON.fullmatch(owner) or _ORGANIZATION.fullmatch(owner)):
        raise _input_errors(
            422,
            f"owner {owner!r} is not a person or organization URN",
            [("INVALID_URN", "owner", "/initializeUploadRequest/owner")],
        )
    if not state.account.may_act_as(owner):
        raise _Refusal(403, f"Not enough permissions to upload as {owner}", code="ACCESS_DENIED")
    return owner, init


def _initialize_image(state: State, request: dict[str, Any]) -> tuple[int, Any, dict[str, str]]:
    owner, _ = _owner(state, request)
    with state.lock:
        urn = f"urn:li:image:D4E10AQ{state.next_id()}"
        upload = secrets.token_hex(8)
        state.images[urn] = Image(owner=owner)
        state.uploads[upload] = ("image", urn, 0)
    expires = int(time.time() * 1000) + 86_400_000
    return (
        200,
        {"value": {"uploadUrlExpiresAt": expires, "uploadUrl": f"{state.base_url}/dms-uploads/{upload}", "image": urn}},
        {},
    )


def _initialize_video(state: State, request: dict[str, Any]) -> tuple[int, Any, dict[str, str]]:
    owner, init = _owner(state, request)
    size = init.get("fileSizeBytes")
    if not isinstance(size, int) or not VIDEO_BYTES[0] <= size <= VIDEO_BYTES[1]:
        raise _input_errors(
            422,
            f"fileSizeBytes {size!r}: 75 KB to 500 MB",
            [("INVALID_VALUE", "fileSizeBytes", "/initializeUploadRequest/fileSizeBytes")],
        )
    for flag in ("uploadCaptions", "uploadThumbnail"):
        if not isinstance(init.get(flag, False), bool):
            raise _input_errors(
                422, f"{flag} must be a boolean", [("INVALID_VALUE", flag, f"/initializeUploadRequest/{flag}")]
            )
    with state.lock:
        urn = f"urn:li:video:C5F10AQ{state.next_id()}"
        parts = []
        for index, first in enumerate(range(0, size, state.part_size)):
            upload = secrets.token_hex(8)
            parts.append((first, min(first + state.part_size, size) - 1, upload))
            state.uploads[upload] = ("video", urn, index)
        state.videos[urn] = Video(owner=owner, size=size, upload_token=secrets.token_hex(6), parts=parts)
    instructions = [
        {"uploadUrl": f"{state.base_url}/dms-uploads/{upload}", "firstByte": first, "lastByte": last}
        for first, last, upload in parts
    ]
    expires = int(time.time() * 1000) + 86_400_000
    return (
        200,
        {
            "value": {
                "uploadUrlsExpireAt": expires,
                "video": urn,
                "uploadInstructions": instructions,
                "uploadToken": state.videos[urn].upload_token,
            }
        },
        {},
    )


def _upload(state: State, method: str, path: str, body: bytes, headers: Any) -> tuple[int, Any, dict[str, str]]:
    """A PUT to an ``uploadUrl`` (outside the versioned REST API: no version headers needed)."""
    if method != "PUT":
        raise _Refusal(405, "uploads take PUT")
    with state.lock:
        target = state.uploads.get(path.rsplit("/", 1)[-1])
        if target is None:
            raise _Refusal(404, "no such upload")
        kind, urn, index = target
        if kind == "image":
            if headers.get("Authorization") != f"Bearer {state.account.access_token}":
                raise _Refusal(401, "Invalid access token", code="INVALID_ACCESS_TOKEN")
            image = state.images[urn]
            if image.status != "WAITING_UPLOAD":
                raise _Refusal(400, f"{urn} was already uploaded (one PUT of the whole file)")
            try:
                with PILImage.open(io.BytesIO(body)) as picture:
                    image.format = str(picture.format)
                    pixels = picture.width * picture.height
                    frames = getattr(picture, "n_frames", 1)
            except Exception:
                raise _Refusal(400, "not an image LinkedIn can read") from None
            if image.format not in ("JPEG", "PNG", "GIF") or pixels >= MAX_PIXELS or frames > 250:
                raise _Refusal(400, f"{image.format} image of {pixels} pixels and {frames} frames is not accepted")
            image.data, image.status, image.uploaded_at = body, "PROCESSING", time.monotonic()
            return 201, None, {}
        video = state.videos[urn]
        if (headers.get("Content-Type") or "") != "application/octet-stream":
            raise _Refusal(400, "video parts are application/octet-stream")
        first, last, _ = video.parts[index]
        if len(body) != last - first + 1:
            raise _Refusal(400, f"part {index}: expected bytes {first}-{last} ({last - first + 1}), got {len(body)}")
        etag = f"/ambry-video/signedId/{secrets.token_hex(10)}"
        video.received[index] = (body, etag)
    return 200, None, {"ETag": etag}


def _finalize_video(state: State, request: dict[str, Any]) -> tuple[int, Any, dict[str, str]]:
    final = request.get("finalizeUploadRequest")
    if not isinstance(final, dict):
        raise _input_errors(
            422,
            "finalizeUploadRequest is required",
            [("FIELD_REQUIRED", "finalizeUploadRequest", "/finalizeUploadRequest")],
        )
    with state.lock:
        video = state.videos.get(str(final.get("video")))
        if video is None:
            raise _Refusal(404, f"no video {final.get('video')!r}")
        if final.get("uploadToken", "") != video.upload_token:
            raise _Refusal(400, "uploadToken does not match the upload")
        if video.status != "WAITING_UPLOAD":
            raise _Refusal(400, "the upload was already finalized")
        expected = [video.received[i][1] if i in video.received else None for i in range(len(video.parts))]
        if None in expected:
            missing = [i for i, etag in enumerate(expected) if etag is None]
            raise _Refusal(400, f"parts {missing} were never uploaded")
        if final.get("uploadedPartIds") != expected:
            raise _Refusal(400, "uploadedPartIds must be every part's ETag, in the order of uploadInstructions")
        if sum(len(video.received[i][0]) for i in range(len(video.parts))) != video.size:
            raise _Refusal(400, "the parts do not add up to fileSizeBytes")
        video.status, video.finalized_with = "PROCESSING", list(final["uploadedPartIds"])
    return 200, None, {}


def _settle_image(state: State, image: Image, *, read: bool) -> None:
    if image.status != "PROCESSING":
        return
    if read:
        image.reads += 1
        if image.reads >= state.image_polls:
            image.status = "AVAILABLE"
    elif _PERSON.fullmatch(image.owner) and time.monotonic() - image.uploaded_at >= state.image_ready_seconds:
        image.status = "AVAILABLE"  # nobody can watch a member's image: it is ready in its own time


def _status(state: State, kind: str, urn: str) -> tuple[int, Any, dict[str, str]]:
    with state.lock:
        if kind == "images":
            image = state.images.get(urn)
            if image is None:
                raise _Refusal(404, f"no image {urn}")
            if _PERSON.fullmatch(image.owner):
                # a w_member_social token cannot read images back [PZ-LI] (exact answer UNCONFIRMED)
                raise _Refusal(
                    403, f"Not enough permissions to access: images.GET.{ACTIVE_VERSION}", code="ACCESS_DENIED"
                )
            _settle_image(state, image, read=True)
            return 200, {"id": urn, "owner": image.owner, "status": image.status}, {}
        video = state.videos.get(urn)
        if video is None:
            raise _Refusal(404, f"no video {urn}")
        if video.status == "PROCESSING":
            video.reads += 1
            if video.reads >= state.video_polls:
                video.status = "PROCESSING_FAILED" if state.fail_videos else "AVAILABLE"
        answer: dict[str, Any] = {"id": urn, "owner": video.owner, "status": video.status}
        if video.status == "PROCESSING_FAILED":
            answer["processingFailureReason"] = "Video format is not supported"
        return 200, answer, {}
