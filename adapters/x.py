"""X (Twitter) API v2 (shared/reference/platforms.md §1).

Posts go through tweepy's ``Client.create_tweet`` (OAuth 1.0a user context, or an OAuth 2.0 user
token); media through X's v2 upload endpoints with requests, since tweepy has none: a simple
upload for images, initialize/append/finalize and STATUS polling for video and GIF.

tweepy builds every URL on ``https://api.twitter.com`` and signs OAuth 1.0a requests for it; a
transport adapter mounted on its session sends them to ``settings.x_api_url`` (a proxy or a
contract fake) and gives every request a timeout, which tweepy does not.

Credentials (encrypted at rest): ``{"oauth1": {consumer_key, consumer_secret, access_token,
access_token_secret}}`` or ``{"access_token": ...}``, with ``user_id`` (for the reconciling
lookup) and ``username`` (for the post's URL).
"""

from __future__ import annotations

import html
import re
import time
import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import requests
import tweepy
from requests.adapters import HTTPAdapter
from requests_oauthlib import OAuth1

from adapters._http import USER_AGENT, retry_after_seconds, translate_transport_errors
from adapters.base import Adapter, Prepared
from adapters.errors import AuthExpired, OutcomeUnknown, Permanent, Retryable
from media.text import split_thread
from scheduler.publishing.content import Content
from scheduler.publishing.ports import Limit, PreparedMedia, PublishContext, Published

TWEEPY_HOST = "https://api.twitter.com"
_URL = re.compile(r"https?://\S+")
_TRAILING_URL = re.compile(r"\s*https://t\.co/\S+\s*$")


class _ToConfiguredHost(HTTPAdapter):
    """tweepy's requests, sent to the configured host (signatures stay those tweepy computed)."""

    def __init__(self, base: str, timeout: float) -> None:
        super().__init__()
        self.base, self.timeout = base.rstrip("/"), timeout

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        if request.url and request.url.startswith(TWEEPY_HOST) and self.base != TWEEPY_HOST:
            request.url = self.base + request.url[len(TWEEPY_HOST) :]
        kwargs["timeout"] = kwargs.get("timeout") or self.timeout
        return super().send(request, **kwargs)


