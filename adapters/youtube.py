"""YouTube Data API v3: resumable videos.insert (shared/reference/platforms.md §4).

Publishing is one resumable upload [YT2]: ``POST {upload}/youtube/v3/videos?uploadType=resumable``
with the video resource opens a session and answers its URI in ``Location``; the file follows
in ``PUT``s of whole 256 KiB multiples (``Content-Range: bytes a-b/N``, 308 + ``Range`` in
between) and the last one answers the created video. YouTube takes no idempotency key (§0.3):
the session URI is the handle. It is saved with ``ctx.save_checkpoint`` after the session opens
and *before* the first byte, so a later attempt, or reconciliation, probes that same session
(``PUT`` with ``Content-Range: bytes */N``) instead of uploading a second video: 308 says how
much YouTube kept (the upload goes on from there), 200/201 says it is complete (and answers the
video), 404/410 says it expired [YT2][PZ-YT]. A new session is opened only when no earlier one
can complete: there is none, or it expired before its last chunk was ever sent. The custom
thumbnail, when the media pipeline made one, follows with ``thumbnails.set`` [YT3].

Credentials (encrypted at rest): ``{"access_token", "refresh_token", "expires_at", "channel_id"}``;
the token is refreshed elsewhere (``adapters.oauth``), a 401 here means "reconnect".

Channel options (``--option KEY=VALUE``; all optional):

* ``privacy_status``: public (default), private or unlisted; always sent, since accounts differ
  in what they assume when it is missing (§4.2).
* ``publish_at``: an ISO 8601 instant with offset; YouTube then makes the video public at that time.
  YouTube takes it only on private videos [YT6], so it implies ``privacy_status=private`` and
  is refused with any other privacy.
* ``category_id``: YouTube's numeric category (default 28, Science & Technology).
* ``tags``: comma-separated; at most 500 characters as YouTube counts them (§4.3).
* ``made_for_kids``: true/false (``status.selfDeclaredMadeForKids``); ``notify_subscribers``:
  true/false.
* ``chunk_size``: bytes per PUT, a multiple of 256 KiB (default 8 MiB): what is lost, and
  sent again, when a connection breaks.
* ``shorts``: true (default) or false. The media pipeline renders a vertical clip 9:16, whole,
  and YouTube makes a vertical or square video of up to 3 minutes a Short (it has no API flag,
  §4.4); such a video is linked at its ``/shorts/`` address. ``false`` renders vertical clips in
  16:9 like any other (cropped, or padded with ``framing=pad``), so that none becomes a Short.

Text: the title is the post's title, or its first line cut to fit; ``<`` and ``>`` in a derived
title become U+2039 and U+203A. The description is the post's text as it is: YouTube refuses
``<`` and ``>`` in it [YT6], and rather than change what the author wrote (``m < 125 GeV`` is
content), a post that has them is refused for YouTube with a message naming the characters
(``media.specs``, when the post is created, and again here before any upload).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, replace
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

import requests

from adapters._http import retry_after_seconds, shared_session, translate_transport_errors
from adapters.base import Adapter, Prepared
from adapters.errors import AdapterError, AuthExpired, OutcomeUnknown, Permanent, Retryable
from media.specs import SPECS
from scheduler.errors import ContentRejected
from scheduler.publishing.content import Content
from scheduler.publishing.ports import PreparedMedia, PublishContext, Published

log = logging.getLogger(__name__)

TITLE_LIMIT = 100  # platforms.md §4.3 [YT6]: characters
DESCRIPTION_LIMIT = 5000  # §4.3 [YT6]: UTF-8 bytes
TAGS_LIMIT = 500  # §4.3 [YT6][PZ-YT]: commas count, a tag with a space +2 for its quotes
FORBIDDEN = "<>"  # §4.3 [YT6]: "all valid UTF-8 characters except < and >"
PRIVACY = ("public", "private", "unlisted")
CHUNK_UNIT = 256 * 1024  # §4.2: chunk sizes are multiples of 256 KiB, except the last
DEFAULT_CHUNK = 32 * CHUNK_UNIT  # 8 MiB
DEFAULT_CATEGORY = "28"  # Science & Technology
_VIDEO_SPEC = SPECS["youtube"].video
# §4.4 [YT11(2nd)]: vertical or square, up to 3 min; the media pipeline renders with this same number
SHORTS_SECONDS = (_VIDEO_SPEC.shorts_max_duration if _VIDEO_SPEC else None) or 180.0
PACIFIC = ZoneInfo("America/Los_Angeles")  # quota resets at midnight Pacific Time (§4.3 [YT4])
QUOTA_REASONS = frozenset({"quotaExceeded", "dailyLimitExceeded"})
RATE_REASONS = frozenset({"rateLimitExceeded", "userRateLimitExceeded"})
UPLOAD_CAP_WAIT = 24 * 3600.0  # uploadLimitExceeded: "try again in 24 hours" (§4.3 [YT14(2nd)])
# reconciliation matches recent uploads by title and description. Its ctx.started_at is the
# lookup's own time, not the lost attempt's: that attempt began at most a publish lease and a
# reconcile round earlier, plus this margin
LOOKUP_MARGIN = timedelta(minutes=15)


def derive_title(content: Content) -> str:
    """The post's title, or its first line cut at a word boundary to fit YouTube's 100 characters."""
    if content.title and content.title.strip():
        return content.title
    first_line = next((line.strip() for line in content.text.splitlines() if line.strip()), "")
    if _length(first_line) <= TITLE_LIMIT:
        return first_line or "Untitled"
    cut = first_line[: TITLE_LIMIT - 1]
    while _length(cut) > TITLE_LIMIT - 1:  # emoji count twice where characters are UTF-16 units
        cut = cut[:-1]
    cut = cut.rsplit(" ", 1)[0] if " " in cut else cut
    return cut.rstrip(" ,;:") + "…"


def _length(text: str) -> int:
    """Title length as ``media.specs`` counts it (UTF-16 units: the stricter reading for emoji)."""
    return len(text.encode("utf-16-le")) // 2


@dataclass(frozen=True)
class Options:
    privacy_status: str = "public"
    publish_at: datetime | None = None
    category_id: str = DEFAULT_CATEGORY
    tags: tuple[str, ...] = ()
    made_for_kids: bool | None = None
    notify_subscribers: bool | None = None
    chunk_size: int = DEFAULT_CHUNK
    shorts: bool = True  # read by the media pipeline (scheduler.publishing.media_prep); checked here


def read_options(raw: dict[str, object]) -> tuple[Options, list[str]]:
    """The channel's options, and what is wrong with them (values may be strings, from the CLI)."""
    problems: list[str] = []
    publish_at = None
    if raw.get("publish_at") not in (None, ""):
        try:
            publish_at = datetime.fromisoformat(str(raw["publish_at"]))
        except ValueError:
            problems.append(f"publish_at {raw['publish_at']!r} is not an ISO 8601 time")
        else:
            if publish_at.tzinfo is None:
                problems.append(f"publish_at {raw['publish_at']!r} needs an offset, e.g. 2027-03-01T18:00:00+01:00")
                publish_at = None
    privacy = str(raw.get("privacy_status") or ("private" if publish_at else "public"))
    if privacy not in PRIVACY:
        problems.append(f"privacy_status {privacy!r}: use {', '.join(PRIVACY)}")
    if publish_at is not None and privacy != "private":
        problems.append(
            f"publish_at needs privacy_status private (YouTube publishes a private video at that time), not {privacy!r}"
        )
    category = str(raw.get("category_id") or DEFAULT_CATEGORY)
    if not category.isdigit():
        problems.append(f"category_id {category!r}: YouTube's category ids are numbers, e.g. 28")
    tags_raw = raw.get("tags") or ()
    listed = tags_raw.split(",") if isinstance(tags_raw, str) else [str(t) for t in _as_list(tags_raw)]
    tags = tuple(tag.strip() for tag in listed if tag.strip())
    if _tags_length(tags) > TAGS_LIMIT:
        problems.append(f"tags are {_tags_length(tags)} characters as YouTube counts them, over {TAGS_LIMIT}")
    if any(char in tag for tag in tags for char in FORBIDDEN):
        problems.append("tags may not contain '<' or '>'")
    flags: dict[str, bool | None] = {}
    for name in ("made_for_kids", "notify_subscribers", "shorts"):
        value = raw.get(name)
        if value in (None, ""):
            flags[name] = None
        elif str(value).lower() in ("true", "1", "yes"):
            flags[name] = True
        elif str(value).lower() in ("false", "0", "no"):
            flags[name] = False
        else:
            problems.append(f"{name} {value!r}: use true or false")
    chunk = DEFAULT_CHUNK
    if raw.get("chunk_size") not in (None, ""):
        text = str(raw["chunk_size"])
        if not text.isdigit() or int(text) < CHUNK_UNIT or int(text) % CHUNK_UNIT:
            problems.append(f"chunk_size {text!r}: a multiple of {CHUNK_UNIT} bytes (256 KiB)")
        else:
            chunk = int(text)
    options = Options(
        privacy_status=privacy,
        publish_at=publish_at,
        category_id=category,
        tags=tags,
        made_for_kids=flags.get("made_for_kids"),
        notify_subscribers=flags.get("notify_subscribers"),
        chunk_size=chunk,
        shorts=flags.get("shorts") is not False,
    )
    return options, problems


