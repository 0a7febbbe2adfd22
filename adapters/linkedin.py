"""LinkedIn Posts API, versioned REST (shared/reference/platforms.md §2).

Publishing is: upload the media (Images API: initializeUpload, one PUT; Videos API:
initializeUpload, a PUT per part LinkedIn lays out, finalizeUpload with the parts' ETags in order,
then the video's status until AVAILABLE), then ``POST /rest/posts``, whose 201 names the post in
the ``x-restli-id`` header. Every REST call carries ``LinkedIn-Version`` (the
``linkedin_version`` setting: versions are monthly and sunset after about a year, so its default
follows the date, two months behind) and ``X-Restli-Protocol-Version: 2.0.0`` [LI2][LI3].

Credentials (encrypted at rest): ``{"access_token": ..., "author": "urn:li:person:..." |
"urn:li:organization:...", "expires_at": <epoch seconds, optional>}`` (plus what the core's
token refresh needs, see ``adapters.oauth``); the channel option ``author`` (e.g. a company page
the member administers) takes precedence over the credentials'; with neither, the token's own
member is asked of OpenID Connect's userinfo.
Access tokens last 60 days and most apps get no refresh token [LI6]: an expired token is
``AuthExpired`` before anything is sent.

Idempotency (§2.5): nothing exists before the create and it takes no key. The media an attempt
uploaded and the post URN it was answered are saved as the publication's checkpoint, so a later
attempt re-sends the same body (same image/video URNs) instead of uploading again, and a worker
that died after LinkedIn answered is settled from the checkpoint. A create LinkedIn refuses as
``DUPLICATE_POST`` names the post it duplicates [LI9]: that post is adopted, never created again.
"""

from __future__ import annotations

import logging
import re
import time
from datetime import UTC, datetime
from typing import Any, ClassVar
from urllib.parse import quote

import requests

from adapters._http import retry_after_seconds, shared_session, translate_transport_errors
from adapters.base import Adapter, Prepared
from adapters.errors import AuthExpired, OutcomeUnknown, Permanent, Retryable
from scheduler.publishing.content import Content
from scheduler.publishing.ports import PreparedMedia, PublishContext, Published
from scheduler.settings import LINKEDIN_VERSION_LAG, Settings

log = logging.getLogger(__name__)

# platforms.md §0.6 [LI5]: LinkedIn silently truncates "little text" at the first unescaped one.
_RESERVED = re.compile(r"([\\|{}@\[\]()<>#*_~])")

AUTHOR = re.compile(r"urn:li:(?:person|organization):[A-Za-z0-9_-]+")
_NAMED_URN = re.compile(r"urn:li:[A-Za-z]+:[A-Za-z0-9_-]+")
RESTLI_PROTOCOL = "2.0.0"
WARN_BEFORE_EXPIRY = 7 * 24 * 3600.0
# An asset an earlier attempt uploaded is attached again (not re-uploaded) when it is younger than
# this; how long LinkedIn keeps unattached assets is not documented ("orphaned", §2.5).
REUSE_UPLOADS = 3600.0


def escape_little_text(text: str) -> str:
    return _RESERVED.sub(r"\\\1", text)


def post_url(urn: str) -> str:
    return f"https://www.linkedin.com/feed/update/{urn}/"