class XAdapter(Adapter):
    platform = "x"
    supports_live = True
    # platforms.md §1.3 [X6][X1][X12]: the stricter pair of the documented per-user limits
    rate_limits = (
        Limit("create-15min", 100, 15 * 60, "posts per 15 minutes"),
        Limit("create-3h", 300, 3 * 3600, "posts per 3 hours"),
    )

    def build(self, content: Content) -> Prepared:
        media = self.media_for(content)
        parts = split_thread(content.full_text, self.spec.text)
        body: dict[str, object] = {"text": parts[0]}
        if media:
            # media ids are issued by the v2 upload endpoints at publish time
            body["media"] = {"media_ids": [f"<upload:{item.name}>" for item in media]}
        request: dict[str, object] = {"method": "POST", "url": f"{self.settings.x_api_url}/2/tweets", "json": body}
        notes: tuple[str, ...] = ()
        if len(parts) > 1:
            request["thread"] = parts  # each later part replies to the one before
            notes = (f"longer than one post: a thread of {len(parts)}",)
        return Prepared(
            channel=self.channel.name,
            platform=self.platform,
            text=content.full_text,
            media=media,
            request=request,
            notes=notes,
        )

    @staticmethod
    def _parts(prepared: Prepared) -> list[str]:
        thread = prepared.request.get("thread")
        return [str(part) for part in thread] if isinstance(thread, list) else [prepared.text]

    # -- publishing ---------------------------------------------------------------------------

    def publish(self, prepared: Prepared, ctx: PublishContext) -> Published:
        """One post, or a thread: each part is recorded (checkpoint) as soon as X has it, so an
        attempt after a failure carries on from the next part and never posts one twice."""
        credentials = self._credentials()
        client = self._client(credentials)
        posted = [str(i) for i in (ctx.checkpoint or {}).get("thread", [])]
        parts = self._parts(prepared)
        media_ids = [self._upload(item, credentials) for item in prepared.media] if not posted else []
        for index in range(len(posted), len(parts)):
            with self._translate(
                "X create post" + (f" (part {index + 1} of {len(parts)})" if index else ""), creating=True
            ):
                response = client.create_tweet(
                    text=parts[index] or None,
                    media_ids=(media_ids or None) if index == 0 else None,
                    in_reply_to_tweet_id=posted[-1] if posted else None,
                    user_auth="oauth1" in credentials,
                )
            posted.append(str(response.data["id"]))
            if len(parts) > 1:
                ctx.save_checkpoint({"thread": posted})
        return Published(remote_id=posted[0], url=self._url(credentials, posted[0]))

    @property
    def absence_settles_after(self) -> float:
        """X shows a post in the account's timeline within seconds; past this, and past the
        timeout of any create call still in flight, a post not there was not created."""
        return max(60.0, 2 * self.settings.http_timeout)

    def lookup(self, prepared: Prepared, ctx: PublishContext) -> Published | None:
        """The account's posts since shortly before the attempt, matched on X's rendering of the
        text (``normal_form``). A thread counts only when every part is there; the parts found
        in order are saved, so the next attempt posts only the rest."""
        credentials = self._credentials()
        client = self._client(credentials)
        user_auth = "oauth1" in credentials
        with self._translate("X lookup"):
            user_id = credentials.get("user_id") or client.get_me(user_auth=user_auth).data["id"]
            response = client.get_users_tweets(
                user_id,
                start_time=ctx.started_at - timedelta(minutes=5),
                max_results=100,
                tweet_fields=["created_at", "attachments"],
                user_auth=user_auth,
            )
        # oldest first: of two identical texts the earlier is the one an attempt made
        tweets = sorted(response.data or [], key=lambda tweet: int(tweet["id"]))
        posted = [str(i) for i in (ctx.checkpoint or {}).get("thread", [])]
        parts = self._parts(prepared)
        for index in range(len(posted), len(parts)):
            with_media = bool(prepared.media) and index == 0
            wanted = normal_form(parts[index])
            match = next(
                (
                    str(tweet["id"])
                    for tweet in tweets
                    if str(tweet["id"]) not in posted and normal_form(tweet["text"], media_link=with_media) == wanted
                ),
                None,
            )
            if match is None:
                break
            posted.append(match)
        if len(parts) > 1 and len(posted) > len((ctx.checkpoint or {}).get("thread", [])):
            ctx.save_checkpoint({"thread": posted})
        if len(posted) == len(parts):
            return Published(remote_id=posted[0], url=self._url(credentials, posted[0]))
        return None

    # -- plumbing -----------------------------------------------------------------------------

    def _credentials(self) -> dict[str, Any]:
        credentials = self.channel.credentials or {}
        if "oauth1" not in credentials and "access_token" not in credentials:
            raise AuthExpired(
                f"channel {self.channel.name!r} has no X credentials; add them with crosspost channel add --credentials"
            )
        return credentials

    def _client(self, credentials: dict[str, Any]) -> tweepy.Client:
        if "oauth1" in credentials:
            keys = credentials["oauth1"]
            client = tweepy.Client(
                consumer_key=keys["consumer_key"],
                consumer_secret=keys["consumer_secret"],
                access_token=keys["access_token"],
                access_token_secret=keys["access_token_secret"],
                wait_on_rate_limit=False,  # a rate limit waits in the database (retry_wait), not in a worker
            )
        else:
            client = tweepy.Client(credentials["access_token"], wait_on_rate_limit=False)
        client.user_agent = USER_AGENT
        client.session.mount("https://", _ToConfiguredHost(self.settings.x_api_url, self.settings.http_timeout))
        return client

    def _auth(self, credentials: dict[str, Any]) -> tuple[OAuth1 | None, dict[str, str]]:
        if "oauth1" in credentials:
            keys = credentials["oauth1"]
            signer = OAuth1(
                keys["consumer_key"], keys["consumer_secret"], keys["access_token"], keys["access_token_secret"]
            )
            return signer, {"User-Agent": USER_AGENT}
        return None, {"User-Agent": USER_AGENT, "Authorization": f"Bearer {credentials['access_token']}"}

    def _url(self, credentials: dict[str, Any], tweet_id: str) -> str:
        username = credentials.get("username") or "i/web"
        return f"https://x.com/{username}/status/{tweet_id}"

    @contextmanager
    def _translate(self, what: str, *, creating: bool = False) -> Iterator[None]:
        """tweepy's errors as the adapter interface's, with X's own words kept."""
        try:
            with translate_transport_errors(what):
                yield
        except tweepy.TooManyRequests as error:
            raise Retryable(f"{what}: X rate limit ({_words(error)})", retry_after=_reset(error.response)) from error
        except tweepy.Unauthorized as error:
            raise AuthExpired(f"{what}: X refused the channel's credentials ({_words(error)}); reconnect it") from error
        except tweepy.Forbidden as error:
            if creating and "duplicate" in _words(error).lower():
                # X keeps no id for us: the post may be ours from an attempt whose answer was lost
                raise OutcomeUnknown(f"{what}: X says the post is a duplicate ({_words(error)})") from error
            raise Permanent(f"{what}: X refused it ({_words(error)})") from error
        except (tweepy.BadRequest, tweepy.NotFound) as error:
            raise Permanent(f"{what}: X refused it ({_words(error)})") from error
        except tweepy.TwitterServerError as error:
            # a 5xx after the request reached X may still have created the post
            kind = OutcomeUnknown if creating else Retryable
            raise kind(f"{what}: X server error {error.response.status_code} ({_words(error)})") from error

    def _upload(self, item: PreparedMedia, credentials: dict[str, Any]) -> str:
        """One file to X's v2 media endpoints; returns its media id once X has processed it, with
        its alt text attached (images and GIFs). Media uploads are safe to repeat (an unused media
        id expires), so every failure here that is not the platform's refusal is retryable."""
        alt_text = item.alt_text if item.kind == "image" and item.alt_text and item.alt_text.strip() else None
        limit = self.spec.media.max_alt_text  # 1,000 characters (platforms.md §1.5 [X2])
        if alt_text is not None and limit is not None and len(alt_text) > limit:
            raise Permanent(f"{item.name}: its alt text is {len(alt_text)} characters; X takes at most {limit}")
        try:
            if item.kind == "image" and item.mime != "image/gif":
                media_id = self._simple_upload(item, credentials)
            else:
                media_id = self._chunked_upload(item, credentials)
            if alt_text is not None:
                self._set_alt_text(media_id, alt_text, credentials)
            return media_id
        except OutcomeUnknown as error:
            raise Retryable(str(error)) from error

    def _set_alt_text(self, media_id: str, alt_text: str, credentials: dict[str, Any]) -> None:
        """``POST /2/media/metadata`` after the upload and before the post (platforms.md §1.5,
        X's OpenAPI ``CreateMediaMetadataRequest``); setting it again replaces it."""
        self._call(
            "POST",
            "/2/media/metadata",
            credentials,
            json={"id": media_id, "metadata": {"alt_text": {"text": alt_text}}},
        )

    def _simple_upload(self, item: PreparedMedia, credentials: dict[str, Any]) -> str:
        with item.source.open("rb") as handle:
            data = self._call(
                "POST",
                "/2/media/upload",
                credentials,
                files={"media": (item.name, handle, item.mime)},
                data={"media_category": "tweet_image"},
            )
        return str(data["data"]["id"])

    def _chunked_upload(self, item: PreparedMedia, credentials: dict[str, Any]) -> str:
        total = item.source.stat().st_size
        category = "tweet_gif" if item.mime == "image/gif" else "tweet_video"
        started = self._call(
            "POST",
            "/2/media/upload/initialize",
            credentials,
            json={"media_type": item.mime, "total_bytes": total, "media_category": category},
        )
        media_id = str(started["data"]["id"])
        with item.source.open("rb") as handle:
            for index in range(1000):
                chunk = handle.read(self.settings.x_media_chunk)
                if not chunk:
                    break
                self._call(
                    "POST",
                    f"/2/media/upload/{media_id}/append",
                    credentials,
                    files={"media": (item.name, chunk, "application/octet-stream")},
                    data={"segment_index": str(index)},
                )
            else:
                raise Permanent(f"{item.name}: more than 1000 chunks; raise x_media_chunk")
        finished = self._call("POST", f"/2/media/upload/{media_id}/finalize", credentials)
        info = finished["data"].get("processing_info")
        deadline = time.monotonic() + self.settings.x_status_poll_limit
        while info and info.get("state") in ("pending", "in_progress"):
            if time.monotonic() > deadline:
                raise Retryable(
                    f"{item.name}: X was still processing the video after {self.settings.x_status_poll_limit:.0f} s"
                )
            time.sleep(float(info.get("check_after_secs", 1)))
            status = self._call(
                "GET", "/2/media/upload", credentials, params={"command": "STATUS", "media_id": media_id}
            )
            info = status["data"].get("processing_info")
        if info and info.get("state") == "failed":
            reason = info.get("error", {}).get("message", "no reason given")
            raise Permanent(f"{item.name}: X could not process it ({reason})")
        return media_id

    def _call(self, method: str, path: str, credentials: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        signer, headers = self._auth(credentials)
        url = self.settings.x_upload_url.rstrip("/") + path
        with translate_transport_errors(f"X {path}"):
            response = requests.request(
                method, url, auth=signer, headers=headers, timeout=self.settings.http_timeout, **kwargs
            )
        if response.status_code == 429:
            raise Retryable(f"X {path}: rate limit", retry_after=_reset(response))
        if response.status_code == 401:
            raise AuthExpired(f"X {path}: X refused the channel's credentials ({response.text[:300]}); reconnect it")
        if response.status_code >= 500:
            raise Retryable(f"X {path}: server error {response.status_code}")
        if response.status_code >= 400:
            raise Permanent(f"X {path}: {response.status_code} {_problem(response)}")
        payload: dict[str, Any] = response.json()
        return payload


def normal_form(text: str, *, media_link: bool = False) -> str:
    """A post's text as X shows it and as it was sent, made comparable (platforms.md §1.5): X
    replaces every URL with a t.co link, appends one more for attached media, returns ``& < >``
    as HTML entities and NFC-normalises. Entities are unescaped, links become placeholders, the
    media link is dropped, whitespace is collapsed."""
    shown = html.unescape(text)
    if media_link:
        shown = _TRAILING_URL.sub("", shown)
    shown = _URL.sub("<url>", unicodedata.normalize("NFC", shown))
    return " ".join(shown.split())


def _reset(response: requests.Response | None) -> float | None:
    """Seconds until X's rate-limit window resets (x-rate-limit-reset is epoch seconds)."""
    if response is None:
        return None
    reset = response.headers.get("x-rate-limit-reset")
    if reset and reset.isdigit():
        return max(1.0, float(reset) - time.time())
    return retry_after_seconds(response.headers.get("retry-after"))


def _words(error: tweepy.HTTPException) -> str:
    messages = [str(m) for m in error.api_messages] or [str(m) for m in error.api_errors]
    return "; ".join(messages) or f"HTTP {error.response.status_code}"


def _problem(response: requests.Response) -> str:
    try:
        payload = response.json()
    except ValueError:
        return response.text[:300]
    if isinstance(payload, dict):
        return str(payload.get("detail") or payload.get("errors") or payload)[:300]
    return str(payload)[:300]
