"""The TikTok adapter through the publication pipeline, against the TikTok contract fake on loopback.

Photos are pulled by the fake, over HTTP, from crosspost's own media server
(``scheduler.media_server``) serving this test's media store, as TikTok pulls them from
``CROSSPOST_PUBLIC_BASE_URL``.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from datetime import timedelta
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import pytest
import requests
from PIL import Image

from adapters.tiktok import MIN_CHUNK, TikTokAdapter, chunk_plan
from scheduler import posts
from scheduler.credentials import decrypt_credentials
from scheduler.errors import ContentRejected
from scheduler.media_server import public_url, serve
from scheduler.publishing import publications
from scheduler.publishing.states import PublicationState
from scheduler.runtime import Runtime
from scheduler.store import Publication, Rendition, open_database
from tests.conftest import Clock, make_settings
from tests.fakes.tiktok_api import MB, MIB, Post, TikTokFake, chunk_problem
from tests.helpers import publish_due as _publish_due
from tests.helpers import write_image
from tests.media.clips import make_clip

S = PublicationState
CHANNEL = "cms-tiktok"


@pytest.fixture(autouse=True)
def quick_polls(monkeypatch: pytest.MonkeyPatch) -> None:
    """The fake answers at once: poll it without the 2 s that TikTok's 30 a minute asks for."""
    monkeypatch.setattr(TikTokAdapter, "poll_interval", 0.01)
    monkeypatch.setattr(TikTokAdapter, "status_wait", 5.0)
    monkeypatch.setattr(TikTokAdapter, "post_id_wait", 5.0)


@pytest.fixture
def media_base(tmp_path: Path) -> Iterator[str]:
    """crosspost's public media URL: the media store served read-only under /media/."""
    server = serve(tmp_path / "data" / "media", "127.0.0.1:0")
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture
def tiktok(media_base: str) -> Iterator[TikTokFake]:
    with TikTokFake(verified_prefixes=[f"{media_base}/media/"]) as fake:
        yield fake


def _runtime(tmp_path: Path, tiktok: TikTokFake, clock: Clock, **overrides: Any) -> Runtime:
    settings = make_settings(
        tmp_path / "data",
        f"sqlite:///{tmp_path / 'tiktok.db'}",
        tiktok_api_url=tiktok.url,
        retry_base=0.1,
        **overrides,
    )
    return Runtime(settings=settings, db=open_database(settings.database_url), clock=clock)


@pytest.fixture
def live(tmp_path: Path, tiktok: TikTokFake, clock: Clock, media_base: str) -> Iterator[Runtime]:
    runtime = _runtime(tmp_path, tiktok, clock, public_base_url=media_base)
    yield runtime
    runtime.db.dispose()


@pytest.fixture(scope="module")
def big_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """20 s of noise: its TikTok rendition (360x640 at 5 Mbit/s) is over 10 MiB, two chunks."""
    path = tmp_path_factory.mktemp("clips") / "noise.mp4"
    size, rate = (360, 640), Fraction(24)
    with av.open(str(path), "w", format="mp4") as out:
        stream = out.add_stream("libx264", rate=rate)
        stream.width, stream.height, stream.pix_fmt = size[0], size[1], "yuv420p"
        stream.options = {"preset": "ultrafast", "crf": "30"}
        for index in range(20 * 24):
            noise = Image.frombytes("RGB", size, os.urandom(size[0] * size[1] * 3))
            frame = av.VideoFrame.from_image(noise)  # type: ignore[no-untyped-call]
            frame.pts, frame.time_base = index, 1 / rate
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    return path


def _channel(runtime: Runtime, tiktok: TikTokFake, **options: object) -> None:
    posts.add_channel(
        runtime.db,
        runtime.settings,
        name=CHANNEL,
        platform="tiktok",
        options=options,
        credentials=tiktok.state.account.credentials(),
        now=runtime.clock(),
    )