class LinkedInAdapter(Adapter):
    platform = "linkedin"
    supports_live = True
    # rate_limits stays empty: LinkedIn publishes no values, only daily per-app and per-member
    # limits resetting at midnight UTC [LI7] (the ~150 posts/day often quoted is UNCONFIRMED)

    # Give up waiting for LinkedIn's media processing after this long (the attempt is retried, and
    # the retry takes up the same asset from the checkpoint).
    processing_limit: ClassVar[float] = 600.0
    # A member token (w_member_social) cannot read images back, so their processing cannot be
    # watched: the create waits this long instead (platforms.md §2.2 [PZ-LI]; the length is ours).
    image_grace: ClassVar[float] = 3.0

    @classmethod
    def option_problems(cls, options: dict[str, object]) -> list[str]:
        author = options.get("author")
        if author is not None and not (isinstance(author, str) and AUTHOR.fullmatch(author)):
            return [f"option author must be urn:li:person:<id> or urn:li:organization:<id>, not {author!r}"]
        return []

    def build(self, content: Content) -> Prepared:
        media = self.media_for(content)
        body: dict[str, object] = {
            "author": self._configured_author() or "urn:li:person:{id}",
            "commentary": escape_little_text(content.full_text),
            "visibility": "PUBLIC",
            "distribution": {
                "feedDistribution": "MAIN_FEED",
                "targetEntities": [],
                "thirdPartyDistributionChannels": [],
            },
            "lifecycleState": "PUBLISHED",
            "isReshareDisabledByAuthor": False,
        }
        if media:
            # image and video URNs are issued by the upload endpoints at publish time
            body["content"] = _content(media, [f"<upload:{item.name}>" for item in media])
        return Prepared(
            channel=self.channel.name,
            platform=self.platform,
            text=content.full_text,
            media=media,
            request={"method": "POST", "url": f"{self._api}/rest/posts", "json": body},
        )

    # -- publishing ---------------------------------------------------------------------------

    def publish(self, prepared: Prepared, ctx: PublishContext) -> Published:
        checkpoint = dict(ctx.checkpoint or {})
        if isinstance(checkpoint.get("post"), str):
            # an earlier attempt was answered with the post and did not live to record it
            return Published(remote_id=checkpoint["post"], url=post_url(checkpoint["post"]))
        token, author = self._credentials()
        ids = self._media(prepared.media, token, author, ctx, checkpoint)
        body = dict(prepared.request["json"])
        body["author"] = author
        body.pop("content", None)
        if ids:
            body["content"] = _content(prepared.media, ids)
        urn = self._create(body, token)
        _save(ctx, {**checkpoint, "post": urn})
        return Published(remote_id=urn, url=post_url(urn))

    def lookup(self, prepared: Prepared, ctx: PublishContext) -> Published | None:
        """The post an interrupted attempt created, when LinkedIn's answer reached us.

        A worker that died after the 201 saved the post URN in the checkpoint first, so that case
        is settled here. An answer lost on the wire (the 201 never arrived) cannot be looked up:
        platforms.md §2.5 documents no way to read a member's posts back (``r_member_social`` is
        closed [LI4]), only that a repeated create is refused as ``DUPLICATE_POST`` naming the
        existing post. That signal is a create, and a lookup never creates: if the first attempt
        did not land, the "probe" would publish (outside the claim that guards pauses, blackouts
        and cancellation), and LinkedIn documents neither how long nor on what it detects
        duplicates (a changed body, or an earlier post since deleted [LI10], is not caught).
        So this answers None and a person decides. Their ``post retry`` re-sends the same
        commentary (and, within REUSE_UPLOADS, the same media URNs from the checkpoint); LinkedIn's
        duplicate refusal then names the post, which ``publish`` adopts.
        """
        post = (ctx.checkpoint or {}).get("post")
        if isinstance(post, str):
            return Published(remote_id=post, url=post_url(post))
        return None

    # -- credentials ----------------------------------------------------------------------------

    def _configured_author(self) -> str | None:
        for source in (self.channel.options, self.channel.credentials or {}):
            author = source.get("author")
            if isinstance(author, str) and author:
                return author
        return None

    def _credentials(self) -> tuple[str, str]:
        credentials = self.channel.credentials or {}
        name = self.channel.name
        token = credentials.get("access_token")
        if not isinstance(token, str) or not token:
            raise AuthExpired(
                f"channel {name!r} has no LinkedIn access token; reconnect the channel with its credentials"
            )
        expires_at = credentials.get("expires_at")
        if expires_at is not None:
            try:
                left = float(expires_at) - time.time()
            except (TypeError, ValueError):
                raise AuthExpired(
                    f"channel {name!r}: expires_at {expires_at!r} is not a time (epoch seconds); reconnect the channel"
                ) from None
            when = datetime.fromtimestamp(float(expires_at), UTC).isoformat(timespec="minutes")
            if left <= 0:
                raise AuthExpired(
                    f"channel {name!r}: the LinkedIn access token expired at {when} "
                    "(they last 60 days); reconnect the channel"
                )
            if left < WARN_BEFORE_EXPIRY:
                log.warning("channel %s: the LinkedIn access token expires at %s; reconnect it soon", name, when)
        author = self._configured_author() or self._member(token)
        if not AUTHOR.fullmatch(author):
            raise AuthExpired(
                f"channel {name!r}: {author!r} is not a LinkedIn author; reconnect the channel with "
                '"author": "urn:li:person:<id>" or "urn:li:organization:<id>" in its credentials'
            )
        return token, author

    def _member(self, token: str) -> str:
        """The member the token belongs to, from OpenID Connect's userinfo (``sub`` is the person
        id; platforms.md §2.1 [PZ-LI]): for channels connected by OAuth, whose credentials name no
        author."""
        what = "LinkedIn userinfo"
        response = self._send("GET", f"{self._api}/v2/userinfo", token, what=what, versioned=False)
        sub = _json(response, what).get("sub")
        if not isinstance(sub, str) or not sub:
            raise AuthExpired(f"{what}: LinkedIn did not say whose token this is; reconnect the channel")
        return f"urn:li:person:{sub}"

    # -- the create -----------------------------------------------------------------------------

    def _create(self, body: dict[str, Any], token: str) -> str:
        what = "LinkedIn create post"
        response = self._send(
            "POST", f"{self._api}/rest/posts", token, what=what, creating=True, allow=(422,), json=body
        )
        if response.status_code == 422:
            duplicate, urn = _duplicate(response)
            if duplicate and urn:
                # The same post is already there (an attempt whose answer was lost, or the same text
                # posted before): adopt it. After a delete LinkedIn may name a "ghost" URN that
                # 404s for a day or two [LI10]; it is still the best record of what happened.
                log.info("LinkedIn: the post duplicates %s; adopting it", urn)
                return urn
            if duplicate:
                raise OutcomeUnknown(f"{what}: LinkedIn says it is a duplicate ({_problem(response)})")
            raise Permanent(f"{what}: LinkedIn refused it: 422 {_problem(response)}")
        urn = response.headers.get("x-restli-id") or ""
        if not urn.startswith("urn:li:"):
            raise OutcomeUnknown(f"{what}: LinkedIn answered {response.status_code} without the post's x-restli-id")
        return urn

    # -- media ----------------------------------------------------------------------------------

    def _media(
        self,
        media: tuple[PreparedMedia, ...],
        token: str,
        author: str,
        ctx: PublishContext,
        checkpoint: dict[str, Any],
    ) -> list[str]:
        """Each file's URN, once LinkedIn can attach it. Uploads are safe to repeat (an unattached
        asset is orphaned), so every failure here short of LinkedIn's refusal is retryable."""
        uploads: dict[str, Any] = dict(checkpoint.get("uploads") or {})
        ids: list[str] = []
        fresh: set[str] = set()
        for index, item in enumerate(media):
            key = f"{index}:{item.name}:{item.source.stat().st_size}"
            earlier = uploads.get(key)
            if (
                isinstance(earlier, dict)
                and earlier.get("owner") == author
                and time.time() - float(earlier.get("at", 0)) < REUSE_UPLOADS
            ):
                ids.append(str(earlier["urn"]))
                continue
            urn = (
                self._upload_video(item, token, author)
                if item.kind == "video"
                else self._upload_image(item, token, author)
            )
            uploads[key] = {"urn": urn, "owner": author, "at": time.time()}
            checkpoint["uploads"] = uploads
            _save(ctx, checkpoint)
            ids.append(urn)
            fresh.add(urn)
        unwatched = False
        for item, urn in zip(media, ids, strict=True):
            watched = self._wait_until_available("videos" if item.kind == "video" else "images", urn, item, token)
            unwatched = unwatched or (not watched and urn in fresh)
        if unwatched:
            time.sleep(self.image_grace)
        return ids

    def _upload_image(self, item: PreparedMedia, token: str, owner: str) -> str:
        what = f"LinkedIn image upload ({item.name})"
        value = self._value(
            "POST",
            "/rest/images?action=initializeUpload",
            token,
            what=what,
            json={"initializeUploadRequest": {"owner": owner}},
        )
        upload_url, urn = value.get("uploadUrl"), value.get("image")
        if not isinstance(upload_url, str) or not isinstance(urn, str):
            raise Permanent(f"{what}: unexpected answer from LinkedIn: {str(value)[:300]}")
        self._send("PUT", upload_url, token, what=what, data=item.source.read_bytes(), content_type=item.mime)
        return urn

    def _upload_video(self, item: PreparedMedia, token: str, owner: str) -> str:
        what = f"LinkedIn video upload ({item.name})"
        size = item.source.stat().st_size
        value = self._value(
            "POST",
            "/rest/videos?action=initializeUpload",
            token,
            what=what,
            json={
                "initializeUploadRequest": {
                    "owner": owner,
                    "fileSizeBytes": size,
                    "uploadCaptions": False,
                    "uploadThumbnail": False,
                }
            },
        )
        urn, parts = value.get("video"), value.get("uploadInstructions")
        if not isinstance(urn, str) or not isinstance(parts, list) or not parts:
            raise Permanent(f"{what}: unexpected answer from LinkedIn: {str(value)[:300]}")
        ranges = [(int(part["firstByte"]), int(part["lastByte"]), str(part["uploadUrl"])) for part in parts]
        expected = 0
        for first, last, _ in ranges:
            if first != expected or last < first:
                raise Permanent(f"{what}: LinkedIn's upload parts do not cover the file in order: {ranges}")
            expected = last + 1
        if expected != size:
            raise Permanent(f"{what}: LinkedIn's upload parts cover {expected} of {size} bytes")
        etags: list[str] = []
        with item.source.open("rb") as handle:
            for number, (first, last, upload_url) in enumerate(ranges, start=1):
                handle.seek(first)
                chunk = handle.read(last - first + 1)
                response = self._send(
                    "PUT", upload_url, token, what=what, data=chunk, content_type="application/octet-stream"
                )
                etag = response.headers.get("ETag")
                if not etag:
                    raise Retryable(f"{what}: LinkedIn answered part {number} of {len(ranges)} without an ETag")
                etags.append(etag)
        self._send(
            "POST",
            f"{self._api}/rest/videos?action=finalizeUpload",
            token,
            what=what,
            json={
                "finalizeUploadRequest": {
                    "video": urn,
                    "uploadToken": str(value.get("uploadToken") or ""),
                    "uploadedPartIds": etags,
                }
            },
        )
        return urn

    def _wait_until_available(self, kind: str, urn: str, item: PreparedMedia, token: str) -> bool:
        """Poll ``GET /rest/{images|videos}/{urn}`` until AVAILABLE. False when LinkedIn does not
        let this token read the asset (member tokens and images, §2.2)."""
        what = f"LinkedIn {kind[:-1]} status ({item.name})"
        deadline = time.monotonic() + self.processing_limit
        delay = 0.1
        while True:
            response = self._send(
                "GET", f"{self._api}/rest/{kind}/{quote(urn, safe='')}", token, what=what, allow=(403,)
            )
            if response.status_code == 403:
                if kind == "videos":
                    raise Permanent(f"{what}: LinkedIn refused it: 403 {_problem(response)}")
                return False
            status = str(_json(response, what).get("status", ""))
            if status == "AVAILABLE":
                return True
            if status == "PROCESSING_FAILED":
                reason = _json(response, what).get("processingFailureReason") or "no reason given"
                raise Permanent(f"{what}: LinkedIn could not process it ({reason})")
            if time.monotonic() + delay > deadline:
                raise Retryable(f"{what}: still {status or 'not ready'} after {self.processing_limit:.0f} s")
            time.sleep(delay)
            delay = min(delay * 2, 5.0)

    # -- HTTP -----------------------------------------------------------------------------------

    @property
    def _api(self) -> str:
        return self.settings.linkedin_api_url.rstrip("/")

    def _value(self, method: str, path: str, token: str, *, what: str, **kwargs: Any) -> dict[str, Any]:
        response = self._send(method, f"{self._api}{path}", token, what=what, **kwargs)
        value = _json(response, what).get("value")
        if not isinstance(value, dict):
            raise Permanent(f"{what}: unexpected answer from LinkedIn: {response.text[:300]}")
        return value

    def _send(
        self,
        method: str,
        url: str,
        token: str,
        *,
        what: str,
        creating: bool = False,
        allow: tuple[int, ...] = (),
        content_type: str | None = None,
        versioned: bool = True,
        **kwargs: Any,
    ) -> requests.Response:
        """One request with LinkedIn's headers; its failures as the adapter interface's. Only the
        create can leave a post behind: any other call that may not have landed is retryable."""
        headers = {"Authorization": f"Bearer {token}"}
        if versioned:
            headers |= {
                "LinkedIn-Version": self.settings.linkedin_version,
                "X-Restli-Protocol-Version": RESTLI_PROTOCOL,
            }
        if content_type is not None:
            headers["Content-Type"] = content_type
        try:
            with translate_transport_errors(what):
                response = shared_session().request(
                    method, url, headers=headers, timeout=self.settings.http_timeout, **kwargs
                )
        except OutcomeUnknown as error:
            if creating:
                raise
            raise Retryable(str(error)) from error
        status = response.status_code
        if status < 300 or status in allow:
            return response
        if status == 429:
            # LinkedIn documents no rate-limit headers and daily limits reset at midnight UTC [LI7]:
            # a Retry-After is honoured if one comes, else the core's exponential backoff applies
            raise Retryable(
                f"{what}: LinkedIn rate limit (429 {_problem(response)}; daily limits reset at midnight UTC)",
                retry_after=retry_after_seconds(response.headers.get("Retry-After")),
            )
        if status == 401:
            raise AuthExpired(
                f"{what}: LinkedIn refused the access token (401 {_problem(response)}); reconnect the channel"
            )
        if status >= 500:
            kind = OutcomeUnknown if creating else Retryable
            raise kind(f"{what}: LinkedIn server error {status} ({_problem(response)})")
        if status == 426 or "version" in _problem(response).lower():
            raise Permanent(f"{what}: {_version_refused(self.settings, f'{status} {_problem(response)}')}")
        raise Permanent(f"{what}: LinkedIn refused it: {status} {_problem(response)}")