def _as_list(value: object) -> list[object]:
    return list(value) if isinstance(value, list | tuple) else [value]


def _tags_length(tags: tuple[str, ...]) -> int:
    return sum(len(tag) + (2 if " " in tag else 0) for tag in tags) + max(0, len(tags) - 1)


def _rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def watch_url(video_id: str) -> str:
    return f"https://www.youtube.com/watch?v={video_id}"


def shorts_url(video_id: str) -> str:
    # the Shorts address is UNCONFIRMED first-party (§4.2); the watch URL opens Shorts too
    return f"https://www.youtube.com/shorts/{video_id}"


def is_short(path: Path) -> bool:
    """Vertical or square and at most 3 minutes: YouTube shows it as a Short (there is no API
    flag; the classification is YouTube's own, §4.4)."""
    from media.video import probe  # PyAV, only where a video is looked at

    try:
        info = probe(path)
    except Exception:  # a file that cannot be read is no Short; the upload itself will say more
        return False
    return 0 < info.width <= info.height and 0 < info.duration <= SHORTS_SECONDS


def seconds_until_quota_reset(now: datetime) -> float:
    """Seconds from ``now`` to the next midnight Pacific Time, plus a minute's margin."""
    local = now.astimezone(PACIFIC)
    midnight = datetime.combine(local.date() + timedelta(days=1), time(0), tzinfo=PACIFIC)
    return (midnight - local).total_seconds() + 60.0