def _post(runtime: Runtime, text: str, media: list[Path], title: str | None = None) -> int:
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


def _retry(runtime: Runtime, clock: Clock) -> None:
    clock.advance(120)
    _publish_due(runtime)


def _reconcile(runtime: Runtime, clock: Clock) -> PublicationState | None:
    clock.advance(runtime.settings.reconcile_backoff + 1)
    [publication_id] = publications.due_for_reconcile(runtime.db, now=clock(), settings=runtime.settings)
    return publications.reconcile(runtime.db, publication_id, runtime.adapters, settings=runtime.settings, clock=clock)


def _publication(runtime: Runtime, post_id: int) -> Publication:
    with runtime.db.transaction() as session:
        return session.query(Publication).filter(Publication.post_id == post_id).one()


def _renditions(runtime: Runtime, post_id: int) -> list[Path]:
    publication = _publication(runtime, post_id)
    with runtime.db.transaction() as session:
        rows = (
            session.query(Rendition)
            .filter(Rendition.publication_id == publication.id)
            .order_by(Rendition.position)
            .all()
        )
        return [runtime.settings.media_store / row.path for row in rows]


def _only(tiktok: TikTokFake) -> Post:
    [post] = tiktok.posts.values()
    return post


# -- video ------------------------------------------------------------------------------------------


def test_a_video_goes_up_in_chunks_after_its_publish_id_is_saved(
    live: Runtime, tiktok: TikTokFake, big_clip: Path
) -> None:
    _channel(live, tiktok)
    seen: list[tuple[str, dict[str, Any] | None]] = []

    def checkpoint_at_put(post: Post) -> None:  # what the database holds as each chunk arrives
        with live.db.transaction() as session:
            seen.append((post.publish_id, session.query(Publication).one().checkpoint))

    tiktok.state.on_put = checkpoint_at_put
    post_id = _post(live, "Ten years of the Higgs boson \U0001f389 #CMS", [big_clip])
    row = _publication(live, post_id)
    assert row.state == S.PUBLISHED, row.last_error
    post = _only(tiktok)
    [video] = _renditions(live, post_id)
    size = video.stat().st_size
    assert 10 * MIB < size < 15 * MIB
    assert (post.chunk_size, post.total_chunk_count) == (MIN_CHUNK, 2)
    assert post.chunks == [(0, MIN_CHUNK - 1), (MIN_CHUNK, size - 1)]  # the last chunk takes the remainder
    assert bytes(post.received) == video.read_bytes()
    assert post.post_info == {
        "title": "Ten years of the Higgs boson \U0001f389 #CMS",
        "privacy_level": "PUBLIC_TO_EVERYONE",
        "disable_comment": False,
        "disable_duet": False,
        "disable_stitch": False,
    }
    # the publish_id was in the database before the first byte, and progress after each chunk
    assert [
        (publish_id, (saved or {}).get("publish_id"), (saved or {}).get("acked_bytes")) for publish_id, saved in seen
    ] == [
        (post.publish_id, post.publish_id, 0),
        (post.publish_id, post.publish_id, MIN_CHUNK),
    ]
    assert row.remote_id == post.post_id
    assert row.remote_url == f"https://www.tiktok.com/@cmsexperiment/video/{post.post_id}"
    assert tiktok.state.inits() == 1


def test_an_answer_lost_after_a_chunk_resumes_under_the_same_publish_id(
    live: Runtime, tiktok: TikTokFake, big_clip: Path, clock: Clock
) -> None:
    _channel(live, tiktok)
    tiktok.fault(r"PUT /upload/.*", "drop")  # TikTok keeps chunk 1 of 2; its answer is lost
    post_id = _post(live, "interrupted after the first chunk", [big_clip])
    row = _publication(live, post_id)
    assert row.state == S.RETRY_WAIT, row.last_error
    assert "chunk 1 of 2" in (row.last_error or "")
    _retry(live, clock)
    row = _publication(live, post_id)
    assert row.state == S.PUBLISHED, row.last_error
    post = _only(tiktok)  # one post: no second init
    assert tiktok.state.inits() == 1
    size = post.video_size
    assert post.chunks == [(0, MIN_CHUNK - 1), (MIN_CHUNK, size - 1)]  # chunk 1 was not sent twice
    assert row.remote_id == post.post_id


