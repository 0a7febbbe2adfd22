"""TikTok Content Posting API v2, Direct Post (shared/reference/platforms.md §3).

Every publish asks ``creator_info`` first (§3.2 step 1): the channel's privacy level must be one
TikTok offers this creator, comments, duets and stitches the creator switched off stay off, and a
video longer than the creator's ``max_video_post_duration_sec`` is refused before anything is made.

* **Video**: ``video/init`` with ``FILE_UPLOAD`` (§3.2 step 2), then the file in sequential
  ``PUT``s to the ``upload_url`` (``Content-Range: bytes a-b/total``) by the chunk rules of §3.2
  step 3 (``chunk_plan``), then ``status/fetch`` until ``PUBLISH_COMPLETE``.
* **Photos**: ``content/init`` with ``PULL_FROM_URL`` (§3.2 step 5: photos take nothing else):
  TikTok fetches each rendition from crosspost's own public media URL,
  ``{CROSSPOST_PUBLIC_BASE_URL}/media/{path relative to the media store}``
  (``scheduler.media_server``), whose domain must be verified for the app (§3.2 step 4).

There is no idempotency key (§3.5). What makes a retry safe is the ``publish_id``: it is saved
with ``ctx.save_checkpoint`` the moment init answers, before a byte is uploaded, and every later
attempt, and reconciliation, starts from that publish_id's status. A second post is initialised
only when the first can no longer complete: TikTok says it FAILED, or its upload is incomplete
and we, the only holder of its ``upload_url``, give it up. An incomplete upload otherwise goes on
from TikTok's ``uploaded_bytes`` under the same publish_id.

How each failure is classed, and why:

* before init, and a video init whose answer is lost: ``Retryable``. A FILE_UPLOAD init without
  its answer leaves at most a publish_id nobody can send bytes to: it can never become a post.
* a photo init whose answer is lost, or a 5xx: ``OutcomeUnknown``. TikTok may pull the photos and
  publish, and without the publish_id nothing can look it up: reconciliation hands it to a person.
* a chunk that is not the last: ``Retryable`` (TikTok cannot publish without the rest); the last
  chunk: ``OutcomeUnknown`` (TikTok may have the whole file); reconciliation reads the status.
* after the upload, a status that cannot be read, or processing longer than ``status_wait``:
  ``OutcomeUnknown``; the post is in TikTok's hands and reconciliation follows the publish_id.

Credentials (encrypted at rest): ``{"access_token", "refresh_token", "expires_at", "open_id"}``
(plus ``client_key``/``client_id`` and ``client_secret`` for the core's refresh, ``adapters.oauth``).

Channel options: ``privacy_level`` (PUBLIC_TO_EVERYONE, the default, MUTUAL_FOLLOW_FRIENDS,
FOLLOWER_OF_CREATOR or SELF_ONLY), ``disable_comment``, ``disable_duet``, ``disable_stitch``.
"""

from __future__ import annotations

import copy
import json
import time
import unicodedata
from dataclasses import dataclass
from typing import Any

import requests

from adapters._http import USER_AGENT, retry_after_seconds, shared_session, translate_transport_errors
from adapters.base import Adapter, Prepared
from adapters.errors import AdapterError, AuthExpired, OutcomeUnknown, Permanent, Retryable
from scheduler.errors import InvalidInput
from scheduler.media_server import public_url
from scheduler.publishing.content import Content
from scheduler.publishing.ports import Limit, PreparedMedia, PublishContext, Published