def _content(media: tuple[PreparedMedia, ...], ids: list[str]) -> dict[str, Any]:
    """``content`` of a post: one image or video as ``media``, 2-20 images as ``multiImage`` [LI4]."""
    if len(media) == 1:
        return {"media": {"id": ids[0], "altText": media[0].alt_text or ""}}
    return {"multiImage": {"images": [{"id": i, "altText": m.alt_text or ""} for m, i in zip(media, ids, strict=True)]}}


def _save(ctx: PublishContext, checkpoint: dict[str, Any]) -> None:
    """Record what LinkedIn handed out; losing the record costs a re-upload, never the post."""
    try:
        ctx.save_checkpoint(checkpoint)
    except Exception:
        log.exception("publication %s: could not save the LinkedIn checkpoint", ctx.publication_id)


def _json(response: requests.Response, what: str) -> dict[str, Any]:
    try:
        payload = response.json()
    except ValueError:
        raise Permanent(f"{what}: unexpected answer from LinkedIn: {response.text[:300]}") from None
    if not isinstance(payload, dict):
        raise Permanent(f"{what}: unexpected answer from LinkedIn: {response.text[:300]}")
    return payload


def _duplicate(response: requests.Response) -> tuple[bool, str | None]:
    """Is this 422 LinkedIn's DUPLICATE_POST, and which post does its message name [LI9]?"""
    try:
        payload = response.json()
    except ValueError:
        return False, None
    if not isinstance(payload, dict):
        return False, None
    details = payload.get("errorDetails") or {}
    errors = (details.get("inputErrors") or []) if isinstance(details, dict) else []
    codes = {str(error.get("code")) for error in errors if isinstance(error, dict)}
    message = str(payload.get("message") or "")
    if "DUPLICATE_POST" not in codes and "is a duplicate of" not in message:
        return False, None
    named = _NAMED_URN.search(message.split("duplicate of", 1)[-1])
    return True, named.group(0) if named else None