def test_a_connection_cut_in_the_last_chunk_is_reconciled_then_the_upload_goes_on(
    live: Runtime, tiktok: TikTokFake, big_clip: Path, clock: Clock
) -> None:
    _channel(live, tiktok)
    tiktok.fault(r"PUT /upload/.*", "cut", skip=1)  # the connection breaks half-way through chunk 2 of 2
    post_id = _post(live, "cut in the last chunk", [big_clip])
    row = _publication(live, post_id)
    # TikTok might have had the whole file: not a retry but a question for reconciliation
    assert row.state == S.UNKNOWN, row.last_error
    assert "chunk 2 of 2" in (row.last_error or "")
    # the publish_id's status says 5 MiB of the file arrived: that post cannot appear without the rest
    assert _reconcile(live, clock) == S.RETRY_WAIT
    _retry(live, clock)
    row = _publication(live, post_id)
    assert row.state == S.PUBLISHED, row.last_error
    post = _only(tiktok)
    assert tiktok.state.inits() == 1
    assert post.chunks == [(0, MIN_CHUNK - 1), (MIN_CHUNK, post.video_size - 1)]
    assert row.remote_id == post.post_id


def test_a_lost_status_answer_is_reconciled_through_the_publish_id(
    live: Runtime, tiktok: TikTokFake, tmp_path: Path, clock: Clock
) -> None:
    _channel(live, tiktok)
    tiktok.state.post_id_delay = 0
    tiktok.fault(r"POST /v2/post/publish/status/fetch/", "drop")
    post_id = _post(live, "status lost", [make_clip(tmp_path / "clip.mp4", seconds=2.0)])
    assert _publication(live, post_id).state == S.UNKNOWN
    assert _reconcile(live, clock) == S.PUBLISHED
    row = _publication(live, post_id)
    post = _only(tiktok)
    assert (row.remote_id, post.status, tiktok.state.inits()) == (post.post_id, "PUBLISH_COMPLETE", 1)


def test_a_post_found_by_reconciliation_before_its_public_id_gets_that_id(
    live: Runtime, tiktok: TikTokFake, tmp_path: Path, clock: Clock
) -> None:
    """Publishing waits for TikTok's public post id; a post found by reconciliation does too."""
    _channel(live, tiktok)
    tiktok.state.post_id_delay = 3  # moderation: the id shows three polls after PUBLISH_COMPLETE
    tiktok.fault(r"POST /v2/post/publish/status/fetch/", "drop")
    post_id = _post(live, "public id later", [make_clip(tmp_path / "clip.mp4", seconds=2.0)])
    assert _publication(live, post_id).state == S.UNKNOWN
    assert _reconcile(live, clock) == S.PUBLISHED
    row = _publication(live, post_id)
    post = _only(tiktok)
    assert post.post_id is not None
    assert row.remote_id == post.post_id  # not the publish_id
    assert row.remote_url == f"https://www.tiktok.com/@{tiktok.state.account.username}/video/{post.post_id}"


def test_a_video_init_whose_answer_is_lost_is_simply_tried_again(
    live: Runtime, tiktok: TikTokFake, tmp_path: Path, clock: Clock
) -> None:
    """Without its answer nobody has the upload_url: that publish_id can never become a post."""
    _channel(live, tiktok)
    tiktok.fault(r"POST /v2/post/publish/video/init/", "drop")
    post_id = _post(live, "init lost", [make_clip(tmp_path / "clip.mp4", seconds=2.0)])
    row = _publication(live, post_id)
    assert row.state == S.RETRY_WAIT, row.last_error
    assert "connection lost" in (row.last_error or "")
    _retry(live, clock)
    row = _publication(live, post_id)
    assert row.state == S.PUBLISHED, row.last_error
    orphan, posted = tiktok.posts.values()
    assert (len(orphan.received), orphan.status) == (0, "PROCESSING_UPLOAD")
    assert [p.publish_id for p in tiktok.state.published()] == [posted.publish_id]


