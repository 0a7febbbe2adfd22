"""A contract fake of X's API v2 on loopback (shared/reference/platforms.md §1.6).

It checks requests the way X does: OAuth 1.0a signatures (HMAC-SHA1, over the
``https://api.twitter.com`` URL tweepy signs, or this server's own URL for uploads) or an OAuth
2.0 user token; the 280 weighted-character limit with twitter-text; at most 4 media ids, each
uploaded and processed; the v2 media state machine (initialize -> append (segments 0-999, in
order) -> finalize -> STATUS pending/in_progress/succeeded); alt text for an uploaded image or
GIF (``POST /2/media/metadata``, at most 1,000 characters); the duplicate-content 403. Faults
are scripted per route: 429 with the three x-rate-limit headers, 5xx, 401, a slow answer, or a
connection dropped after the request was received (and acted on).
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
import random
import re
import string
import threading
import time
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from oauthlib import oauth1
from oauthlib.oauth1.rfc5849 import signature
from twitter_text import parse_tweet

TWEEPY_HOST = "https://api.twitter.com"
_URL = re.compile(r"https?://\S+")


@dataclass
class Keys:
    consumer_key: str = "ck"
    consumer_secret: str = "cs"
    access_token: str = "1-at"
    access_token_secret: str = "ats"
    bearer: str = "oauth2-user-token"
    refresh_token: str = "refresh-1"
    client_id: str = "crosspost-app"
    issued: int = 1
    user_id: str = "1000"
    username: str = "CMSExperiment"

    def credentials(self, *, oauth1: bool = True) -> dict[str, Any]:
        base: dict[str, Any] = {"user_id": self.user_id, "username": self.username}
        if oauth1:
            return base | {
                "oauth1": {
                    "consumer_key": self.consumer_key,
                    "consumer_secret": self.consumer_secret,
                    "access_token": self.access_token,
                    "access_token_secret": self.access_token_secret,
                }
            }
        return base | {"access_token": self.bearer, "refresh_token": self.refresh_token, "client_id": self.client_id}


@dataclass
class Media:
    category: str
    media_type: str
    total: int
    received: bytearray = field(default_factory=bytearray)
    next_segment: int = 0
    state: str = "uploading"  # uploading -> pending -> in_progress -> succeeded
    polls: int = 0
    alt_text: str | None = None  # set by POST /2/media/metadata


@dataclass
class State:
    keys: Keys = field(default_factory=Keys)
    tweets: dict[str, dict[str, Any]] = field(default_factory=dict)
    media: dict[str, Media] = field(default_factory=dict)
    faults: list[tuple[str, str]] = field(default_factory=list)  # (route pattern, fault)
    calls: list[tuple[str, str]] = field(default_factory=list)  # (method, path) of every request
    codes: dict[str, tuple[str, str]] = field(default_factory=dict)  # code -> (PKCE challenge, redirect_uri)
    lock: threading.Lock = field(default_factory=threading.Lock)
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))  # X's own clock, for created_at
    ids: Iterator[int] = field(default_factory=lambda: itertools.count(1880000000000000001))

    def next_id(self) -> str:
        return str(next(self.ids))

    def creates(self) -> int:
        return sum(1 for method, path in self.calls if (method, path) == ("POST", "/2/tweets"))


class XFake:
    """``with XFake() as x: settings(x_api_url=x.url, x_upload_url=x.url)``."""

    def __init__(self, clock: Callable[[], datetime] | None = None) -> None:
        self.state = State()
        if clock is not None:
            self.state.clock = clock
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self.state))
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def __enter__(self) -> XFake:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def fault(self, route: str, fault: str) -> None:
        """The next request matching ``route`` (a regex on 'METHOD /path') gets ``fault``:
        '429', '500', '503', '401', 'drop' (acted on, then the connection closes), '503-after' (acted
        on, then a 503) or 'slow:SECONDS'."""
        with self.state.lock:
            self.state.faults.append((route, fault))

    @property
    def tweets(self) -> dict[str, dict[str, Any]]:
        return self.state.tweets


def _handler(state: State) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            self._route("GET")

        def do_POST(self) -> None:
            self._route("POST")

        def _route(self, method: str) -> None:
            parts = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            with state.lock:
                state.calls.append((method, parts.path))
                fault = next((f for f in state.faults if re.fullmatch(f[0], f"{method} {parts.path}")), None)
                if fault is not None:
                    state.faults.remove(fault)
            kind = fault[1] if fault else None
            if kind and kind.startswith("slow:"):
                time.sleep(float(kind.split(":", 1)[1]))
            elif kind in ("429", "500", "503", "401"):
                return self._fail(int(kind))
            if (method, parts.path) == ("POST", "/2/oauth2/token"):
                status, payload = _token(state, dict(parse_qsl(body.decode())))
                return self._send(status, payload)
            if (method, parts.path) == ("GET", "/i/oauth2/authorize"):
                return self._authorize(dict(parse_qsl(parts.query)))
            problem = self._auth_problem(method, parts.path, parts.query, body)
            if problem:
                return self._send(
                    401, {"title": "Unauthorized", "detail": problem, "status": 401, "type": "about:blank"}
                )
            try:
                status, payload = _dispatch(state, method, parts.path, parts.query, body, self.headers)
            except _Refusal as refusal:
                status, payload = refusal.status, refusal.payload
            if kind == "drop":  # the request was acted on; the answer never arrives
                self.close_connection = True
                self.connection.close()
                return
            if kind == "503-after":  # acted on, then a gateway answers 503 (as X's edge sometimes does)
                return self._fail(503)
            self._send(status, payload)

        def _authorize(self, query: dict[str, str]) -> None:
            """The person signs in and consents at once; the browser goes back with a code."""
            keys = state.keys
            scopes = set(query.get("scope", "").split())
            wrong = [
                problem
                for problem, bad in (
                    ("response_type must be code", query.get("response_type") != "code"),
                    ("unknown client_id", query.get("client_id") != keys.client_id),
                    ("PKCE with S256 is required", query.get("code_challenge_method") != "S256"),
                    ("scope lacks tweet.write or offline.access", not {"tweet.write", "offline.access"} <= scopes),
                    ("redirect_uri and state are required", not query.get("redirect_uri") or not query.get("state")),
                )
                if bad
            ]
            if wrong:
                return self._send(400, {"error": "invalid_request", "error_description": "; ".join(wrong)})
            code = f"code-{len(state.codes) + 1}"
            with state.lock:
                state.codes[code] = (query["code_challenge"], query["redirect_uri"])
            self.send_response(302)
            self.send_header("Location", f"{query['redirect_uri']}?state={query['state']}&code={code}")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def _fail(self, status: int) -> None:
            if status == 429:
                reset = int(time.time()) + 2
                headers = {"x-rate-limit-limit": "100", "x-rate-limit-remaining": "0", "x-rate-limit-reset": str(reset)}
                return self._send(429, {"errors": [{"code": 88, "message": "Rate limit exceeded"}]}, headers)
            if status == 401:
                return self._send(401, {"title": "Unauthorized", "detail": "Unauthorized", "status": 401})
            return self._send(status, {"title": "Service Unavailable", "detail": "Overloaded", "status": status})

        def _send(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
            data = json.dumps(payload).encode() if payload is not None else b""
            self.send_response(status)
            base = {"x-rate-limit-limit": "100", "x-rate-limit-remaining": "99", "x-rate-limit-reset": "0"}
            for name, value in (base | (headers or {})).items():
                self.send_header(name, value)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _auth_problem(self, method: str, path: str, query: str, body: bytes) -> str | None:
            header = self.headers.get("Authorization", "")
            keys = state.keys
            if header.startswith("Bearer "):
                return None if header[7:] == keys.bearer else "Invalid or expired token"
            if not header.startswith("OAuth "):
                return "no Authorization header"
            params = dict(
                (unquote(k), unquote(v.strip('"')))
                for k, v in (item.strip().split("=", 1) for item in header[6:].split(","))
            )
            if params.get("oauth_consumer_key") != keys.consumer_key or params.get("oauth_token") != keys.access_token:
                return "Could not authenticate you (unknown key or token)"
            form = body if self.headers.get("Content-Type", "").startswith("application/x-www-form-urlencoded") else b""
            collected = signature.collect_parameters(
                uri_query=query,
                body=form.decode() or None,
                headers={"Authorization": header},
                exclude_oauth_signature=True,
            )
            normalised = signature.normalize_parameters(collected)
            for host in (TWEEPY_HOST, f"http://127.0.0.1:{self.server.server_address[1]}"):
                base = signature.signature_base_string(method, signature.base_string_uri(host + path), normalised)
                signer = oauth1.Client(
                    keys.consumer_key,
                    client_secret=keys.consumer_secret,
                    resource_owner_key=keys.access_token,
                    resource_owner_secret=keys.access_token_secret,
                )
                expected = signature.sign_hmac_sha1_with_client(base, signer)
                if expected == params.get("oauth_signature"):
                    return None
            return "Could not authenticate you (bad signature)"

    return Handler


class _Refusal(Exception):
    def __init__(self, status: int, detail: str, *, title: str = "Invalid Request") -> None:
        self.status = status
        self.payload = {"title": title, "detail": detail, "type": "about:blank", "status": status}


def _dispatch(state: State, method: str, path: str, query: str, body: bytes, headers: Any) -> tuple[int, Any]:
    if (method, path) == ("POST", "/2/tweets"):
        return _create(state, json.loads(body or b"{}"))
    if method == "GET" and (match := re.fullmatch(r"/2/users/(\d+)/tweets", path)):
        return _timeline(state, match[1], dict(parse_qsl(query)))
    if (method, path) == ("GET", "/2/users/me"):
        return 200, {"data": {"id": state.keys.user_id, "username": state.keys.username, "name": "CMS"}}
    if (method, path) == ("POST", "/2/media/upload"):
        return _simple_upload(state, body, headers)
    if (method, path) == ("POST", "/2/media/upload/initialize"):
        return _initialize(state, json.loads(body or b"{}"))
    if method == "POST" and (match := re.fullmatch(r"/2/media/upload/(\d+)/append", path)):
        return _append(state, match[1], body, headers)
    if method == "POST" and (match := re.fullmatch(r"/2/media/upload/(\d+)/finalize", path)):
        return _finalize(state, match[1])
    if (method, path) == ("GET", "/2/media/upload"):
        return _status(state, dict(parse_qsl(query)))
    if (method, path) == ("POST", "/2/media/metadata"):
        return _metadata(state, body, headers)
    raise _Refusal(404, f"no route {method} {path}", title="Not Found")


def _token(state: State, form: dict[str, str]) -> tuple[int, Any]:
    """The refresh grant: a new access token and a new refresh token; the old ones stop working."""
    keys = state.keys
    if form.get("grant_type") == "authorization_code":
        return _code_grant(state, form)
    if form.get("grant_type") != "refresh_token" or form.get("client_id") != keys.client_id:
        return 400, {"error": "invalid_request", "error_description": "Missing required parameter"}
    with state.lock:
        if form.get("refresh_token") != keys.refresh_token:
            return 400, {"error": "invalid_request", "error_description": "Value passed for the token was invalid."}
        keys.issued += 1
        keys.bearer = f"oauth2-user-token-{keys.issued}"
        keys.refresh_token = f"refresh-{keys.issued}"
        return 200, {
            "token_type": "bearer",
            "expires_in": 7200,
            "access_token": keys.bearer,
            "scope": "tweet.read tweet.write users.read media.write offline.access",
            "refresh_token": keys.refresh_token,
        }


def _code_grant(state: State, form: dict[str, str]) -> tuple[int, Any]:
    with state.lock:
        issued = state.codes.pop(form.get("code", ""), None)  # a code works once
        if issued is None or form.get("client_id") != state.keys.client_id:
            return 400, {
                "error": "invalid_request",
                "error_description": "Value passed for the authorization code was invalid.",
            }
        challenge, redirect_uri = issued
        verifier = form.get("code_verifier", "")
        expected = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
        if expected != challenge or form.get("redirect_uri") != redirect_uri:
            return 400, {
                "error": "invalid_request",
                "error_description": "code_verifier or redirect_uri does not match",
            }
        keys = state.keys
        keys.issued += 1
        keys.bearer, keys.refresh_token = f"oauth2-user-token-{keys.issued}", f"refresh-{keys.issued}"
        return 200, {
            "token_type": "bearer",
            "expires_in": 7200,
            "access_token": keys.bearer,
            "refresh_token": keys.refresh_token,
            "scope": "tweet.write offline.access",
        }


def _create(state: State, request: dict[str, Any]) -> tuple[int, Any]:
    unknown = set(request) - {"text", "media", "reply", "reply_settings", "poll"}
    if unknown:
        raise _Refusal(400, f"unknown fields {sorted(unknown)}")
    text = request.get("text", "")
    media_ids = request.get("media", {}).get("media_ids", [])
    if not text and not media_ids:
        raise _Refusal(400, "text is required unless media is provided")
    if text and not parse_tweet(text).valid:
        raise _Refusal(400, f"text is too long: weighted length {parse_tweet(text).weightedLength} > 280")
    if len(media_ids) > 4 or not all(isinstance(m, str) and re.fullmatch(r"[0-9]{1,19}", m) for m in media_ids):
        raise _Refusal(400, "media.media_ids: 1 to 4 numeric strings")
    with state.lock:
        for media_id in media_ids:
            item = state.media.get(media_id)
            if item is None or item.state != "succeeded":
                raise _Refusal(400, f"media {media_id} is not uploaded and processed")
        kinds = {state.media[m].category for m in media_ids}
        if len(media_ids) > 1 and kinds != {"tweet_image"}:
            raise _Refusal(400, "up to 4 photos, or 1 GIF, or 1 video")
        parent = request.get("reply", {}).get("in_reply_to_tweet_id")
        if parent is not None and parent not in state.tweets:
            raise _Refusal(400, f"in_reply_to_tweet_id {parent} does not exist")
        if any(t["sent"] == text and text for t in state.tweets.values()):
            raise _Refusal(403, "You are not allowed to create a Tweet with duplicate content.", title="Forbidden")
        tweet_id = state.next_id()
        shown = render(text, with_media=bool(media_ids))
        state.tweets[tweet_id] = {
            "id": tweet_id,
            "sent": text,
            "text": shown,
            "media_ids": media_ids,
            "in_reply_to": parent,
            "created_at": state.clock().isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        }
    return 201, {"data": {"id": tweet_id, "text": shown, "edit_history_tweet_ids": [tweet_id]}}


def render(text: str, *, with_media: bool) -> str:
    """The text as X returns it (platforms.md §1.5): NFC, every URL a 23-character t.co link, one
    more t.co link appended for attached media, and ``& < >`` as HTML entities."""
    shown = _URL.sub(lambda _: _tco(), unicodedata.normalize("NFC", text))
    if with_media:
        shown = f"{shown} {_tco()}" if shown else _tco()
    return shown.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _tco() -> str:
    return "https://t.co/" + "".join(random.choices(string.ascii_letters + string.digits, k=10))


def _timeline(state: State, user_id: str, query: dict[str, str]) -> tuple[int, Any]:
    if user_id != state.keys.user_id:
        raise _Refusal(404, f"no user {user_id}", title="Not Found")
    since = query.get("start_time")
    with state.lock:
        tweets = [
            {"id": t["id"], "text": t["text"], "created_at": t["created_at"], "edit_history_tweet_ids": [t["id"]]}
            for t in reversed(state.tweets.values())
            if since is None or t["created_at"] >= since.replace("+00:00", "Z")
        ]
    limit = int(query.get("max_results", "10"))
    return 200, (
        {"data": tweets[:limit], "meta": {"result_count": min(limit, len(tweets))}}
        if tweets
        else {"meta": {"result_count": 0}}
    )


def _form(body: bytes, headers: Any) -> dict[str, Any]:
    """multipart/form-data fields: name -> bytes (files) or str."""
    content_type = headers.get("Content-Type", "")
    if not content_type.startswith("multipart/form-data"):
        raise _Refusal(400, "expected multipart/form-data")
    message = BytesParser(policy=HTTP).parsebytes(b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + body)
    fields: dict[str, Any] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True) or b""
        fields[str(name)] = payload if part.get_filename() else payload.decode()
    return fields


def _simple_upload(state: State, body: bytes, headers: Any) -> tuple[int, Any]:
    fields = _form(body, headers)
    category = fields.get("media_category")
    if category not in ("tweet_image", "tweet_gif", "tweet_video", "dm_image", "subtitles"):
        raise _Refusal(400, "media_category is required")
    data = fields.get("media")
    if not isinstance(data, bytes) or not data:
        raise _Refusal(400, "media is required")
    if len(data) > 5 * 1024 * 1024:
        raise _Refusal(400, "images must be 5 MB or less")
    with state.lock:
        media_id = state.next_id()
        state.media[media_id] = Media(category, "image", len(data), bytearray(data), state="succeeded")
    return 200, {"data": {"id": media_id, "media_key": f"3_{media_id}", "size": len(data), "expires_after_secs": 86400}}


def _initialize(state: State, request: dict[str, Any]) -> tuple[int, Any]:
    media_type, total, category = request.get("media_type"), request.get("total_bytes"), request.get("media_category")
    if media_type not in ("video/mp4", "video/quicktime", "video/webm", "image/gif", "image/jpeg", "image/png"):
        raise _Refusal(400, f"media_type {media_type!r} is not supported")
    if not isinstance(total, int) or not 0 < total <= 512 * 1024 * 1024:
        raise _Refusal(400, "total_bytes must be 1 to 536870912")
    if category not in ("tweet_video", "tweet_gif", "tweet_image", "amplify_video"):
        raise _Refusal(400, "media_category is required")
    with state.lock:
        media_id = state.next_id()
        state.media[media_id] = Media(category, media_type, total)
    return 200, {"data": {"id": media_id, "media_key": f"7_{media_id}", "expires_after_secs": 1295999}}


def _append(state: State, media_id: str, body: bytes, headers: Any) -> tuple[int, Any]:
    fields = _form(body, headers)
    with state.lock:
        item = state.media.get(media_id)
        if item is None or item.state != "uploading":
            raise _Refusal(400, f"media {media_id} is not being uploaded")
        segment = int(fields.get("segment_index", "-1"))
        if segment != item.next_segment or not 0 <= segment <= 999:
            raise _Refusal(400, f"segment_index {segment}: expected {item.next_segment} (0-999, in order)")
        chunk = fields.get("media")
        if not isinstance(chunk, bytes) or not chunk:
            raise _Refusal(400, "media is required")
        item.received += chunk
        item.next_segment += 1
        if len(item.received) > item.total:
            raise _Refusal(400, "more bytes than total_bytes")
    return 200, {"data": {"expires_at": int(time.time()) + 86400}}


def _finalize(state: State, media_id: str) -> tuple[int, Any]:
    with state.lock:
        item = state.media.get(media_id)
        if item is None or item.state != "uploading":
            raise _Refusal(400, f"media {media_id} is not being uploaded")
        if len(item.received) != item.total:
            raise _Refusal(400, f"received {len(item.received)} of {item.total} bytes")
        item.state = "pending"
    info = {"state": "pending", "check_after_secs": 0}
    return 200, {
        "data": {
            "id": media_id,
            "media_key": f"7_{media_id}",
            "size": item.total,
            "expires_after_secs": 86400,
            "processing_info": info,
        }
    }


def _status(state: State, query: dict[str, str]) -> tuple[int, Any]:
    if query.get("command") != "STATUS":
        raise _Refusal(400, "command=STATUS is required")
    with state.lock:
        item = state.media.get(query.get("media_id", ""))
        if item is None:
            raise _Refusal(404, "no such media", title="Not Found")
        item.polls += 1
        item.state = {"pending": "in_progress", "in_progress": "succeeded"}.get(item.state, item.state)
        info: dict[str, Any] = {"state": item.state, "progress_percent": 100 if item.state == "succeeded" else 50}
        if item.state != "succeeded":
            info["check_after_secs"] = 0
    return 200, {"data": {"id": query["media_id"], "processing_info": info}}


ALT_TEXT_LIMIT = 1000  # CreateMediaMetadataMetadataAltText.text maxLength (X's OpenAPI 2.167)
METADATA_FIELDS = {  # CreateMediaMetadataMetadata's properties
    "allow_download_status",
    "alt_text",
    "audience_policy",
    "content_expiration",
    "domain_restrictions",
    "found_media_origin",
    "geo_restrictions",
    "management_info",
    "preview_image",
    "sensitive_media_warning",
    "shared_info",
    "sticker_info",
    "upload_source",
}


def _metadata(state: State, body: bytes, headers: Any) -> tuple[int, Any]:
    """``POST /2/media/metadata``: ``{"id": media_id, "metadata": {"alt_text": {"text": ...}}}``
    (platforms.md §1.5; v1.1's media/metadata/create: images and GIFs only)."""
    if not headers.get("Content-Type", "").startswith("application/json"):
        raise _Refusal(400, "expected an application/json body")
    try:
        request = json.loads(body or b"{}")
    except ValueError:
        raise _Refusal(400, "the body is not JSON") from None
    if not isinstance(request, dict):
        raise _Refusal(400, "the body must be a JSON object")
    media_id, metadata = request.get("id"), request.get("metadata")
    if set(request) - {"id", "metadata"}:
        raise _Refusal(400, f"unknown fields {sorted(set(request) - {'id', 'metadata'})}")
    if not isinstance(media_id, str) or not re.fullmatch(r"[0-9]{1,19}", media_id):
        raise _Refusal(400, "id: the media id, a string of 1 to 19 digits")
    if not isinstance(metadata, dict) or set(metadata) - METADATA_FIELDS:
        raise _Refusal(400, f"metadata: an object with fields among {sorted(METADATA_FIELDS)}")
    alt = metadata.get("alt_text")
    if alt is not None:
        if not isinstance(alt, dict) or not isinstance(alt.get("text"), str):
            raise _Refusal(400, "metadata.alt_text: an object with a text string")
        if len(alt["text"]) > ALT_TEXT_LIMIT:
            raise _Refusal(400, f"metadata.alt_text.text: {len(alt['text'])} characters, over {ALT_TEXT_LIMIT}")
    with state.lock:
        item = state.media.get(media_id)
        if item is None or item.state != "succeeded":
            raise _Refusal(400, f"media {media_id} is not uploaded and processed")
        if alt is not None:
            if item.category not in ("tweet_image", "tweet_gif"):
                raise _Refusal(400, "alt text is for images and GIFs")
            item.alt_text = alt["text"]
    return 200, {"data": {"id": media_id, "associated_metadata": metadata}}