@dataclass(frozen=True)
class _Probe:
    resource: dict[str, Any] | None = None  # the session completed: the video
    offset: int = 0  # the session is open: the next byte YouTube wants
    gone: bool = False  # the session expired (404/410)


class YouTubeAdapter(Adapter):
    platform = "youtube"
    supports_live = True
    # rate_limits stays empty: YouTube's limit is a quota per API project (100 videos.insert a
    # day, shared by every channel of the project, reset at midnight Pacific), not a sliding
    # window per account; its 403 quotaExceeded is turned into a wait until the reset instead

    @classmethod
    def option_problems(cls, options: dict[str, object]) -> list[str]:
        return read_options(options)[1]

    @property
    def lookup_proves_absence(self) -> bool:
        """True: every byte is sent into a session whose URI was saved first, a session creates
        the video only when its last byte arrives, and a second session is opened only when the
        first can no longer complete. So "not complete" from the saved session, or no session at
        all, proves nothing landed; the one ambiguous case (the session expired after its last
        chunk was sent, and the video is not among the recent uploads) raises instead."""
        return True

    def options(self) -> Options:
        options, problems = read_options(self.channel.options)
        if problems:
            raise ContentRejected(f"channel {self.channel.name!r} (YouTube options): " + "; ".join(problems))
        return options

    def build(self, content: Content) -> Prepared:
        options = self.options()
        media = self.media_for(content)
        notes: list[str] = []
        if media and media[0].kind == "image":
            media = (replace(media[0], role="still-video-source"), *media[1:])
            notes.append("the image is turned into a still video by the media pipeline before upload")
        title = derive_title(content).replace("<", "\u2039").replace(">", "\u203a")  # YouTube refuses < and >
        description = content.full_text
        problems = []
        if _length(title) > TITLE_LIMIT:
            problems.append(f"title is {_length(title)} characters, over the limit of {TITLE_LIMIT}")
        size = len(description.encode("utf-8"))
        if size > DESCRIPTION_LIMIT:
            problems.append(f"description is {size} bytes (UTF-8), over the limit of {DESCRIPTION_LIMIT}")
        bad = sorted({char for char in description if char in FORBIDDEN})
        if bad:
            problems.append(f"description may not contain {' or '.join(repr(c) for c in bad)}")
        if problems:
            raise ContentRejected(f"channel {self.channel.name!r} (YouTube): " + "; ".join(problems))
        snippet: dict[str, Any] = {"title": title, "description": description, "categoryId": options.category_id}
        if options.tags:
            snippet["tags"] = list(options.tags)
        status: dict[str, Any] = {"privacyStatus": options.privacy_status}
        if options.publish_at is not None:
            status["publishAt"] = _rfc3339(options.publish_at)
            notes.append(f"uploaded private; YouTube makes it public at {status['publishAt']}")
        if options.made_for_kids is not None:
            status["selfDeclaredMadeForKids"] = options.made_for_kids
        video = _video(media)
        if video is not None and video.kind == "video" and is_short(video.source):
            notes.append(
                "vertical and at most 3 minutes: YouTube shows it as a Short (https://www.youtube.com/shorts/…)"
            )
        if any(item.kind == "thumbnail" for item in media):
            notes.append("its thumbnail is set with thumbnails.set once the video is uploaded")
        return Prepared(
            channel=self.channel.name,
            platform=self.platform,
            text=description,
            title=title,
            media=media,
            request={
                "method": "POST",
                "url": self._insert_url(options),
                "json": {"snippet": snippet, "status": status},
            },
            notes=tuple(notes),
        )

    # -- publishing ---------------------------------------------------------------------------

    def publish(self, prepared: Prepared, ctx: PublishContext) -> Published:
        credentials = self._credentials()
        video = _video(prepared.media)
        if video is None or video.kind != "video":
            raise Permanent(
                "YouTube takes a video and this publication has none"
                + (" (its image was not turned into a still video: the media pipeline did not run)" if video else "")
            )
        checkpoint = _own(ctx.checkpoint)
        video_id = checkpoint.get("video_id")
        if not video_id:
            video_id = str(self._upload(prepared, video, credentials, ctx, checkpoint)["id"])
        thumbnail = next((item for item in prepared.media if item.kind == "thumbnail"), None)
        if thumbnail is not None:
            self._set_thumbnail(str(video_id), thumbnail, credentials, ctx)
        return Published(remote_id=str(video_id), url=self._url(str(video_id), video))

    def finish(self, prepared: Prepared, found: Published, ctx: PublishContext) -> Published:
        """A video found by reconciliation gets the thumbnail its interrupted attempt would have
        set (thumbnails.set replaces, so setting it twice is harmless)."""
        thumbnail = next((item for item in prepared.media if item.kind == "thumbnail"), None)
        if thumbnail is not None:
            self._set_thumbnail(found.remote_id, thumbnail, self._credentials(), ctx)
        return found

    def lookup(self, prepared: Prepared, ctx: PublishContext) -> Published | None:
        """The saved session's answer when there is one (exact); otherwise the channel's recent
        uploads, matched on title and description."""
        credentials = self._credentials()
        video = _video(prepared.media)
        checkpoint = _own(ctx.checkpoint)
        if checkpoint.get("video_id"):
            return Published(remote_id=str(checkpoint["video_id"]), url=self._url(str(checkpoint["video_id"]), video))
        session = checkpoint.get("session")
        if not session:
            # no session was saved, so no byte was ever sent; the search is a second opinion
            return self._search_uploads(prepared, video, credentials, ctx)
        probed = self._probe(str(session), int(checkpoint.get("bytes", 0)), credentials, ctx)
        if probed.resource is not None:
            video_id = str(probed.resource["id"])
            ctx.save_checkpoint({**checkpoint, "final_sent": True, "video_id": video_id})
            return Published(remote_id=video_id, url=self._url(video_id, video))
        if not probed.gone or not checkpoint.get("final_sent"):
            # not complete, so no video: this session is the only one that ever got bytes, and
            # any later attempt resumes it rather than opening a second one
            return None
        found = self._search_uploads(prepared, video, credentials, ctx)
        if found is not None:
            return found
        raise Permanent(
            "the upload session expired after its last chunk was sent, and no recent upload of the "
            "channel matches this title and description; check the channel on YouTube"
        )

    # -- the resumable upload -----------------------------------------------------------------

    def _upload(
        self,
        prepared: Prepared,
        video: PreparedMedia,
        credentials: dict[str, Any],
        ctx: PublishContext,
        checkpoint: dict[str, Any],
    ) -> dict[str, Any]:
        try:
            total = video.source.stat().st_size
        except OSError as error:
            raise Permanent(f"{video.name}: cannot read the video ({error})") from error
        if total == 0:
            raise Permanent(f"{video.name}: the video is empty")
        session = checkpoint.get("session")
        offset = 0
        if session:
            probed = self._probe(str(session), int(checkpoint.get("bytes", total)), credentials, ctx)
            if probed.resource is not None:
                ctx.save_checkpoint({**checkpoint, "final_sent": True, "video_id": str(probed.resource["id"])})
                return probed.resource
            if probed.gone and checkpoint.get("final_sent"):
                raise OutcomeUnknown(
                    "YouTube upload: the session expired after its last chunk was sent; "
                    "whether it created the video is for the lookup to find out"
                )
            if probed.gone or checkpoint.get("bytes") != total:
                session = None  # expired, or made for another file: it never completes; start afresh
            else:
                offset = probed.offset
        if not session:
            self._check_publish_at(prepared, ctx)
            session = self._open_session(prepared, video, total, credentials, ctx)
            checkpoint = {"session": session, "bytes": total, "final_sent": False}
            ctx.save_checkpoint(checkpoint)  # before the first byte: the handle of this upload
        resource = self._send(str(session), video, total, offset, credentials, ctx, checkpoint)
        ctx.save_checkpoint({**checkpoint, "final_sent": True, "video_id": str(resource["id"])})
        return resource

    def _check_publish_at(self, prepared: Prepared, ctx: PublishContext) -> None:
        publish_at = prepared.request.get("json", {}).get("status", {}).get("publishAt")
        if publish_at and datetime.fromisoformat(publish_at) <= ctx.started_at:
            raise Permanent(
                f"the channel's publish_at ({publish_at}) has passed; YouTube refuses a schedule in the past "
                "(invalidPublishAt): change or clear the channel's publish_at option"
            )

    def _open_session(
        self,
        prepared: Prepared,
        video: PreparedMedia,
        total: int,
        credentials: dict[str, Any],
        ctx: PublishContext,
    ) -> str:
        try:
            with translate_transport_errors("YouTube videos.insert"):
                response = shared_session().post(
                    prepared.request["url"],
                    json=prepared.request["json"],
                    headers={
                        **_auth(credentials),
                        "Content-Type": "application/json; charset=UTF-8",
                        "X-Upload-Content-Length": str(total),
                        "X-Upload-Content-Type": video.mime if video.mime.startswith("video/") else "video/*",
                    },
                    timeout=self.settings.http_timeout,
                )
        except OutcomeUnknown as error:
            # an unused session creates nothing: safe to open another
            raise Retryable(str(error)) from error
        if response.status_code >= 300:
            raise self._refusal(response, "YouTube videos.insert", ctx)
        location = response.headers.get("Location")
        if not location:
            raise Retryable(f"YouTube videos.insert: answered {response.status_code} without a session URI")
        return location

    def _send(
        self,
        session: str,
        video: PreparedMedia,
        total: int,
        offset: int,
        credentials: dict[str, Any],
        ctx: PublishContext,
        checkpoint: dict[str, Any],
    ) -> dict[str, Any]:
        chunk_size = self.options().chunk_size
        with video.source.open("rb") as handle:
            for _ in range(total // CHUNK_UNIT + 100):
                handle.seek(offset)
                data = handle.read(chunk_size)
                if not data:
                    raise Permanent(f"{video.name}: the file is shorter than the {total} bytes announced")
                end = offset + len(data) - 1
                final = end >= total - 1
                if final and not checkpoint.get("final_sent"):
                    # from here on the session may complete: it is never replaced by a new one
                    checkpoint = {**checkpoint, "final_sent": True}
                    ctx.save_checkpoint(checkpoint)
                response = self._put(session, data, f"bytes {offset}-{end}/{total}", video.mime, credentials, final)
                if response.status_code in (200, 201):
                    return _json(response)
                if response.status_code == 308:
                    kept = _kept(response)
                    if kept > end + 1:
                        raise Permanent(f"YouTube upload: the session says it holds {kept} bytes, more than sent")
                    offset = kept
                    continue
                if response.status_code in (404, 410):
                    message = f"YouTube upload: the session expired ({response.status_code})"
                    raise OutcomeUnknown(message) if checkpoint.get("final_sent") else Retryable(message)
                raise self._refusal(response, "YouTube upload", ctx, uncertain=final)
        raise Retryable("YouTube upload: the session kept asking for bytes it had been sent")

    def _put(
        self, session: str, data: bytes, content_range: str, mime: str, credentials: dict[str, Any], final: bool
    ) -> requests.Response:
        try:
            with translate_transport_errors(f"YouTube upload ({content_range})"):
                return shared_session().put(
                    session,
                    data=data,
                    headers={**_auth(credentials), "Content-Type": mime, "Content-Range": content_range},
                    timeout=self.settings.http_timeout,
                    allow_redirects=False,  # 308 here is "Resume Incomplete", not a redirect
                )
        except OutcomeUnknown as error:
            if final:
                raise  # the last byte may have arrived: the video may exist; the lookup finds out
            raise Retryable(f"{error}; the upload resumes from what YouTube kept") from error

    def _probe(self, session: str, total: int, credentials: dict[str, Any], ctx: PublishContext) -> _Probe:
        """Ask a saved session how far it got; changes nothing, so any transport failure is retryable."""
        try:
            with translate_transport_errors("YouTube upload status"):
                response = shared_session().put(
                    session,
                    data=b"",
                    headers={**_auth(credentials), "Content-Range": f"bytes */{total}" if total else "bytes */*"},
                    timeout=self.settings.http_timeout,
                    allow_redirects=False,
                )
        except OutcomeUnknown as error:
            raise Retryable(str(error)) from error
        if response.status_code in (200, 201):
            return _Probe(resource=_json(response))
        if response.status_code == 308:
            return _Probe(offset=_kept(response))
        if response.status_code in (404, 410):
            return _Probe(gone=True)
        raise self._refusal(response, "YouTube upload status", ctx)

    def _set_thumbnail(
        self, video_id: str, thumbnail: PreparedMedia, credentials: dict[str, Any], ctx: PublishContext
    ) -> bool:
        """Best effort: the video is up whatever happens here (a thumbnail needs a verified
        channel, §4.2), so a refusal is logged, never the publication's outcome."""
        url = f"{self.settings.youtube_upload_url.rstrip('/')}/youtube/v3/thumbnails/set?videoId={quote(video_id)}"
        try:
            data = thumbnail.source.read_bytes()
            with translate_transport_errors("YouTube thumbnails.set"):
                response = shared_session().post(
                    url,
                    data=data,
                    headers={**_auth(credentials), "Content-Type": thumbnail.mime},
                    timeout=self.settings.http_timeout,
                )
            if response.status_code >= 300:
                raise self._refusal(response, "YouTube thumbnails.set", ctx)
        except (AdapterError, OSError) as error:
            log.warning(
                "publication %s: video %s is up, its thumbnail was not set: %s", ctx.publication_id, video_id, error
            )
            return False
        return True

    # -- reconciliation by search -------------------------------------------------------------

    def _search_uploads(
        self, prepared: Prepared, video: PreparedMedia | None, credentials: dict[str, Any], ctx: PublishContext
    ) -> Published | None:
        """The channel's uploads playlist (channels.list -> relatedPlaylists.uploads ->
        playlistItems.list, 1 unit each, §4.5), newest 50, matched on title and description."""
        channels = self._get(
            "/youtube/v3/channels",
            {"part": "contentDetails", "mine": "true"},
            credentials,
            ctx,
            "YouTube channels.list",
        )
        items = channels.get("items") or []
        if not items:
            raise Permanent("YouTube channels.list: the account has no channel")
        uploads = items[0].get("contentDetails", {}).get("relatedPlaylists", {}).get("uploads")
        if not uploads:
            raise Permanent("YouTube channels.list: the channel has no uploads playlist")
        listing = self._get(
            "/youtube/v3/playlistItems",
            {"part": "snippet", "playlistId": uploads, "maxResults": "50"},
            credentials,
            ctx,
            "YouTube playlistItems.list",
        )
        window = timedelta(seconds=self.settings.publish_lease + self.settings.reconcile_backoff) + LOOKUP_MARGIN
        since = ctx.started_at - window
        for item in listing.get("items") or []:
            snippet = item.get("snippet", {})
            published = _instant(snippet.get("publishedAt"))
            if (
                snippet.get("title") == prepared.title
                and str(snippet.get("description", "")).strip() == prepared.text.strip()
                and published is not None
                and published >= since
            ):
                video_id = str(snippet.get("resourceId", {}).get("videoId") or "")
                if video_id:
                    return Published(remote_id=video_id, url=self._url(video_id, video))
        return None

    def _get(
        self, path: str, params: dict[str, str], credentials: dict[str, Any], ctx: PublishContext, what: str
    ) -> dict[str, Any]:
        try:
            with translate_transport_errors(what):
                response = shared_session().get(
                    f"{self.settings.youtube_api_url.rstrip('/')}{path}",
                    params=params,
                    headers=_auth(credentials),
                    timeout=self.settings.http_timeout,
                )
        except OutcomeUnknown as error:
            raise Retryable(str(error)) from error  # a read
        if response.status_code >= 300:
            raise self._refusal(response, what, ctx)
        return _json(response)

    # -- plumbing -----------------------------------------------------------------------------

    def _credentials(self) -> dict[str, Any]:
        credentials = self.channel.credentials or {}
        if not credentials.get("access_token"):
            raise AuthExpired(
                f"channel {self.channel.name!r} has no YouTube access token; reconnect it "
                f"(crosspost channel reconnect {self.channel.name} --credentials FILE)"
            )
        return credentials

    def _insert_url(self, options: Options) -> str:
        query = "uploadType=resumable&part=snippet,status"
        if options.notify_subscribers is not None:
            query += f"&notifySubscribers={str(options.notify_subscribers).lower()}"
        return f"{self.settings.youtube_upload_url.rstrip('/')}/youtube/v3/videos?{query}"

    def _url(self, video_id: str, video: PreparedMedia | None) -> str:
        if video is not None and video.kind == "video" and is_short(video.source):
            return shorts_url(video_id)
        return watch_url(video_id)

    def _refusal(
        self, response: requests.Response, what: str, ctx: PublishContext, *, uncertain: bool = False
    ) -> AdapterError:
        """YouTube's answer as the adapter interface's outcome, with Google's own words."""
        status = response.status_code
        message, reasons = _google_error(response)
        words = f"{what}: YouTube answered {status} ({', '.join(sorted(reasons)) or 'no reason'}: {message})"
        if status == 401 or "authError" in reasons:
            return AuthExpired(f"{words}; YouTube refused the channel's token: reconnect it")
        if "insufficientPermissions" in reasons:
            return AuthExpired(f"{words}; the token lacks the youtube.upload scope: reconnect the channel")
        if "uploadLimitExceeded" in reasons:
            return Retryable(
                f"{words}; the channel's daily upload cap: trying again in 24 hours", retry_after=UPLOAD_CAP_WAIT
            )
        if reasons & QUOTA_REASONS:
            return Retryable(
                f"{words}; the API project's daily quota is spent until midnight Pacific Time",
                retry_after=seconds_until_quota_reset(ctx.started_at),
            )
        if status == 429 or reasons & RATE_REASONS:
            return Retryable(words, retry_after=retry_after_seconds(response.headers.get("Retry-After")))
        if status >= 500:
            # on the last chunk a server error leaves open whether the video was made; the probe tells
            return OutcomeUnknown(words) if uncertain else Retryable(words)
        return Permanent(words)


def _auth(credentials: dict[str, Any]) -> dict[str, str]:
    return {"Authorization": f"Bearer {credentials['access_token']}"}


def _own(checkpoint: dict[str, Any] | None) -> dict[str, Any]:
    """The adapter's part of a saved checkpoint (the pipeline adds ``_version``)."""
    return {key: value for key, value in (checkpoint or {}).items() if not key.startswith("_")}


def _video(media: tuple[PreparedMedia, ...]) -> PreparedMedia | None:
    """The upload: the video rendition, or (before rendering) the image that becomes one."""
    return next((item for item in media if item.kind == "video"), None) or next(
        (item for item in media if item.kind == "image"), None
    )


def _kept(response: requests.Response) -> int:
    """The next byte a 308 asks for: ``Range: bytes=0-N`` -> N + 1; no Range -> 0."""
    match = re.fullmatch(r"bytes=0-(\d+)", response.headers.get("Range", "").strip())
    return int(match[1]) + 1 if match else 0


def _json(response: requests.Response) -> dict[str, Any]:
    try:
        payload = response.json()
    except ValueError as error:
        raise Retryable(f"YouTube answered {response.status_code} with no JSON: {response.text[:200]}") from error
    if not isinstance(payload, dict):
        raise Retryable(f"YouTube answered {response.status_code} with {str(payload)[:200]}")
    return payload


def _google_error(response: requests.Response) -> tuple[str, set[str]]:
    """Google's error message and reasons: ``{"error": {"message", "errors": [{"reason"}]}}``."""
    try:
        payload = response.json()
    except ValueError:
        return response.text[:300] or response.reason or "", set()
    error = payload.get("error") if isinstance(payload, dict) else None
    if not isinstance(error, dict):
        return str(payload)[:300], set()
    reasons = {
        str(item.get("reason")) for item in error.get("errors") or [] if isinstance(item, dict) and item.get("reason")
    }
    return str(error.get("message") or error.get("status") or "")[:500], reasons


def _instant(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