def test_a_publish_id_is_given_up_only_when_its_status_says_it_failed(
    live: Runtime, tiktok: TikTokFake, tmp_path: Path, clock: Clock
) -> None:
    _channel(live, tiktok)
    tiktok.state.fail_next = "internal"  # TikTok fails the first post after taking the whole file
    post_id = _post(live, "failed once", [make_clip(tmp_path / "clip.mp4", seconds=2.0)])
    row = _publication(live, post_id)
    assert row.state == S.RETRY_WAIT
    assert "did not publish publish_id v_pub_file~" in (row.last_error or "")
    _retry(live, clock)  # the saved publish_id is FAILED: proven dead, so a new init cannot double it
    row = _publication(live, post_id)
    assert row.state == S.PUBLISHED, row.last_error
    failed, posted = tiktok.posts.values()
    assert (failed.status, failed.fail_reason, posted.status) == ("FAILED", "internal", "PUBLISH_COMPLETE")
    assert row.remote_id == posted.post_id


def test_a_post_tiktok_fails_for_its_content_is_not_tried_again(
    live: Runtime, tiktok: TikTokFake, tmp_path: Path
) -> None:
    _channel(live, tiktok)
    tiktok.state.fail_next = "spam_risk_text"
    post_id = _post(live, "flagged", [make_clip(tmp_path / "clip.mp4", seconds=2.0)])
    row = _publication(live, post_id)
    assert row.state == S.FAILED
    assert (row.last_error or "").endswith(": spam_risk_text")
    assert tiktok.state.inits() == 1


def test_a_privacy_level_tiktok_does_not_offer_fails_naming_the_ones_it_does(
    live: Runtime, tiktok: TikTokFake, tmp_path: Path
) -> None:
    _channel(live, tiktok, privacy_level="FOLLOWER_OF_CREATOR")
    post_id = _post(live, "for followers", [make_clip(tmp_path / "clip.mp4", seconds=2.0)])
    row = _publication(live, post_id)
    assert row.state == S.FAILED
    assert (
        "TikTok does not offer privacy level FOLLOWER_OF_CREATOR to @cmsexperiment; "
        "it offers PUBLIC_TO_EVERYONE, MUTUAL_FOLLOW_FRIENDS, SELF_ONLY"
    ) in (row.last_error or "")
    assert tiktok.state.inits() == 0


def test_what_the_creator_switched_off_stays_off_and_self_only_has_no_public_id(
    live: Runtime, tiktok: TikTokFake, tmp_path: Path
) -> None:
    account = tiktok.state.account
    account.comment_disabled = account.stitch_disabled = True
    _channel(live, tiktok, privacy_level="SELF_ONLY", disable_duet="true")
    post_id = _post(live, "only me", [make_clip(tmp_path / "clip.mp4", seconds=2.0)])
    row = _publication(live, post_id)
    assert row.state == S.PUBLISHED, row.last_error
    post = _only(tiktok)
    switches = {k: v for k, v in post.post_info.items() if k.startswith("disable_")}
    assert switches == {"disable_comment": True, "disable_duet": True, "disable_stitch": True}
    # SELF_ONLY posts get no public post id: the publish_id stands for it, the profile for its URL
    assert (row.remote_id, row.remote_url) == (post.publish_id, "https://www.tiktok.com/@cmsexperiment")


