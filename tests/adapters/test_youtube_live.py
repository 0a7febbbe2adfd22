"""The YouTube adapter through the publication pipeline, against the YouTube contract fake on loopback."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import pytest
from PIL import Image
from sqlalchemy import select

from adapters import check_channel
from adapters.youtube import CHUNK_UNIT, YouTubeAdapter
from media.video import probe
from scheduler import posts
from scheduler.errors import ContentRejected, InvalidInput
from scheduler.publishing import publications
from scheduler.publishing.content import ChannelInfo, Content
from scheduler.publishing.states import PublicationState
from scheduler.runtime import Runtime
from scheduler.store import Channel, Publication, Rendition
from tests.conftest import Clock, make_settings
from tests.fakes.youtube_api import INSERT, YouTubeFake
from tests.helpers import publish_due as _publish_due
from tests.helpers import write_image
from tests.media.clips import make_clip

S = PublicationState
CHANNEL = "cms-yt"
UPLOADS = f"PUT {INSERT}"


def noisy_clip(path: Path, *, size: tuple[int, int] = (480, 270), seconds: float = 2.0) -> Path:
    """Random frames: they do not compress, so the rendition is large enough (~1.7 MB) for
    several 256 KiB chunks."""
    width, height = size
    with av.open(str(path), "w", format="mp4") as out:
        stream = out.add_stream("libx264", rate=Fraction(30))
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.options = {"preset": "ultrafast"}
        for index in range(int(seconds * 30)):
            image = Image.frombytes("RGB", size, os.urandom(width * height * 3))
            frame = av.VideoFrame.from_image(image)  # type: ignore[no-untyped-call]
            frame.pts, frame.time_base = index, Fraction(1, 30)
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    return path


@pytest.fixture
def yt(clock: Clock) -> Iterator[YouTubeFake]:
    with YouTubeFake(clock=clock) as fake:  # YouTube's clock is the test's: publishedAt and quota days agree
        yield fake


@pytest.fixture
def live(tmp_path: Path, yt: YouTubeFake, clock: Clock) -> Iterator[Runtime]:
    from scheduler.store import open_database

    settings = make_settings(
        tmp_path / "data",
        f"sqlite:///{tmp_path / 'yt.db'}",
        youtube_api_url=yt.url,
        youtube_upload_url=yt.upload_url,
        google_oauth_url=yt.url,
        retry_base=0.1,
    )
    db = open_database(settings.database_url)
    yield Runtime(settings=settings, db=db, clock=clock)
    db.dispose()


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return noisy_clip(tmp_path_factory.mktemp("clips") / "collision.mp4")


def _channel(runtime: Runtime, yt: YouTubeFake, credentials: dict[str, Any] | None = None, **options: str) -> None:
    posts.add_channel(
        runtime.db,
        runtime.settings,
        name=CHANNEL,
        platform="youtube",
        credentials=yt.state.account.credentials() if credentials is None else credentials,
        options={"chunk_size": str(CHUNK_UNIT), **options},
        now=runtime.clock(),
    )


def _run(runtime: Runtime, text: str, media: list[Path], title: str | None = None) -> int:
    post_id = posts.create_post(
        runtime.db,
        runtime.settings,
        text=text,
        title=title,
        channels=[CHANNEL],
        immediately=True,
        now=runtime.clock(),
        media=[posts.MediaInput(path) for path in media],
    )
    _publish_due(runtime)
    return post_id


def _reconcile(runtime: Runtime, clock: Clock) -> PublicationState | None:
    clock.advance(runtime.settings.reconcile_backoff + 1)
    [publication_id] = publications.due_for_reconcile(runtime.db, now=clock(), settings=runtime.settings)
    return publications.reconcile(runtime.db, publication_id, runtime.adapters, settings=runtime.settings, clock=clock)


def _publication(runtime: Runtime, post_id: int) -> Publication:
    with runtime.db.transaction() as session:
        return session.query(Publication).filter(Publication.post_id == post_id).one()


def _rendition(runtime: Runtime, post_id: int, kind: str) -> Path:
    with runtime.db.transaction() as session:
        path = session.scalar(
            select(Rendition.path)
            .join(Publication, Publication.id == Rendition.publication_id)
            .where(Publication.post_id == post_id, Rendition.kind == kind)
        )
    assert path is not None, f"no {kind} rendition"
    return runtime.settings.media_store / path


def _chunks_are_whole_units(yt: YouTubeFake) -> None:
    for content_range in yt.state.chunks():
        first, last, total = (int(n) for n in content_range.removeprefix("bytes ").replace("/", "-").split("-"))
        assert last == total - 1 or (last - first + 1) % CHUNK_UNIT == 0, content_range


# -- publishing ------------------------------------------------------------------------------------


def test_a_video_is_uploaded_in_chunks_published_with_its_url_and_given_its_thumbnail(
    live: Runtime, yt: YouTubeFake, clip: Path
) -> None:
    _channel(live, yt)
    text = "Collision event display from Run 3\n\nRecorded at 13.6 TeV. More: https://cms.cern"
    post_id = _run(live, text, [clip])
    row = _publication(live, post_id)
    assert row.state == S.PUBLISHED, row.last_error
    video = yt.videos[str(row.remote_id)]
    assert row.remote_url == f"https://www.youtube.com/watch?v={video.id}"
    assert video.data == _rendition(live, post_id, "video").read_bytes()  # every byte, in order
    assert video.content_type == "video/mp4"
    assert video.snippet["title"] == "Collision event display from Run 3"  # the first line
    assert video.snippet["description"] == text
    assert video.snippet["categoryId"] == "28"
    assert video.status["privacyStatus"] == "public"  # sent explicitly, never left to the account
    assert video.thumbnail == _rendition(live, post_id, "thumbnail").read_bytes()
    assert len(yt.state.chunks()) >= 5  # 256 KiB chunks, 308 in between
    _chunks_are_whole_units(yt)
    assert yt.state.uploads_started() == 1
    assert yt.state.inserts == 1  # one videos.insert
    assert yt.state.units == 50  # thumbnails.set


def test_an_image_post_arrives_as_a_still_video_with_the_image_as_thumbnail(
    live: Runtime, yt: YouTubeFake, tmp_path: Path
) -> None:
    _channel(live, yt)
    post_id = _run(live, "The CMS detector in 2027", [write_image(tmp_path / "poster.png", (1600, 900))])
    row = _publication(live, post_id)
    assert row.state == S.PUBLISHED, row.last_error
    video = yt.videos[str(row.remote_id)]
    still = _rendition(live, post_id, "video")
    assert video.data == still.read_bytes()
    info = probe(still)
    assert (info.width, info.height, info.codec) == (1920, 1080, "h264")
    assert info.duration == pytest.approx(6, abs=0.2)
    assert video.thumbnail is not None
    with Image.open(_rendition(live, post_id, "thumbnail")) as thumbnail:
        assert (thumbnail.format, thumbnail.size) == ("JPEG", (1280, 720))
    assert row.remote_url == f"https://www.youtube.com/watch?v={video.id}"  # landscape: not a Short


def test_a_vertical_clip_under_three_minutes_is_rendered_whole_and_linked_as_a_short(
    live: Runtime, yt: YouTubeFake, tmp_path: Path
) -> None:
    _channel(live, yt)  # the default framing (crop): a vertical clip keeps its 9:16 all the same
    post_id = _run(live, "A muon in 9:16", [make_clip(tmp_path / "tall.mp4", size=(180, 320), seconds=2.0)])
    row = _publication(live, post_id)
    assert row.state == S.PUBLISHED, row.last_error
    info = probe(_rendition(live, post_id, "video"))
    assert (info.width, info.height) == (180, 320)  # 9:16, nothing cropped away
    assert yt.videos[str(row.remote_id)].data == _rendition(live, post_id, "video").read_bytes()
    assert row.remote_url == f"https://www.youtube.com/shorts/{row.remote_id}"


def test_a_channel_with_shorts_false_gets_vertical_clips_in_sixteen_by_nine(
    live: Runtime, yt: YouTubeFake, tmp_path: Path
) -> None:
    _channel(live, yt, shorts="false", framing="pad")
    post_id = _run(live, "A muon, pillarboxed", [make_clip(tmp_path / "tall.mp4", size=(180, 320), seconds=2.0)])
    row = _publication(live, post_id)
    assert row.state == S.PUBLISHED, row.last_error
    info = probe(_rendition(live, post_id, "video"))
    assert info.width / info.height == pytest.approx(16 / 9, rel=0.02)  # padded to 16:9: no Short
    assert row.remote_url == f"https://www.youtube.com/watch?v={row.remote_id}"


def test_publish_at_uploads_a_private_video_that_youtube_publishes_later(
    live: Runtime, yt: YouTubeFake, clip: Path
) -> None:
    _channel(live, yt, publish_at="2027-03-05T18:00:00+01:00", tags="CMS,LHC,particle physics")
    post_id = _run(live, "Premiere on Friday", [clip])
    row = _publication(live, post_id)
    assert row.state == S.PUBLISHED, row.last_error
    video = yt.videos[str(row.remote_id)]
    assert video.status["privacyStatus"] == "private"
    assert video.status["publishAt"] == "2027-03-05T17:00:00Z"
    assert video.snippet["tags"] == ["CMS", "LHC", "particle physics"]


def test_a_refused_thumbnail_leaves_the_video_published(live: Runtime, yt: YouTubeFake, clip: Path) -> None:
    yt.state.verified = False  # custom thumbnails need a verified channel: 403 forbidden
    _channel(live, yt)
    row = _publication(live, _run(live, "No custom thumbnail here", [clip]))
    assert row.state == S.PUBLISHED, row.last_error
    assert yt.videos[str(row.remote_id)].thumbnail is None


# -- interruptions and resumption ------------------------------------------------------------------


def test_an_upload_cut_mid_chunk_resumes_from_the_saved_session_with_the_bytes_intact(
    live: Runtime, yt: YouTubeFake, clip: Path, clock: Clock
) -> None:
    _channel(live, yt)
    yt.fault(UPLOADS, "cut:100000", skip=2)  # the third chunk breaks off after 100,000 bytes
    post_id = _run(live, "Interrupted, then resumed", [clip])
    row = _publication(live, post_id)
    assert row.state == S.RETRY_WAIT, row.last_error
    assert "resumes from what YouTube kept" in (row.last_error or "")
    assert row.checkpoint is not None
    [session] = yt.state.sessions.values()
    assert row.checkpoint["session"].endswith(session.upload_id)
    assert len(session.received) == 2 * CHUNK_UNIT + 100_000  # Google keeps what arrived
    assert yt.videos == {}

    clock.advance(60)
    _publish_due(live)
    row = _publication(live, post_id)
    assert row.state == S.PUBLISHED, row.last_error
    [video] = yt.videos.values()
    assert video.data == _rendition(live, post_id, "video").read_bytes()
    assert yt.state.uploads_started() == 1  # the same session, never a second upload
    assert yt.state.probes() == 1
    resumed = yt.state.chunks()[3]
    assert resumed.startswith(f"bytes {2 * CHUNK_UNIT + 100_000}-")  # from the first byte YouTube lacked
    _chunks_are_whole_units(yt)


def test_a_server_error_mid_upload_waits_then_resumes_the_same_session(
    live: Runtime, yt: YouTubeFake, clip: Path, clock: Clock
) -> None:
    _channel(live, yt)
    yt.fault(UPLOADS, "503", skip=1)
    post_id = _run(live, "A hiccup on chunk two", [clip])
    assert _publication(live, post_id).state == S.RETRY_WAIT
    clock.advance(60)
    _publish_due(live)
    row = _publication(live, post_id)
    assert row.state == S.PUBLISHED, row.last_error
    assert yt.state.uploads_started() == 1
    assert len(yt.videos) == 1
    assert yt.videos[str(row.remote_id)].data == _rendition(live, post_id, "video").read_bytes()


def test_a_dropped_answer_on_the_last_chunk_is_reconciled_by_the_probe_without_a_second_upload(
    live: Runtime, yt: YouTubeFake, clip: Path, clock: Clock
) -> None:
    _channel(live, yt)
    yt.fault(UPLOADS, "drop", last_chunk=True)  # YouTube creates the video; the answer is lost
    post_id = _run(live, "The answer gets lost", [clip])
    row = _publication(live, post_id)
    assert row.state == S.UNKNOWN, row.last_error
    assert _reconcile(live, clock) == S.PUBLISHED
    row = _publication(live, post_id)
    [video] = yt.videos.values()
    assert (row.remote_id, row.remote_url) == (video.id, f"https://www.youtube.com/watch?v={video.id}")
    assert yt.state.uploads_started() == 1
    assert yt.state.probes() == 1  # the saved session answered: no search needed
    # what publishing would have done after the upload is done now: the thumbnail is set
    assert video.thumbnail == _rendition(live, post_id, "thumbnail").read_bytes()


@pytest.mark.parametrize("still_there", [True, False], ids=["found-in-uploads", "deleted"])
def test_a_lost_answer_on_an_expired_session_is_looked_up_in_the_uploads_playlist(
    live: Runtime, yt: YouTubeFake, clip: Path, clock: Clock, still_there: bool
) -> None:
    _channel(live, yt)
    yt.fault(UPLOADS, "drop", last_chunk=True)
    post_id = _run(live, "Lost answer, expired session", [clip])
    yt.expire_sessions()
    if not still_there:
        yt.videos.clear()  # e.g. removed on YouTube in the meantime: nobody can tell any more
    state = _reconcile(live, clock)
    row = _publication(live, post_id)
    if still_there:
        assert state == S.PUBLISHED
        [video] = yt.videos.values()
        assert row.remote_id == video.id
    else:
        assert state == S.NEEDS_ATTENTION
        assert "no recent upload of the channel matches" in (row.last_error or "")
    assert [call.path for call in yt.state.calls if call.method == "GET"] == [
        "/youtube/v3/channels",
        "/youtube/v3/playlistItems",
    ]
    assert yt.state.uploads_started() == 1


class _WorkerDied(BaseException):
    """Not an Exception: like a killed process, nothing in the pipeline catches it."""


@pytest.mark.parametrize("dies", ["before-the-session", "mid-upload"])
def test_a_worker_that_died_is_reconciled_and_the_upload_resumed_once(
    live: Runtime, yt: YouTubeFake, clip: Path, clock: Clock, monkeypatch: pytest.MonkeyPatch, dies: str
) -> None:
    _channel(live, yt)
    real_open, real_put = YouTubeAdapter._open_session, YouTubeAdapter._put
    puts: list[int] = []

    def open_session(self: YouTubeAdapter, *args: Any) -> str:
        if dies == "before-the-session":
            raise _WorkerDied
        return real_open(self, *args)

    def put(self: YouTubeAdapter, *args: Any) -> Any:
        puts.append(1)
        if dies == "mid-upload" and len(puts) == 3:
            raise _WorkerDied
        return real_put(self, *args)

    monkeypatch.setattr(YouTubeAdapter, "_open_session", open_session)
    monkeypatch.setattr(YouTubeAdapter, "_put", put)
    post_id = posts.create_post(
        live.db,
        live.settings,
        text="The worker dies",
        channels=[CHANNEL],
        immediately=True,
        now=live.clock(),
        media=[posts.MediaInput(clip)],
    )
    with pytest.raises(_WorkerDied):
        _publish_due(live)
    monkeypatch.undo()
    assert _publication(live, post_id).state == S.PUBLISHING

    clock.advance(live.settings.publish_lease + 1)
    assert publications.expire_leases(live.db, now=clock(), settings=live.settings)
    # nothing can have landed: no session, or one that never got its last byte; so it is tried again
    assert _reconcile(live, clock) == S.RETRY_WAIT
    _publish_due(live)
    row = _publication(live, post_id)
    assert row.state == S.PUBLISHED, row.last_error
    assert len(yt.videos) == 1
    assert yt.state.uploads_started() == 1
    assert yt.videos[str(row.remote_id)].data == _rendition(live, post_id, "video").read_bytes()


# -- refusals --------------------------------------------------------------------------------------


def test_a_spent_quota_waits_until_midnight_pacific(live: Runtime, yt: YouTubeFake, clip: Path, clock: Clock) -> None:
    _channel(live, yt)
    yt.state.quota_day = date(2027, 3, 1)  # 09:00 UTC is 01:00 on 1 March in California
    yt.state.inserts = yt.state.insert_limit  # today's 100 videos.insert calls are spent
    post_id = _run(live, "Over quota", [clip])
    row = _publication(live, post_id)
    assert row.state == S.RETRY_WAIT
    assert "quotaExceeded" in (row.last_error or "")
    assert "exceeded your quota" in (row.last_error or "")  # Google's own words
    # 09:00 UTC is 01:00 PST: the quota resets at 08:00 UTC the next day (plus a minute's margin)
    assert row.next_attempt_at == datetime(2027, 3, 2, 8, 1, tzinfo=UTC)
    assert yt.videos == {}

    clock.now = datetime(2027, 3, 2, 8, 1, 1, tzinfo=UTC)
    _publish_due(live)
    assert _publication(live, post_id).state == S.PUBLISHED


@pytest.mark.parametrize(
    ("fault", "reason", "wait"),
    [
        ("403", "quotaExceeded", timedelta(hours=23, minutes=1)),  # until midnight Pacific
        ("upload-limit", "uploadLimitExceeded", timedelta(hours=24)),  # "try again in 24 hours"
    ],
)
def test_quota_and_upload_cap_refusals_wait_and_retry(
    live: Runtime, yt: YouTubeFake, clip: Path, fault: str, reason: str, wait: timedelta
) -> None:
    _channel(live, yt)
    yt.fault(f"POST {INSERT}", fault)
    row = _publication(live, _run(live, "Too many uploads today", [clip]))
    assert row.state == S.RETRY_WAIT
    assert reason in (row.last_error or "")
    assert row.next_attempt_at == live.clock() + wait


def test_a_token_refused_before_it_expires_is_refreshed_once(live: Runtime, yt: YouTubeFake, clip: Path) -> None:
    _channel(live, yt)
    yt.state.account.token = "ya29.revoked-elsewhere"  # the stored token no longer works
    row = _publication(live, _run(live, "After a refresh", [clip]))
    assert row.state == S.PUBLISHED, row.last_error
    assert yt.state.account.refreshes == 1
    assert len(yt.videos) == 1


def test_refused_or_missing_credentials_need_a_reconnect(live: Runtime, yt: YouTubeFake, clip: Path) -> None:
    _channel(live, yt)
    for _ in range(2):  # the token, and the refreshed one too
        yt.fault(f"POST {INSERT}", "401")
    row = _publication(live, _run(live, "Who are you", [clip]))
    _waits_for_a_reconnect(live, row)
    assert "authError" in (row.last_error or "")
    assert yt.videos == {}


def test_a_channel_without_a_token_needs_a_reconnect_before_any_call(
    live: Runtime, yt: YouTubeFake, clip: Path
) -> None:
    _channel(live, yt, credentials={"refresh_token": "r", "channel_id": yt.state.account.channel_id})
    row = _publication(live, _run(live, "No token", [clip]))
    _waits_for_a_reconnect(live, row)
    assert "no YouTube access token" in (row.last_error or "")
    assert "refused to refresh" in (row.last_error or "")  # its refresh token was tried once
    assert [(call.method, call.path) for call in yt.state.calls] == [("POST", "/token")]


def _waits_for_a_reconnect(runtime: Runtime, row: Publication) -> None:
    """AuthExpired: the channel stops taking posts until reconnected, the post waits for it."""
    assert row.state == S.RETRY_WAIT
    assert "reconnect" in (row.last_error or "")
    with runtime.db.transaction() as session:
        assert session.scalar(select(Channel.status).where(Channel.name == CHANNEL)) == "needs_reconnect"


def test_titles_and_descriptions_youtube_refuses_are_refused_before_any_upload(
    live: Runtime, yt: YouTubeFake, clip: Path
) -> None:
    _channel(live, yt)
    cases: dict[str, dict[str, Any]] = {
        "title is 101 characters, over the limit of 100": dict(text="fine", title="t" * 101),
        "description is 5002 bytes, over the limit of 5000": dict(text="é" * 2501),  # bytes, not characters
        "description may not contain '<'": dict(text="If m < 125 GeV"),
        "title may not contain '>'": dict(text="fine", title="H -> ZZ > 4l"),
    }
    for message, fields in cases.items():
        with pytest.raises(ContentRejected, match=message):
            posts.create_post(
                live.db, live.settings, channels=[CHANNEL], immediately=True, now=live.clock(), media=[], **fields
            )
    assert yt.state.calls == []

    # the adapter checks what it would send, too: a long first line becomes a title within 100
    adapter = YouTubeAdapter(ChannelInfo(id=1, name=CHANNEL, platform="youtube"), live.settings)
    prepared = adapter.build(Content(text="word " * 40 + "\nsecond line"))
    assert len(prepared.title or "") <= 100
    assert (prepared.title or "").endswith("…")
    with pytest.raises(ContentRejected, match="description may not contain '<'"):
        adapter.build(Content(text="Higgs <3"))
    with pytest.raises(ContentRejected, match=r"description is 5001 bytes"):
        adapter.build(Content(text="a" * 5001))


def test_channel_options_youtube_would_refuse_are_refused(live: Runtime, yt: YouTubeFake, clip: Path) -> None:
    with pytest.raises(InvalidInput, match="publish_at needs privacy_status private"):
        check_channel(
            "youtube", dry_run=False, options={"publish_at": "2027-03-05T18:00:00+01:00", "privacy_status": "public"}
        )
    with pytest.raises(InvalidInput, match="privacy_status 'secret'"):
        check_channel("youtube", dry_run=False, options={"privacy_status": "secret"})
    with pytest.raises(InvalidInput, match="chunk_size"):
        check_channel("youtube", dry_run=False, options={"chunk_size": "1000"})
    with pytest.raises(InvalidInput, match="tags are"):
        check_channel("youtube", dry_run=False, options={"tags": ",".join(["particle physics"] * 40)})
    with pytest.raises(InvalidInput, match="shorts 'maybe': use true or false"):
        check_channel("youtube", dry_run=False, options={"shorts": "maybe"})
    check_channel("youtube", dry_run=False, options={"shorts": "false"})
    check_channel("youtube", dry_run=False, options={"privacy_status": "unlisted", "category_id": "27"})

    _channel(live, yt, publish_at="2027-02-01T00:00:00Z")  # already past on the test's clock
    row = _publication(live, _run(live, "Too late", [clip]))
    assert row.state == S.FAILED
    assert "publish_at (2027-02-01T00:00:00Z) has passed" in (row.last_error or "")
    assert yt.state.calls == []


def test_googles_refusal_fails_the_publication_with_its_reason_and_words(
    live: Runtime, yt: YouTubeFake, clip: Path
) -> None:
    _channel(live, yt, category_id="9999")
    row = _publication(live, _run(live, "Unknown category", [clip]))
    assert row.state == S.FAILED
    assert "invalidCategoryId" in (row.last_error or "")
    assert "The category '9999' does not exist." in (row.last_error or "")
    assert yt.videos == {}


# -- the fake itself -------------------------------------------------------------------------------


def test_the_fake_refuses_what_the_documented_contract_refuses(yt: YouTubeFake) -> None:
    """The pipeline never sends these; the fake must still refuse them, or it would prove nothing."""
    import requests

    auth = {"Authorization": f"Bearer {yt.state.account.token}"}
    insert = f"{yt.upload_url}/youtube/v3/videos?uploadType=resumable&part=snippet,status"
    upload = {**auth, "X-Upload-Content-Length": str(3 * CHUNK_UNIT), "X-Upload-Content-Type": "video/mp4"}

    def start(snippet: dict[str, Any], status: dict[str, Any], url: str = insert) -> requests.Response:
        return requests.post(url, json={"snippet": snippet, "status": status}, headers=upload, timeout=10)

    def reason(response: requests.Response) -> str:
        return str(response.json()["error"]["errors"][0]["reason"])

    public = {"privacyStatus": "public"}
    assert reason(start({"title": "t" * 101}, public)) == "invalidTitle"
    assert reason(start({"title": ""}, public)) == "invalidTitle"
    assert reason(start({"title": "a <b>"}, public)) == "invalidTitle"
    assert reason(start({"title": "ok", "description": "é" * 2501}, public)) == "invalidDescription"
    assert reason(start({"title": "ok", "description": "1 > 0"}, public)) == "invalidDescription"
    assert reason(start({"title": "ok", "tags": ["particle physics"] * 30}, public)) == "invalidTags"
    assert reason(start({"title": "ok"}, {})) == "invalidVideoMetadata"  # privacyStatus always sent
    later = "2027-03-05T17:00:00Z"
    assert reason(start({"title": "ok"}, {"privacyStatus": "public", "publishAt": later})) == "invalidPublishAt"
    assert reason(start({"title": "ok"}, {"privacyStatus": "private", "publishAt": "2027-02-01T00:00:00Z"})) == (
        "invalidPublishAt"
    )
    assert reason(start({"title": "ok"}, public, insert.replace("&part=snippet,status", ""))) == "required"
    assert (
        requests.post(insert, json={}, headers={**upload, "Authorization": "Bearer nope"}, timeout=10).status_code
        == 401
    )

    opened = start({"title": "ok"}, {"privacyStatus": "private", "publishAt": later})
    assert opened.status_code == 200
    session = opened.headers["Location"]

    def put(data: bytes, content_range: str) -> requests.Response:
        headers = {**auth, "Content-Range": content_range}
        return requests.put(session, data=data, headers=headers, timeout=10, allow_redirects=False)

    assert put(b"x" * 1000, f"bytes 0-999/{3 * CHUNK_UNIT}").status_code == 400  # not a 256 KiB multiple
    assert put(b"x" * CHUNK_UNIT, f"bytes 1-{CHUNK_UNIT}/{3 * CHUNK_UNIT}").status_code == 400  # not where it stands
    first = put(b"a" * CHUNK_UNIT, f"bytes 0-{CHUNK_UNIT - 1}/{3 * CHUNK_UNIT}")
    assert (first.status_code, first.headers["Range"]) == (308, f"bytes=0-{CHUNK_UNIT - 1}")
    probed = put(b"", f"bytes */{3 * CHUNK_UNIT}")
    assert (probed.status_code, probed.headers["Range"]) == (308, f"bytes=0-{CHUNK_UNIT - 1}")
    done = put(b"b" * 2 * CHUNK_UNIT, f"bytes {CHUNK_UNIT}-{3 * CHUNK_UNIT - 1}/{3 * CHUNK_UNIT}")
    assert done.status_code == 200
    assert done.json()["status"] == {
        "uploadStatus": "uploaded",
        "privacyStatus": "private",
        "publishAt": later,
        "license": "youtube",
        "embeddable": True,
        "publicStatsViewable": True,
    }
    assert put(b"", f"bytes */{3 * CHUNK_UNIT}").json()["id"] == done.json()["id"]  # complete: the video again
    # every authenticated call counts against the insert bucket, the refused ones too
    assert yt.state.inserts == 11