# §3.2 step 3 [TK4]. "MB" is not defined there; each bound takes the reading that satisfies both
# (5 MiB >= 5,000,000 bytes; 64,000,000 bytes <= 64 MiB).
MIN_CHUNK = 5 * 1024 * 1024
MAX_CHUNK = 64 * 1000 * 1000
MAX_FINAL_CHUNK = 128 * 1000 * 1000
MAX_CHUNKS = 1000
UPLOAD_URL_LIFETIME = 3600.0  # §3.2 step 3: "valid 1 hour", UNCONFIRMED [TK-digest(2nd)]
PRIVACY_LEVELS = ("PUBLIC_TO_EVERYONE", "MUTUAL_FOLLOW_FRIENDS", "FOLLOWER_OF_CREATOR", "SELF_ONLY")
DEFAULT_PRIVACY = "PUBLIC_TO_EVERYONE"
SWITCHES = ("disable_comment", "disable_duet", "disable_stitch")
# §3.2 step 6 [TK5]: the terminal statuses (one secondary source spells the inbox one SENDING_...)
COMPLETE = frozenset({"PUBLISH_COMPLETE", "SEND_TO_USER_INBOX", "SENDING_TO_USER_INBOX"})
POST_ID_FIELD = "publicaly_available_post_id"  # sic, §3.2 step 6 [TK5]
AUTH_CODES = frozenset({"access_token_invalid", "scope_not_authorized", "scope_permission_missed"})
# §3.3 daily caps: certainly not posted, and no use asking again within the hour
DAILY_CAPS = {
    "spam_risk_too_many_posts": "the account reached TikTok's daily cap of API posts",
    "spam_risk_too_many_pending_share": "the account has too many posts pending in its inbox",
    "reached_active_user_cap": "the app reached TikTok's daily cap of publishing users",
}
DAILY_CAP_WAIT = 3600.0
RATE_LIMIT_WAIT = 60.0  # §3.3: per-minute windows and no rate-limit headers documented
HINTS = {
    "privacy_level_option_mismatch": "set the channel's privacy_level to one TikTok offers this creator",
    "unaudited_client_can_only_post_to_private_accounts": (
        "until the app passes TikTok's audit it may only post to private accounts, as SELF_ONLY"
    ),
    "spam_risk_text": "TikTok flagged the text; change it before trying again",
    "spam_risk_user_banned_from_posting": "the account is banned from posting",
}
# fail_reason values after which a new init may well work (the failed publish_id proves no post)
TRANSIENT_FAILURES = frozenset({"internal", "internal_error", "video_pull_failed", "photo_pull_failed"})