def test_a_video_longer_than_the_creator_may_post_is_refused_before_init(
    live: Runtime, tiktok: TikTokFake, tmp_path: Path
) -> None:
    tiktok.state.account.max_video_post_duration_sec = 1
    _channel(live, tiktok)
    post_id = _post(live, "too long", [make_clip(tmp_path / "clip.mp4", seconds=2.0)])
    row = _publication(live, post_id)
    assert row.state == S.FAILED
    assert "TikTok takes at most 1 s from @cmsexperiment" in (row.last_error or "")
    assert tiktok.state.inits() == 0


def test_the_caption_is_counted_in_utf16_units_as_tiktok_counts_it(
    live: Runtime, tiktok: TikTokFake, tmp_path: Path
) -> None:
    _channel(live, tiktok)
    clip = make_clip(tmp_path / "clip.mp4", seconds=2.0)
    with pytest.raises(ContentRejected, match="caption is 2202 characters, over the limit of 2200"):
        posts.create_post(
            live.db, live.settings, text="\U0001f389" * 1101, channels=[CHANNEL], immediately=True, now=live.clock()
        )
    post_id = _post(live, "\U0001f389" * 1100, [clip])  # 1,100 emoji: 2,200 UTF-16 units, the limit
    assert _publication(live, post_id).state == S.PUBLISHED
    assert _only(tiktok).post_info["title"] == "\U0001f389" * 1100  # the fake counts the same way


# -- photos -----------------------------------------------------------------------------------------


def test_two_photos_are_pulled_from_crosspost_public_media_urls(
    live: Runtime, tiktok: TikTokFake, tmp_path: Path, media_base: str
) -> None:
    _channel(live, tiktok)
    images = [write_image(tmp_path / "a.png", (1200, 900)), write_image(tmp_path / "b.png", (900, 1200))]
    post_id = _post(live, "Two views of the detector \u05e9\u05dc\u05d5\u05dd", images, title="CMS in pictures")
    row = _publication(live, post_id)
    assert row.state == S.PUBLISHED, row.last_error
    post = _only(tiktok)
    renditions = _renditions(live, post_id)
    urls = [public_url(media_base, p.relative_to(live.settings.media_store).as_posix()) for p in renditions]
    assert post.source_info == {"source": "PULL_FROM_URL", "photo_cover_index": 0, "photo_images": urls}
    assert tiktok.state.fetched == urls  # really fetched, over HTTP, from the media server
    assert post.photos == [p.read_bytes() for p in renditions]
    assert post.post_info["title"] == "CMS in pictures"
    assert post.post_info["description"] == "Two views of the detector \u05e9\u05dc\u05d5\u05dd"
    assert row.remote_id == post.post_id
    assert row.remote_url == f"https://www.tiktok.com/@cmsexperiment/video/{post.post_id}"


def test_photos_on_an_unverified_prefix_are_refused(live: Runtime, tiktok: TikTokFake, tmp_path: Path) -> None:
    tiktok.state.verified_prefixes = ["https://media.cms.example/"]
    _channel(live, tiktok)
    post_id = _post(live, "unverified", [write_image(tmp_path / "a.png")])
    row = _publication(live, post_id)
    assert row.state == S.FAILED
    assert "url_ownership_unverified" in (row.last_error or "")
    assert "verify that domain or URL prefix" in (row.last_error or "")
    assert tiktok.posts == {}


def test_photos_need_a_public_base_url(tmp_path: Path, tiktok: TikTokFake, clock: Clock) -> None:
    runtime = _runtime(tmp_path, tiktok, clock)
    try:
        _channel(runtime, tiktok)
        post_id = _post(runtime, "no public URL", [write_image(tmp_path / "a.png")])
        row = _publication(runtime, post_id)
    finally:
        runtime.db.dispose()
    assert row.state == S.FAILED
    assert "set CROSSPOST_PUBLIC_BASE_URL" in (row.last_error or "")
    assert tiktok.state.calls == []  # refused before any call


