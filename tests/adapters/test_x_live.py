"""The X adapter through the publication pipeline, against the X contract fake on loopback."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import requests

from media.specs import SPECS
from media.text import split_thread
from scheduler import posts
from scheduler.credentials import decrypt_credentials
from scheduler.errors import ContentRejected
from scheduler.publishing import publications
from scheduler.publishing.states import PublicationState
from scheduler.runtime import Runtime
from scheduler.store import Publication
from tests.conftest import Clock, make_settings
from tests.fakes.x_api import XFake
from tests.helpers import publication_states, reconcile_until_settled, write_image
from tests.helpers import publish_due as _publish_due
from tests.media.clips import make_clip

S = PublicationState


@pytest.fixture
def x(clock: Clock) -> Iterator[XFake]:
    with XFake(clock=clock) as fake:  # X's clock is the test's: created_at and start_time agree
        yield fake


@pytest.fixture
def live(tmp_path: Path, x: XFake, clock: Clock, database_url: str) -> Iterator[Runtime]:
    """SQLite and PostgreSQL (the token refresh takes an advisory lock there)."""
    from scheduler.store import open_database

    settings = make_settings(
        tmp_path / "data",
        database_url,
        x_api_url=x.url,
        x_upload_url=x.url,
        x_token_url=f"{x.url}/2/oauth2/token",
        x_media_chunk=64 * 1024,
        retry_base=0.1,
    )
    db = open_database(settings.database_url)
    yield Runtime(settings=settings, db=db, clock=clock)
    db.dispose()


def _channel(runtime: Runtime, x: XFake, *, oauth1: bool = True) -> str:
    posts.add_channel(
        runtime.db,
        runtime.settings,
        name="cms-x",
        platform="x",
        credentials=x.state.keys.credentials(oauth1=oauth1),
        now=runtime.clock(),
    )
    return "cms-x"


def _run(runtime: Runtime, text: str, media: list[Path] | None = None) -> int:
    post_id = posts.create_post(
        runtime.db,
        runtime.settings,
        text=text,
        channels=["cms-x"],
        immediately=True,
        now=runtime.clock(),
        media=[posts.MediaInput(path) for path in media or []],
    )
    _publish_due(runtime)
    return post_id


def _publication(runtime: Runtime, post_id: int) -> Publication:
    with runtime.db.transaction() as session:
        return session.query(Publication).filter(Publication.post_id == post_id).one()


@pytest.mark.parametrize("oauth1", [True, False], ids=["oauth1", "oauth2-user-token"])
def test_a_text_post_is_published_with_its_id_and_url(live: Runtime, x: XFake, oauth1: bool) -> None:
    _channel(live, x, oauth1=oauth1)
    post_id = _run(live, "Ten years of the Higgs boson (1) #CMS @CERN https://cms.cern/higgs")
    row = _publication(live, post_id)
    assert row.state == S.PUBLISHED, row.last_error
    assert row.remote_id in x.tweets
    assert row.remote_url == f"https://x.com/CMSExperiment/status/{row.remote_id}"
    assert x.tweets[row.remote_id]["sent"] == "Ten years of the Higgs boson (1) #CMS @CERN https://cms.cern/higgs"


def test_one_and_four_images_are_uploaded_then_attached(live: Runtime, x: XFake, tmp_path: Path) -> None:
    _channel(live, x)
    one = _run(live, "one image", [write_image(tmp_path / "a.png")])
    four = _run(live, "four images", [write_image(tmp_path / f"{n}.png", (400 + n, 300)) for n in range(4)])
    for post_id, count in ((one, 1), (four, 4)):
        row = _publication(live, post_id)
        assert row.state == S.PUBLISHED, row.last_error
        media_ids = x.tweets[str(row.remote_id)]["media_ids"]
        assert len(media_ids) == count
        assert all(x.state.media[m].category == "tweet_image" for m in media_ids)


def test_a_video_goes_through_initialize_append_finalize_and_status(live: Runtime, x: XFake, tmp_path: Path) -> None:
    _channel(live, x)
    post_id = _run(live, "a video", [make_clip(tmp_path / "clip.mp4", seconds=3.0)])
    row = _publication(live, post_id)
    assert row.state == S.PUBLISHED, row.last_error
    [media_id] = x.tweets[str(row.remote_id)]["media_ids"]
    video = x.state.media[media_id]
    assert (video.category, video.state, video.polls) == ("tweet_video", "succeeded", 2)
    assert video.next_segment > 1  # sent in 64 KiB chunks, in order
    assert len(video.received) == video.total


def test_a_rate_limit_waits_in_the_database_until_xs_reset(live: Runtime, x: XFake) -> None:
    _channel(live, x)
    x.fault("POST /2/tweets", "429")
    post_id = _run(live, "rate limited")
    row = _publication(live, post_id)
    assert row.state == S.RETRY_WAIT
    assert "X rate limit (Rate limit exceeded)" in (row.last_error or "")
    assert row.next_attempt_at is not None
    # x-rate-limit-reset is 2 s away: the retry waits for it, not for the (tiny) backoff
    assert live.clock() + timedelta(seconds=1) <= row.next_attempt_at <= live.clock() + timedelta(seconds=3)


def test_refused_credentials_hold_the_channel_until_reconnected(live: Runtime, x: XFake) -> None:
    _channel(live, x)
    x.fault("POST /2/tweets", "401")
    post_id = _run(live, "who are you")
    row = _publication(live, post_id)
    assert row.state == S.RETRY_WAIT
    assert "waiting for channel cms-x to be reconnected" in (row.last_error or "")
    assert posts.find_channel(live.db, "cms-x").status == "needs_reconnect"


def test_an_answer_lost_after_x_created_the_post_is_reconciled_without_a_second_create(
    live: Runtime, x: XFake, clock: Clock
) -> None:
    _channel(live, x)
    x.fault("POST /2/tweets", "drop")
    post_id = _run(live, "the answer gets lost https://cms.cern")
    assert publication_states(live, post_id) == {"cms-x": "unknown"}
    clock.advance(live.settings.reconcile_backoff + 1)
    [publication_id] = publications.due_for_reconcile(live.db, now=clock(), settings=live.settings)
    state = publications.reconcile(live.db, publication_id, live.adapters, settings=live.settings, clock=clock)
    assert state == S.PUBLISHED
    row = _publication(live, post_id)
    assert row.remote_id in x.tweets
    assert x.state.creates() == 1


def test_a_media_upload_failure_is_retried_later_and_nothing_is_posted(live: Runtime, x: XFake, tmp_path: Path) -> None:
    _channel(live, x)
    x.fault("POST /2/media/upload", "503")
    post_id = _run(live, "upload hiccup", [write_image(tmp_path / "a.png")])
    assert _publication(live, post_id).state == S.RETRY_WAIT
    assert x.state.creates() == 0


def test_the_fake_refuses_a_bad_signature(live: Runtime, x: XFake) -> None:
    credentials = x.state.keys.credentials()
    credentials["oauth1"]["access_token_secret"] = "wrong"
    posts.add_channel(live.db, live.settings, name="cms-x", platform="x", credentials=credentials, now=live.clock())
    post_id = _run(live, "signed wrong")
    row = _publication(live, post_id)
    assert row.state == S.RETRY_WAIT
    assert "bad signature" in (row.last_error or "")
    # reconnected with the right keys, the waiting post goes out
    posts.reconnect_channel(
        live.db, live.settings, channel="cms-x", credentials=x.state.keys.credentials(), now=live.clock()
    )
    _publish_due(live)
    assert _publication(live, post_id).state == S.PUBLISHED


def test_an_expiring_token_is_refreshed_once_and_the_rotated_one_stored(live: Runtime, x: XFake) -> None:
    credentials = x.state.keys.credentials(oauth1=False) | {"expires_at": time.time() + 60}  # inside the margin
    posts.add_channel(live.db, live.settings, name="cms-x", platform="x", credentials=credentials, now=live.clock())
    first = _run(live, "with a fresh token")
    second = _run(live, "and again, without a second refresh")
    assert _publication(live, first).state == S.PUBLISHED
    assert _publication(live, second).state == S.PUBLISHED
    channel = posts.find_channel(live.db, "cms-x")
    stored = decrypt_credentials(channel.credentials, live.settings, "cms-x")
    assert stored is not None
    assert (stored["access_token"], stored["refresh_token"]) == ("oauth2-user-token-2", "refresh-2")
    assert stored["expires_at"] > time.time() + 7000
    assert [e.kind for e in posts.read_events(live.db)].count("channel.token_refreshed") == 1


def test_a_refused_refresh_disconnects_the_channel_and_the_post_waits(live: Runtime, x: XFake) -> None:
    credentials = x.state.keys.credentials(oauth1=False) | {"expires_at": time.time() - 10, "refresh_token": "stale"}
    posts.add_channel(live.db, live.settings, name="cms-x", platform="x", credentials=credentials, now=live.clock())
    post_id = _run(live, "token gone")
    row = _publication(live, post_id)
    assert row.state == S.RETRY_WAIT
    assert "x refused to refresh the channel's token (Value passed for the token was invalid.)" in (
        row.last_error or ""
    )
    assert posts.find_channel(live.db, "cms-x").status == "needs_reconnect"
    assert x.state.creates() == 0


THREAD = " ".join(f"Sentence number {n} of a long announcement about the detector upgrade." for n in range(1, 12))
PARTS = len(split_thread(THREAD, SPECS["x"].text))


def test_a_long_text_goes_out_as_a_chained_thread(live: Runtime, x: XFake) -> None:
    _channel(live, x)
    post_id = _run(live, THREAD)
    row = _publication(live, post_id)
    assert row.state == S.PUBLISHED, row.last_error
    thread = sorted(x.tweets.values(), key=lambda t: t["id"])
    assert PARTS > 2
    assert [t["sent"].rsplit(" ", 1)[1] for t in thread] == [f"{n}/{PARTS}" for n in range(1, PARTS + 1)]
    assert [t["in_reply_to"] for t in thread] == [None] + [t["id"] for t in thread[:-1]]
    assert row.remote_id == thread[0]["id"]


def test_a_thread_interrupted_after_its_first_part_carries_on_without_posting_it_twice(
    live: Runtime, x: XFake, clock: Clock
) -> None:
    _channel(live, x)
    x.fault("POST /2/tweets", "slow:0")  # the first create passes
    x.fault("POST /2/tweets", "429")  # ...the fault list is consumed in order: the second gets 429
    post_id = _run(live, THREAD)
    assert _publication(live, post_id).state == S.RETRY_WAIT
    assert len(x.tweets) == 1
    clock.advance(60)
    _publish_due(live)
    row = _publication(live, post_id)
    assert row.state == S.PUBLISHED, row.last_error
    thread = sorted(x.tweets.values(), key=lambda t: t["id"])
    assert len(thread) == PARTS  # the first part once, the rest after it
    assert [t["in_reply_to"] for t in thread] == [None] + [t["id"] for t in thread[:-1]]


def test_a_lost_answer_for_a_post_with_an_image_and_an_ampersand_is_found_as_x_shows_it(
    live: Runtime, x: XFake, clock: Clock, tmp_path: Path
) -> None:
    """X answers with its own rendering: a t.co link for the image appended, links shortened,
    ``&`` as ``&amp;``; the lookup still recognises the post, and nothing is posted twice."""
    _channel(live, x)
    x.fault("POST /2/tweets", "drop")
    text = "Physics & outreach <3: CMS and ATLAS https://cms.cern/news"
    post_id = _run(live, text, [write_image(tmp_path / "plot.png")])
    assert publication_states(live, post_id) == {"cms-x": "unknown"}
    [tweet] = x.tweets.values()
    assert "&amp;" in tweet["text"]
    assert "&lt;3" in tweet["text"]
    assert tweet["text"].count("https://t.co/") == 2  # the link, and the one X adds for the image
    assert reconcile_until_settled(live, clock)[-1] is S.PUBLISHED
    row = _publication(live, post_id)
    assert row.remote_id == tweet["id"]
    assert x.state.creates() == 1


def test_a_503_on_create_that_did_not_land_is_looked_up_then_sent_again_once(
    live: Runtime, x: XFake, clock: Clock
) -> None:
    _channel(live, x)
    x.fault("POST /2/tweets", "503")  # refused before X acted on it
    post_id = _run(live, "a gateway hiccup")
    assert publication_states(live, post_id) == {"cms-x": "unknown"}
    assert x.tweets == {}
    states = reconcile_until_settled(live, clock)
    # looked up more than once (X shows a post within seconds), then it counts as not sent
    assert states[:-1] == [S.UNKNOWN] * (len(states) - 1)
    assert len(states) > 1
    assert states[-1] is S.RETRY_WAIT
    _publish_due(live)
    row = _publication(live, post_id)
    assert row.state == S.PUBLISHED, row.last_error
    assert x.state.creates() == 2
    assert len(x.tweets) == 1
    assert [e.kind for e in posts.read_events(live.db) if e.kind.startswith("publication.")].count(
        "publication.needs_attention"
    ) == 0


def test_a_503_on_create_that_landed_is_found_and_not_sent_again(live: Runtime, x: XFake, clock: Clock) -> None:
    _channel(live, x)
    x.fault("POST /2/tweets", "503-after")  # X made the post, then its edge answered 503
    post_id = _run(live, "made, then a 503")
    assert publication_states(live, post_id) == {"cms-x": "unknown"}
    assert reconcile_until_settled(live, clock) == [S.PUBLISHED]
    row = _publication(live, post_id)
    assert row.remote_id in x.tweets
    assert (x.state.creates(), len(x.tweets)) == (1, 1)


def test_a_token_refused_before_it_expires_is_refreshed_once_and_the_post_goes_out(live: Runtime, x: XFake) -> None:
    credentials = x.state.keys.credentials(oauth1=False) | {
        "access_token": "revoked-elsewhere",
        "expires_at": time.time() + 3600,  # not expiring: no refresh ahead of the call
    }
    posts.add_channel(live.db, live.settings, name="cms-x", platform="x", credentials=credentials, now=live.clock())
    post_id = _run(live, "after a revoked token")
    row = _publication(live, post_id)
    assert row.state == S.PUBLISHED, row.last_error
    assert posts.find_channel(live.db, "cms-x").status == "active"
    stored = decrypt_credentials(posts.find_channel(live.db, "cms-x").credentials, live.settings, "cms-x")
    assert stored is not None
    assert stored["access_token"] == "oauth2-user-token-2"
    assert x.state.creates() == 2  # the refused call, then the one with the new token


def test_a_refused_token_without_a_refresh_token_disconnects_the_channel(live: Runtime, x: XFake) -> None:
    credentials = {"access_token": "revoked-elsewhere", "user_id": x.state.keys.user_id}
    posts.add_channel(live.db, live.settings, name="cms-x", platform="x", credentials=credentials, now=live.clock())
    post_id = _run(live, "nothing to refresh with")
    assert _publication(live, post_id).state == S.RETRY_WAIT
    assert posts.find_channel(live.db, "cms-x").status == "needs_reconnect"
    assert x.state.creates() == 1


def test_a_thread_whose_second_part_lost_its_answer_carries_on_from_the_third(
    live: Runtime, x: XFake, clock: Clock
) -> None:
    _channel(live, x)
    x.fault("POST /2/tweets", "slow:0")
    x.fault("POST /2/tweets", "drop")  # part 2 is made, its answer lost
    post_id = _run(live, THREAD)
    assert publication_states(live, post_id) == {"cms-x": "unknown"}
    assert len(x.tweets) == 2
    states = reconcile_until_settled(live, clock)
    assert states[-1] is S.RETRY_WAIT  # parts 1 and 2 found and saved; the rest is not on X
    _publish_due(live)
    row = _publication(live, post_id)
    assert row.state == S.PUBLISHED, row.last_error
    thread = sorted(x.tweets.values(), key=lambda t: int(t["id"]))
    assert len(thread) == PARTS
    assert [t["in_reply_to"] for t in thread] == [None] + [t["id"] for t in thread[:-1]]


@pytest.mark.parametrize("oauth1", [True, False], ids=["oauth1", "oauth2-user-token"])
def test_each_images_alt_text_is_sent_after_its_upload_and_before_the_post(
    live: Runtime, x: XFake, tmp_path: Path, oauth1: bool
) -> None:
    _channel(live, x, oauth1=oauth1)
    described = {"detector.png": "The CMS detector, open", "event.png": "A Higgs candidate: 4 muons & 2 jets"}
    post_id = posts.create_post(
        live.db,
        live.settings,
        text="with alt text",
        channels=["cms-x"],
        immediately=True,
        now=live.clock(),
        media=[
            posts.MediaInput(write_image(tmp_path / "detector.png"), described["detector.png"]),
            posts.MediaInput(write_image(tmp_path / "event.png", (500, 300)), described["event.png"]),
            posts.MediaInput(write_image(tmp_path / "plain.png", (600, 300))),  # none given: none sent
        ],
    )
    _publish_due(live)
    row = _publication(live, post_id)
    assert row.state == S.PUBLISHED, row.last_error
    media_ids = x.tweets[str(row.remote_id)]["media_ids"]
    assert [x.state.media[m].alt_text for m in media_ids] == [*described.values(), None]
    calls = x.state.calls
    metadata = [i for i, call in enumerate(calls) if call == ("POST", "/2/media/metadata")]
    uploads = [i for i, call in enumerate(calls) if call == ("POST", "/2/media/upload")]
    assert len(metadata) == 2
    assert uploads[0] < metadata[0] < uploads[1] < metadata[1]  # each right after its own upload
    assert metadata[-1] < calls.index(("POST", "/2/tweets"))  # and before the post


def test_alt_text_over_xs_1000_characters_is_refused_when_the_post_is_made(
    live: Runtime, x: XFake, tmp_path: Path
) -> None:
    _channel(live, x)
    image = write_image(tmp_path / "a.png")
    with pytest.raises(ContentRejected, match=r"X takes alt text of at most 1000 characters; a\.png's has 1001"):
        posts.create_post(
            live.db,
            live.settings,
            text="too much alt text",
            channels=["cms-x"],
            immediately=True,
            now=live.clock(),
            media=[posts.MediaInput(image, "a" * 1001)],
        )
    # and X's own endpoint refuses it too (the contract fake, as X documents it)
    row = _publication(live, _run(live, "an image", [image]))
    [media_id] = x.tweets[str(row.remote_id)]["media_ids"]
    bearer = {"Authorization": f"Bearer {x.state.keys.bearer}"}
    url = f"{x.url}/2/media/metadata"
    refused = requests.post(url, headers=bearer, json={"id": media_id, "metadata": {"alt_text": {"text": "a" * 1001}}})
    assert refused.status_code == 400
    assert "1001 characters, over 1000" in refused.json()["detail"]
    taken = requests.post(url, headers=bearer, json={"id": media_id, "metadata": {"alt_text": {"text": "a" * 1000}}})
    assert taken.status_code == 200, taken.text
    assert x.state.media[media_id].alt_text == "a" * 1000


def test_a_videos_alt_text_is_not_sent(live: Runtime, x: XFake, tmp_path: Path) -> None:
    """X documents alt text for images and GIFs only (platforms.md §1.5)."""
    _channel(live, x)
    post_id = posts.create_post(
        live.db,
        live.settings,
        text="a video with alt text",
        channels=["cms-x"],
        immediately=True,
        now=live.clock(),
        media=[posts.MediaInput(make_clip(tmp_path / "clip.mp4", seconds=1.0), "a muon track")],
    )
    _publish_due(live)
    assert _publication(live, post_id).state == S.PUBLISHED
    assert ("POST", "/2/media/metadata") not in x.state.calls