def chunk_plan(video_size: int) -> tuple[int, int]:
    """``(chunk_size, total_chunk_count)`` for a file of ``video_size`` bytes (§3.2 step 3):
    chunks of 5 MiB, the last one absorbing the remainder (so under 10 MiB, one chunk: the whole
    file, which below 5 MB is required); larger chunks only to stay within 1,000."""
    if video_size <= 0:
        raise Permanent("the video is empty")
    chunk = max(MIN_CHUNK, -(-video_size // MAX_CHUNKS))
    if video_size < 2 * chunk:
        return video_size, 1
    if chunk > MAX_CHUNK:
        raise Permanent(f"the video is {video_size} bytes: more than TikTok's {MAX_CHUNKS} chunks of 64 MB")
    return chunk, video_size // chunk


@dataclass(frozen=True)
class Status:
    """One ``status/fetch`` answer (§3.2 step 6)."""

    status: str
    fail_reason: str
    post_ids: tuple[str, ...]
    uploaded_bytes: int | None

    @classmethod
    def of(cls, data: dict[str, Any]) -> Status:
        uploaded = data.get("uploaded_bytes")
        return cls(
            status=str(data.get("status") or ""),
            fail_reason=str(data.get("fail_reason") or ""),
            post_ids=tuple(str(i) for i in data.get(POST_ID_FIELD) or ()),
            uploaded_bytes=uploaded if isinstance(uploaded, int) else None,
        )


class _UploadRefused(Permanent):
    """A 4xx answer to a chunk: when resuming, the sign to give that publish_id up."""


class TikTokAdapter(Adapter):
    platform = "tiktok"
    supports_live = True
    # platforms.md §3.3 [TK1]: the init endpoints take 6 calls a minute per user token
    rate_limits = (Limit("init-1min", 6, 60.0, "post initialisations per minute"),)
    # status/fetch takes 30 calls a minute per token (§3.3 [TK5]): one every 2 s leaves room
    poll_interval = 2.0
    status_wait = 300.0  # §3.2 step 6: ~1 min for 1 GB; longer, reconciliation follows the publish_id
    post_id_wait = 60.0  # moderation "usually finishes within one minute" [TK5]

    @classmethod
    def option_problems(cls, options: dict[str, object]) -> list[str]:
        problems = []
        privacy = options.get("privacy_level", DEFAULT_PRIVACY)
        if privacy not in PRIVACY_LEVELS:
            problems.append(f"option privacy_level {privacy!r}: use {', '.join(PRIVACY_LEVELS)}")
        for name in SWITCHES:
            if name in options and _switch(options[name]) is None:
                problems.append(f"option {name} must be true or false")
        return problems

    @property
    def lookup_proves_absence(self) -> bool:
        # lookup answers None only when TikTok's status proves the post cannot appear (see lookup)
        return True

    @property
    def privacy(self) -> str:
        return str(self.channel.options.get("privacy_level", DEFAULT_PRIVACY))

    # -- what will be sent ----------------------------------------------------------------------

    def build(self, content: Content) -> Prepared:
        media = self.media_for(content)
        base = self.settings.tiktok_api_url.rstrip("/")
        text = unicodedata.normalize("NFC", content.full_text)  # counted in NFC by media.specs
        notes: list[str] = []
        if media and media[0].kind == "video":
            url = f"{base}/v2/post/publish/video/init/"
            size = _size(media[0])
            chunk, count = chunk_plan(size) if size else (0, 0)
            body: dict[str, Any] = {
                "post_info": {"title": text, "privacy_level": self.privacy, **self._switches(video=True)},
                "source_info": {
                    "source": "FILE_UPLOAD",
                    "video_size": size,
                    "chunk_size": chunk,
                    "total_chunk_count": count,
                },
            }
        else:
            url = f"{base}/v2/post/publish/content/init/"
            post_info: dict[str, Any] = {"description": text, "privacy_level": self.privacy}
            if content.title:
                post_info["title"] = unicodedata.normalize("NFC", content.title)
            post_info |= self._switches(video=False)
            if not self.settings.public_base_url:
                notes.append("TikTok pulls photos from a public URL: set CROSSPOST_PUBLIC_BASE_URL before going live")
            body = {
                "media_type": "PHOTO",
                "post_mode": "DIRECT_POST",
                "post_info": post_info,
                "source_info": {
                    "source": "PULL_FROM_URL",
                    "photo_cover_index": 0,
                    "photo_images": [self._photo_url(item, preview=True) for item in media],
                },
            }
        return Prepared(
            channel=self.channel.name,
            platform=self.platform,
            text=content.full_text,
            title=content.title,
            media=media,
            request={"method": "POST", "url": url, "json": body},
            notes=tuple(notes),
        )

    def _switches(self, *, video: bool, creator: dict[str, Any] | None = None) -> dict[str, bool]:
        """disable_comment (and, for video, disable_duet/stitch): the channel's choice, and always
        on where the creator switched the feature off (creator_info's ``*_disabled``)."""
        names = SWITCHES if video else ("disable_comment",)
        creator = creator or {}
        return {
            name: bool(_switch(self.channel.options.get(name, False)))
            or bool(creator.get(name.replace("disable_", "") + "_disabled"))
            for name in names
        }

    def _photo_url(self, item: PreparedMedia, *, preview: bool = False) -> str:
        base = self.settings.public_base_url
        try:
            relative = item.source.resolve().relative_to(self.settings.media_store.resolve())
        except ValueError:
            if preview:
                return f"<public-url:{item.name}>"
            raise Permanent(f"{item.name} is not in the media store, so crosspost cannot serve it to TikTok") from None
        if not base:
            if preview:
                return f"<public-url:{item.name}>"
            raise Permanent(
                "TikTok takes photos only by pulling them from a public URL (PULL_FROM_URL): set "
                "CROSSPOST_PUBLIC_BASE_URL to where crosspost's media are published (served under /media/) "
                "and verify that domain or URL prefix for the app in the TikTok developer portal"
            )
        return public_url(base, relative.as_posix())

    # -- publishing -----------------------------------------------------------------------------

    def publish(self, prepared: Prepared, ctx: PublishContext) -> Published:
        token = self._token()
        saved = _own(ctx.checkpoint)
        if saved.get("publish_id"):
            outcome = self._resume(prepared, ctx, token, saved)
            if outcome is not None:
                return outcome
            # the earlier publish_id can no longer become a post: a fresh init cannot double it
        video = _video(prepared)
        if video is not None:
            return self._post_video(prepared, video, ctx, token, self._creator_info(token))
        photos = [self._photo_url(item) for item in prepared.media]  # refused here, before any call
        return self._post_photos(prepared, photos, ctx, token, self._creator_info(token))

    def finish(self, prepared: Prepared, found: Published, ctx: PublishContext) -> Published:
        """A post found by reconciliation before TikTok named its public id (moderation) waits
        for it as publishing does (``post_id_wait``), so the row gets the post's id and URL, not
        the publish_id, whenever TikTok gives them in time."""
        saved = _own(ctx.checkpoint)
        if found.remote_id != str(saved.get("publish_id")) or saved.get("privacy_level") == "SELF_ONLY":
            return found  # already the public id, or a private post that never gets one
        return self._await(self._token(), saved)

    def lookup(self, prepared: Prepared, ctx: PublishContext) -> Published | None:
        """The saved publish_id's status. None only when it proves no post can appear (FAILED, or
        an upload TikTok has not got the whole of: the next attempt resumes it); still processing
        raises OutcomeUnknown, so reconciliation asks again."""
        saved = _own(ctx.checkpoint)
        if not saved.get("publish_id"):
            if _video(prepared) is not None:
                return None  # no publish_id was ever answered, so no upload: there is no post
            raise Permanent(
                "the photo post's init was sent but its answer (the publish_id) never arrived, so crosspost "
                "cannot ask TikTok about it; TikTok may have pulled the photos and posted: check the profile, "
                "then `crosspost post retry` to send it or `post cancel` to drop it"
            )
        status = self._status(self._token(), str(saved["publish_id"]), uncertain=True)
        if status.status in COMPLETE:
            return self._published(saved, status)
        if status.status == "FAILED":
            return None
        if self._resume_offset(saved, status) is not None:
            return None
        raise OutcomeUnknown(f"TikTok is still processing publish_id {saved['publish_id']} ({status.status})")

    def _resume(self, prepared: Prepared, ctx: PublishContext, token: str, saved: dict[str, Any]) -> Published | None:
        """Carry on with an earlier attempt's publish_id. None when it can never become a post."""
        publish_id = str(saved["publish_id"])
        may_be_complete = saved.get("kind") == "photo" or bool(saved.get("final_sent"))
        try:
            status = self._status(token, publish_id, uncertain=may_be_complete)
        except Permanent as error:  # TikTok no longer knows the publish_id
            if may_be_complete:
                raise OutcomeUnknown(f"{error}; it may have been published: a person should check") from error
            return None  # it never had the whole file: it cannot have become a post
        if status.status in COMPLETE:
            return self._await(token, saved, status)
        if status.status == "FAILED":
            outcome = self._failure(saved, status)
            if isinstance(outcome, Permanent):
                raise outcome
            return None
        offset = self._resume_offset(saved, status)
        if offset is None:
            return self._await(token, saved)  # TikTok may have it all: wait for it, never a second post
        video = _video(prepared)
        fresh = time.time() - float(saved.get("upload_url_at", 0)) < UPLOAD_URL_LIFETIME - 120
        if video is None or _size(video) != saved.get("video_size") or not fresh:
            return None  # the upload cannot go on; the old publish_id will never get its bytes
        chunk, count = int(saved["chunk_size"]), int(saved["total_chunk_count"])
        try:
            self._upload(video, saved, ctx, start=min(offset // chunk, count - 1))
        except _UploadRefused:
            return None  # TikTok said the upload was incomplete and now refuses the rest
        return self._await(token, saved)

    def _resume_offset(self, saved: dict[str, Any], status: Status) -> int | None:
        """Where an incomplete upload goes on from, or None when TikTok may have the whole file."""
        if saved.get("kind") != "video" or status.status != "PROCESSING_UPLOAD":
            return None
        if status.uploaded_bytes is not None:
            return status.uploaded_bytes if status.uploaded_bytes < int(saved["video_size"]) else None
        if saved.get("final_sent"):
            return None
        return int(saved.get("acked_bytes", 0))

    def _creator_info(self, token: str) -> dict[str, Any]:
        creator = self._api("/v2/post/publish/creator_info/query/", token, None, what="TikTok creator_info")
        offered = [str(level) for level in creator.get("privacy_level_options") or []]
        if self.privacy not in offered:
            raise Permanent(
                f"TikTok does not offer privacy level {self.privacy} to @{creator.get('creator_username', '?')}; "
                f"it offers {', '.join(offered) or 'none'}: set the channel's privacy_level option to one of them"
            )
        return creator

    def _post_video(
        self, prepared: Prepared, video: PreparedMedia, ctx: PublishContext, token: str, creator: dict[str, Any]
    ) -> Published:
        limit = creator.get("max_video_post_duration_sec")
        if isinstance(limit, int | float) and limit > 0:
            from media.video import probe  # PyAV: imported only where a video is posted

            try:
                seconds = probe(video.source).duration
            except InvalidInput as error:
                raise Permanent(str(error)) from error
            if seconds > limit:
                raise Permanent(
                    f"the video is {seconds:.1f} s; TikTok takes at most {limit:g} s "
                    f"from @{creator.get('creator_username', '?')}"
                )
        size = _size(video)
        chunk, count = chunk_plan(size)
        body = copy.deepcopy(prepared.request["json"])
        body["post_info"] |= self._switches(video=True, creator=creator)
        body["source_info"] = {
            "source": "FILE_UPLOAD",
            "video_size": size,
            "chunk_size": chunk,
            "total_chunk_count": count,
        }
        # nothing can come of an init without its answer: the upload_url is in it (module docstring)
        data = self._api("/v2/post/publish/video/init/", token, body, what="TikTok video init")
        saved: dict[str, Any] = {
            "publish_id": _required(data, "publish_id", "TikTok video init"),
            "kind": "video",
            "upload_url": _required(data, "upload_url", "TikTok video init"),
            "upload_url_at": time.time(),
            "video_size": size,
            "chunk_size": chunk,
            "total_chunk_count": count,
            "privacy_level": self.privacy,
            "username": creator.get("creator_username"),
            "acked_bytes": 0,
            "final_sent": False,
        }
        ctx.save_checkpoint(saved)  # the handle, before the first byte
        self._upload(video, saved, ctx, start=0)
        return self._await(token, saved)

    def _post_photos(
        self, prepared: Prepared, photos: list[str], ctx: PublishContext, token: str, creator: dict[str, Any]
    ) -> Published:
        body = copy.deepcopy(prepared.request["json"])
        body["post_info"] |= self._switches(video=False, creator=creator)
        body["source_info"]["photo_images"] = photos
        what = "TikTok photo init"
        data = self._api("/v2/post/publish/content/init/", token, body, what=what, uncertain=True)
        saved = {
            "publish_id": _required(data, "publish_id", what, OutcomeUnknown),
            "kind": "photo",
            "privacy_level": self.privacy,
            "username": creator.get("creator_username"),
        }
        ctx.save_checkpoint(saved)
        return self._await(token, saved)

    def _upload(self, video: PreparedMedia, saved: dict[str, Any], ctx: PublishContext, *, start: int) -> None:
        """The file's chunks from ``start`` on, in order; progress saved after each one."""
        size, chunk, count = int(saved["video_size"]), int(saved["chunk_size"]), int(saved["total_chunk_count"])
        mime = video.mime if video.mime.startswith("video/") else "video/mp4"
        with video.source.open("rb") as handle:
            for index in range(start, count):
                first = index * chunk
                final = index == count - 1
                last = size - 1 if final else first + chunk - 1
                handle.seek(first)
                data = handle.read(last - first + 1)
                if final and not saved.get("final_sent"):
                    saved["final_sent"] = True  # from here on TikTok may have the whole file
                    ctx.save_checkpoint(saved)
                self._put(str(saved["upload_url"]), data, first, last, size, mime, index, count)
                if not final:
                    saved["acked_bytes"] = last + 1
                    ctx.save_checkpoint(saved)

    def _put(self, url: str, data: bytes, first: int, last: int, size: int, mime: str, index: int, count: int) -> None:
        what = f"TikTok upload, chunk {index + 1} of {count}"
        final = index == count - 1
        lost: type[AdapterError] = OutcomeUnknown if final else Retryable
        headers = {"User-Agent": USER_AGENT, "Content-Type": mime, "Content-Range": f"bytes {first}-{last}/{size}"}
        response = self._send("PUT", url, what, lost, data=data, headers=headers)
        if response.status_code in (200, 201, 206):  # 206 between chunks, 201 at the end (UNCONFIRMED)
            return
        error = self._refusal(response, what, lost)
        if type(error) is Permanent:
            raise _UploadRefused(str(error))
        raise error

    def _await(self, token: str, saved: dict[str, Any], status: Status | None = None) -> Published:
        """Poll the publish_id until TikTok publishes it (and, for a post others can see, names
        its post id) or fails it; still processing after ``status_wait``: OutcomeUnknown."""
        publish_id = str(saved["publish_id"])
        deadline = time.monotonic() + self.status_wait
        id_deadline: float | None = None
        while True:
            if status is None:
                status = self._status(token, publish_id, uncertain=True)
            if status.status == "FAILED":
                raise self._failure(saved, status)
            if status.status in COMPLETE:
                if status.post_ids or saved.get("privacy_level") == "SELF_ONLY":
                    return self._published(saved, status)
                id_deadline = id_deadline or time.monotonic() + self.post_id_wait
                if time.monotonic() >= id_deadline:
                    return self._published(saved, status)  # moderation can take hours: the publish_id stands
            elif time.monotonic() >= deadline:
                raise OutcomeUnknown(
                    f"TikTok was still processing publish_id {publish_id} ({status.status}) after "
                    f"{self.status_wait:g} s; reconciliation will ask again"
                )
            status = None
            time.sleep(self.poll_interval)

    def _published(self, saved: dict[str, Any], status: Status) -> Published:
        username = saved.get("username")
        profile = f"https://www.tiktok.com/@{username}" if username else None
        if status.post_ids:
            post_id = status.post_ids[0]
            # §3.2 step 7 [PZ-TT]; photo posts get the same form (their own path is UNCONFIRMED)
            return Published(remote_id=post_id, url=f"{profile}/video/{post_id}" if profile else None)
        return Published(remote_id=str(saved["publish_id"]), url=profile)

    def _failure(self, saved: dict[str, Any], status: Status) -> AdapterError:
        reason = status.fail_reason or "no reason given"
        words = f"TikTok did not publish publish_id {saved['publish_id']}: {reason}"
        if reason == "auth_removed":
            return AuthExpired(f"{words}; the account removed crosspost's access: reconnect the channel")
        if reason in TRANSIENT_FAILURES:
            return Retryable(words)  # the failed publish_id proves no post: the next attempt starts anew
        return Permanent(words)

    # -- plumbing -------------------------------------------------------------------------------

    def _token(self) -> str:
        credentials = self.channel.credentials or {}
        token = credentials.get("access_token")
        if not token:
            raise AuthExpired(
                f"channel {self.channel.name!r} has no TikTok access token; reconnect it "
                "(crosspost channel reconnect NAME --credentials FILE)"
            )
        expires_at = credentials.get("expires_at")
        if isinstance(expires_at, int | float) and expires_at <= time.time():
            raise AuthExpired(f"channel {self.channel.name!r}: the TikTok access token has expired; reconnect it")
        return str(token)

    def _status(self, token: str, publish_id: str, *, uncertain: bool) -> Status:
        """``uncertain``: TikTok may have all it needs to publish, so a status that cannot be read
        (even a rate limit) leaves the outcome open: OutcomeUnknown, and reconciliation asks."""
        what = f"TikTok status of {publish_id}"
        try:
            data = self._api("/v2/post/publish/status/fetch/", token, {"publish_id": publish_id}, what=what)
        except Retryable as error:
            if uncertain:
                raise OutcomeUnknown(str(error)) from error
            raise
        return Status.of(data)

    def _api(
        self, path: str, token: str, body: dict[str, Any] | None, *, what: str, uncertain: bool = False
    ) -> dict[str, Any]:
        """POST to the API; TikTok's answer ``data``, or its error as the adapter's outcome.
        ``uncertain``: a lost answer or a server error may hide an effect (OutcomeUnknown), else
        it is certainly harmless to ask again (Retryable)."""
        lost: type[AdapterError] = OutcomeUnknown if uncertain else Retryable
        headers = {
            "User-Agent": USER_AGENT,
            "Authorization": f"Bearer {token}",
            "Content-Type": "application/json; charset=UTF-8",
        }
        data = json.dumps(body if body is not None else {}, ensure_ascii=False).encode()
        url = self.settings.tiktok_api_url.rstrip("/") + path
        response = self._send("POST", url, what, lost, data=data, headers=headers)
        if response.status_code == 200 and _error(response)[0] in ("", "ok"):
            payload = _payload(response)
            answer = payload.get("data")
            return answer if isinstance(answer, dict) else {}
        raise self._refusal(response, what, lost)

    def _send(self, method: str, url: str, what: str, lost: type[AdapterError], **kwargs: Any) -> requests.Response:
        try:
            with translate_transport_errors(what):
                return shared_session().request(method, url, timeout=self.settings.http_timeout, **kwargs)
        except OutcomeUnknown as error:
            if lost is OutcomeUnknown:
                raise
            raise lost(str(error)) from error

    def _refusal(self, response: requests.Response, what: str, server_error: type[AdapterError]) -> AdapterError:
        """TikTok's error envelope ``{"error": {"code", "message", "log_id"}}`` as an outcome (§3.3)."""
        status = response.status_code
        code, message, log_id = _error(response)
        words = f"{what}: TikTok answered {status} ({code or 'no code'}: {message or 'no message'}"
        words += f"; log_id {log_id})" if log_id else ")"
        if status == 429 or code == "rate_limit_exceeded":
            wait = retry_after_seconds(response.headers.get("Retry-After")) or RATE_LIMIT_WAIT
            return Retryable(f"{words}; TikTok's rate limit", retry_after=wait)
        if status == 401 or code in AUTH_CODES:
            return AuthExpired(f"{words}; TikTok refused the channel's token or its scopes: reconnect it")
        if code in DAILY_CAPS:
            return Retryable(f"{words}; {DAILY_CAPS[code]}: trying again in an hour", retry_after=DAILY_CAP_WAIT)
        if status >= 500 or code == "internal_error":
            return server_error(words)
        if code == "url_ownership_unverified":
            return Permanent(
                f"{words}; TikTok pulls photos from {self.settings.public_base_url}: verify that domain or URL "
                "prefix for the app in the TikTok developer portal"
            )
        return Permanent(f"{words}; {HINTS[code]}" if code in HINTS else words)


def _switch(value: object) -> bool | None:
    """A channel option's boolean (the CLI stores strings), or None when it is neither."""
    if isinstance(value, bool):
        return value
    return {"true": True, "yes": True, "1": True, "false": False, "no": False, "0": False}.get(str(value).lower())


def _own(checkpoint: dict[str, Any] | None) -> dict[str, Any]:
    """The adapter's part of a saved checkpoint (the pipeline adds ``_version``)."""
    return {key: value for key, value in (checkpoint or {}).items() if not key.startswith("_")}


def _video(prepared: Prepared) -> PreparedMedia | None:
    return next((item for item in prepared.media if item.kind == "video"), None)


def _size(item: PreparedMedia) -> int:
    try:
        return item.source.stat().st_size
    except OSError:
        return 0


def _payload(response: requests.Response) -> dict[str, Any]:
    try:
        payload = response.json()
    except ValueError:
        return {}
    return payload if isinstance(payload, dict) else {}


def _error(response: requests.Response) -> tuple[str, str, str]:
    error = _payload(response).get("error")
    if not isinstance(error, dict):
        return "", response.text[:300] if response.status_code >= 300 else "", ""
    return str(error.get("code") or ""), str(error.get("message") or ""), str(error.get("log_id") or "")


def _required(data: dict[str, Any], key: str, what: str, missing: type[AdapterError] = Retryable) -> str:
    value = data.get(key)
    if not value:
        raise missing(f"{what}: TikTok's answer has no {key}")
    return str(value)