def test_a_photo_init_whose_answer_is_lost_goes_to_a_person(
    live: Runtime, tiktok: TikTokFake, tmp_path: Path, clock: Clock
) -> None:
    """TikTok may pull the photos and post them, and without the publish_id nothing can ask."""
    _channel(live, tiktok)
    tiktok.fault(r"POST /v2/post/publish/content/init/", "drop")
    post_id = _post(live, "photo init lost", [write_image(tmp_path / "a.png")])
    assert _publication(live, post_id).state == S.UNKNOWN
    assert _reconcile(live, clock) == S.NEEDS_ATTENTION
    assert "check the profile" in (_publication(live, post_id).last_error or "")
    assert tiktok.state.inits() == 1


# -- refusals and limits ----------------------------------------------------------------------------


def test_a_rate_limited_init_waits_a_minute_in_the_database(live: Runtime, tiktok: TikTokFake, tmp_path: Path) -> None:
    _channel(live, tiktok)
    tiktok.state.exhaust("init")  # six inits this minute already, as far as TikTok counts
    post_id = _post(live, "seventh this minute", [make_clip(tmp_path / "clip.mp4", seconds=2.0)])
    row = _publication(live, post_id)
    assert row.state == S.RETRY_WAIT
    assert "rate_limit_exceeded" in (row.last_error or "")
    assert row.next_attempt_at is not None
    assert live.clock() + timedelta(seconds=59) <= row.next_attempt_at <= live.clock() + timedelta(seconds=61)
    assert tiktok.posts == {}


def test_a_token_refused_once_is_refreshed_and_the_post_goes_out(
    live: Runtime, tiktok: TikTokFake, tmp_path: Path
) -> None:
    _channel(live, tiktok)
    tiktok.fault(r"POST /v2/post/publish/creator_info/query/", "401")  # revoked before it expired
    post_id = _post(live, "after a refresh", [make_clip(tmp_path / "clip.mp4", seconds=2.0)])
    row = _publication(live, post_id)
    assert row.state == S.PUBLISHED, row.last_error
    assert posts.find_channel(live.db, CHANNEL).status == "active"
    assert [e.kind for e in posts.read_events(live.db)].count("channel.token_refreshed") == 1


def test_a_token_refused_even_after_a_refresh_holds_the_channel_until_reconnected(
    live: Runtime, tiktok: TikTokFake, tmp_path: Path
) -> None:
    _channel(live, tiktok)
    for _ in range(2):  # the token, and the refreshed one too
        tiktok.fault(r"POST /v2/post/publish/creator_info/query/", "401")
    post_id = _post(live, "who are you", [make_clip(tmp_path / "clip.mp4", seconds=2.0)])
    row = _publication(live, post_id)
    assert row.state == S.RETRY_WAIT
    assert "access_token_invalid" in (row.last_error or "")
    assert "reconnect" in (row.last_error or "")
    assert posts.find_channel(live.db, CHANNEL).status == "needs_reconnect"


@pytest.mark.parametrize(
    ("code", "state", "wait"),
    [
        ("spam_risk_too_many_posts", S.RETRY_WAIT, 3600),
        ("reached_active_user_cap", S.RETRY_WAIT, 3600),
        ("spam_risk_user_banned_from_posting", S.FAILED, None),
        ("unaudited_client_can_only_post_to_private_accounts", S.FAILED, None),
    ],
)
def test_tiktoks_posting_refusals(
    live: Runtime, tiktok: TikTokFake, tmp_path: Path, code: str, state: PublicationState, wait: int | None
) -> None:
    _channel(live, tiktok)
    tiktok.fault(r"POST /v2/post/publish/video/init/", f"code:{code}")
    post_id = _post(live, "refused", [make_clip(tmp_path / "clip.mp4", seconds=2.0)])
    row = _publication(live, post_id)
    assert row.state == state
    assert code in (row.last_error or "")
    if wait is not None:
        assert row.next_attempt_at is not None
        assert row.next_attempt_at >= live.clock() + timedelta(seconds=wait - 1)