def _problem(response: requests.Response) -> str:
    """LinkedIn's own words: its message and the codes of the input errors it lists."""
    try:
        payload = response.json()
    except ValueError:
        return response.text[:300] or response.reason or ""
    if not isinstance(payload, dict):
        return str(payload)[:300]
    words = [str(payload.get("message") or payload.get("code") or "")]
    details = payload.get("errorDetails")
    if isinstance(details, dict):
        for error in details.get("inputErrors") or []:
            if isinstance(error, dict):
                words.append(f"{error.get('code')}: {error.get('description', '')}".strip())
    return "; ".join(word for word in words if word)[:500]


def _version_refused(settings: Settings, answer: str) -> str:
    """LinkedIn's refusal of the LinkedIn-Version sent (``426 NONEXISTENT_VERSION`` once it is
    sunset, or not yet released), naming the version and the setting it comes from."""
    if "linkedin_version" in settings.model_fields_set:
        fix = (
            "it comes from CROSSPOST_LINKEDIN_VERSION: set a version LinkedIn serves (YYYYMM; each is served "
            "for about a year), or unset it to follow the date"
        )
    else:
        fix = (
            f"it is the default, {LINKEDIN_VERSION_LAG} months before this month by this machine's clock: check the "
            "clock, or set CROSSPOST_LINKEDIN_VERSION to a version LinkedIn serves (YYYYMM)"
        )
    return f"LinkedIn refused API version {settings.linkedin_version} ({answer}); {fix}"