def test_an_expiring_token_is_refreshed_with_tiktoks_rotation(
    live: Runtime, tiktok: TikTokFake, tmp_path: Path
) -> None:
    account = tiktok.state.account
    posts.add_channel(
        live.db,
        live.settings,
        name=CHANNEL,
        platform="tiktok",
        credentials=account.credentials(expires_in=60),  # inside the core's refresh margin
        now=live.clock(),
    )
    post_id = _post(live, "fresh token", [make_clip(tmp_path / "clip.mp4", seconds=2.0)])
    assert _publication(live, post_id).state == S.PUBLISHED
    stored = decrypt_credentials(posts.find_channel(live.db, CHANNEL).credentials, live.settings, CHANNEL)
    assert stored is not None
    assert (stored["access_token"], stored["refresh_token"]) == ("act.cms-user-token-2", "rft.cms-refresh-2")
    assert stored["expires_at"] > time.time() + 7000


# -- the contract itself ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "size",
    [1, 4 * MIB, 5 * MB, MIN_CHUNK, 10 * MIB - 1, 10 * MIB, 64 * MB, 64 * MB + 1, 300 * MB, 4 * 1024 * MIB],
)
def test_the_chunk_plan_keeps_every_documented_rule(size: int) -> None:
    chunk, count = chunk_plan(size)
    assert chunk_problem(size, chunk, count) is None
    assert 1 <= count <= 1000
    assert size - (count - 1) * chunk <= 128 * MB


@pytest.mark.parametrize(
    ("size", "chunk", "count", "problem"),
    [
        (3 * MIB, MIB, 3, "uploaded whole"),
        (20 * MIB, 4 * MIB, 5, "chunk_size"),
        (20 * MIB, 5 * MIB, 3, "rounded down"),
        (200 * MB, 100 * MB, 2, "chunk_size"),
        (100 * MB, 100 * MB, 1, "64 MB at most"),
        (6000 * MIB, 5 * MIB, 1200, "4 GB"),
    ],
)
def test_the_fake_refuses_chunks_against_the_rules(size: int, chunk: int, count: int, problem: str) -> None:
    assert problem in (chunk_problem(size, chunk, count) or "")


def test_the_fake_counts_six_inits_a_minute_and_takes_chunks_only_in_order(tiktok: TikTokFake) -> None:
    headers = {
        "Authorization": f"Bearer {tiktok.state.account.access_token}",
        "Content-Type": "application/json; charset=UTF-8",
    }
    body = {
        "post_info": {"title": "t", "privacy_level": "SELF_ONLY"},
        "source_info": {"source": "FILE_UPLOAD", "video_size": 12 * MIB, "chunk_size": 5 * MIB, "total_chunk_count": 2},
    }
    url = f"{tiktok.url}/v2/post/publish/video/init/"
    answers = [requests.post(url, json=body, headers=headers, timeout=5) for _ in range(7)]
    assert [a.status_code for a in answers] == [200] * 6 + [429]
    assert answers[-1].json()["error"]["code"] == "rate_limit_exceeded"
    upload = answers[0].json()["data"]["upload_url"]

    def put(first: int, last: int, total: int = 12 * MIB) -> requests.Response:
        chunk = b"\0" * (last - first + 1)
        range_ = f"bytes {first}-{last}/{total}"
        return requests.put(
            upload, data=chunk, headers={"Content-Type": "video/mp4", "Content-Range": range_}, timeout=5
        )

    assert put(5 * MIB, 12 * MIB - 1).status_code == 400  # the second chunk first
    assert put(0, 5 * MIB - 1, total=13 * MIB).status_code == 400  # not the declared size
    assert put(0, 4 * MIB - 1).status_code == 400  # not the declared chunk size
    assert put(0, 5 * MIB - 1).status_code == 206
    assert put(5 * MIB, 12 * MIB - 1).status_code == 201  # the last one takes the remainder
