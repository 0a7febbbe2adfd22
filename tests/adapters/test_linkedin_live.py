"""The LinkedIn adapter through the publication pipeline, against the LinkedIn contract fake on loopback."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import requests

from adapters.linkedin import LinkedInAdapter
from scheduler import posts
from scheduler.publishing import publications
from scheduler.publishing.content import ChannelInfo, Content
from scheduler.publishing.ports import Limit, Prepared, PublishContext, Published, Publisher
from scheduler.publishing.states import PublicationState
from scheduler.runtime import Runtime
from scheduler.store import Publication
from tests.conftest import Clock, make_settings
from tests.fakes.linkedin_api import ACTIVE_VERSION, LinkedInFake, displayed
from tests.helpers import publication_states, reconcile_until_settled, write_image
from tests.helpers import publish_due as _publish_due
from tests.media.clips import make_clip

S = PublicationState
RESERVED = "Results (2027) #physics @CERN a_b *c* ~d~ [e] {f} <g> back\\slash |i"
CHANNEL = "cms-li"


@pytest.fixture
def li(clock: Clock) -> Iterator[LinkedInFake]:
    with LinkedInFake(clock=clock, part_size=32 * 1024) as fake:  # several parts for a short clip
        yield fake


@pytest.fixture(autouse=True)
def short_image_grace(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(LinkedInAdapter, "image_grace", 0.0)


@pytest.fixture
def live(tmp_path: Path, li: LinkedInFake, clock: Clock) -> Iterator[Runtime]:
    from scheduler.store import open_database

    settings = make_settings(
        tmp_path / "data", f"sqlite:///{tmp_path / 'li.db'}", linkedin_api_url=li.url, retry_base=0.1
    )
    db = open_database(settings.database_url)
    yield Runtime(settings=settings, db=db, clock=clock)
    db.dispose()


def _channel(
    runtime: Runtime, li: LinkedInFake, *, options: dict[str, object] | None = None, **credentials: object
) -> str:
    posts.add_channel(
        runtime.db,
        runtime.settings,
        name=CHANNEL,
        platform="linkedin",
        options=options,
        credentials=li.state.account.credentials() | credentials,
        now=runtime.clock(),
    )
    return CHANNEL


def _run(runtime: Runtime, text: str, media: list[posts.MediaInput] | None = None) -> int:
    post_id = posts.create_post(
        runtime.db,
        runtime.settings,
        text=text,
        channels=[CHANNEL],
        immediately=True,
        now=runtime.clock(),
        media=media or [],
    )
    _publish_due(runtime)
    return post_id


def _publication(runtime: Runtime, post_id: int) -> Publication:
    with runtime.db.transaction() as session:
        return session.query(Publication).filter(Publication.post_id == post_id).one()


def _reconcile(runtime: Runtime, clock: Clock) -> PublicationState | None:
    clock.advance(runtime.settings.reconcile_backoff + 1)
    [publication_id] = publications.due_for_reconcile(runtime.db, now=clock(), settings=runtime.settings)
    return publications.reconcile(runtime.db, publication_id, runtime.adapters, settings=runtime.settings, clock=clock)


# -- what gets published ------------------------------------------------------------------------------


@pytest.mark.parametrize("author", ["member", "organization"])
def test_a_text_post_is_published_with_its_urn_and_url(live: Runtime, li: LinkedInFake, author: str) -> None:
    account = li.state.account
    urn = account.member if author == "member" else account.organizations[0]
    # a company page is chosen with the channel option; the member's token posts for it
    _channel(live, li, options={"author": urn} if author == "organization" else None)
    post_id = _run(live, "Ten years of the Higgs boson")
    row = _publication(live, post_id)
    assert row.state == S.PUBLISHED, row.last_error
    post = li.posts[str(row.remote_id)]
    assert row.remote_url == f"https://www.linkedin.com/feed/update/{row.remote_id}/"
    assert (post["author"], post["text"], post["visibility"], post["content"]) == (
        urn,
        "Ten years of the Higgs boson",
        "PUBLIC",
        None,
    )
    every = li.state.headers[-1]
    assert every["authorization"] == f"Bearer {account.access_token}"
    # the version follows the date (settings.linkedin_version_for), one the fake serves today
    assert (every["linkedin-version"], every["x-restli-protocol-version"]) == (live.settings.linkedin_version, "2.0.0")


def test_a_channel_connected_by_oauth_posts_as_the_tokens_member(live: Runtime, li: LinkedInFake) -> None:
    posts.add_channel(
        live.db,
        live.settings,
        name=CHANNEL,
        platform="linkedin",
        credentials=li.state.account.credentials(with_author=False),
        now=live.clock(),
    )
    row = _publication(live, _run(live, "whose token is this"))
    assert row.state == S.PUBLISHED, row.last_error
    assert li.posts[str(row.remote_id)]["author"] == li.state.account.member
    assert ("GET", "/v2/userinfo") in li.state.calls


def test_reserved_little_text_characters_arrive_intact(live: Runtime, li: LinkedInFake) -> None:
    _channel(live, li)
    post_id = _run(live, RESERVED)
    row = _publication(live, post_id)
    assert row.state == S.PUBLISHED, row.last_error
    post = li.posts[str(row.remote_id)]
    assert post["text"] == RESERVED  # ( ) # @ _ * ~ [ ] and the rest, as written
    assert not post["truncated"]
    # the fake would have caught a missing escape: LinkedIn cuts the post there, silently
    assert displayed("Results (2027)") == ("Results ", True)


def test_one_image_is_uploaded_then_attached_with_its_alt_text(live: Runtime, li: LinkedInFake, tmp_path: Path) -> None:
    _channel(live, li)
    picture = posts.MediaInput(write_image(tmp_path / "a.png"), alt_text="the CMS detector")
    post_id = _run(live, "one image", [picture])
    row = _publication(live, post_id)
    assert row.state == S.PUBLISHED, row.last_error
    content = li.posts[str(row.remote_id)]["content"]
    assert content == {"media": {"id": content["media"]["id"], "altText": "the CMS detector"}}
    image = li.state.images[content["media"]["id"]]
    assert (image.owner, image.status, image.format) == (li.state.account.member, "AVAILABLE", "JPEG")


def test_three_images_become_a_multi_image_post_in_order(live: Runtime, li: LinkedInFake, tmp_path: Path) -> None:
    page = li.state.account.organizations[0]
    _channel(live, li, options={"author": page})  # a page's images can be watched until AVAILABLE
    li.state.image_polls = 2
    pictures = [
        posts.MediaInput(write_image(tmp_path / f"{n}.png", (400 + n, 300)), alt_text=f"n{n}") for n in range(3)
    ]
    post_id = _run(live, "three images", pictures)
    row = _publication(live, post_id)
    assert row.state == S.PUBLISHED, row.last_error
    images = li.posts[str(row.remote_id)]["content"]["multiImage"]["images"]
    assert [image["altText"] for image in images] == ["n0", "n1", "n2"]
    assert [li.state.images[image["id"]].reads for image in images] == [2, 2, 2]
    assert list(li.state.images) == [image["id"] for image in images]  # uploaded in the post's order


def test_a_member_image_that_cannot_be_watched_gets_the_grace_period(
    live: Runtime, li: LinkedInFake, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _channel(live, li)
    li.state.image_ready_seconds = 0.3  # LinkedIn is still processing it for a moment
    monkeypatch.setattr(LinkedInAdapter, "image_grace", 0.5)
    post_id = _run(live, "grace", [posts.MediaInput(write_image(tmp_path / "a.png"))])
    assert _publication(live, post_id).state == S.PUBLISHED
    monkeypatch.setattr(LinkedInAdapter, "image_grace", 0.0)
    hasty = _run(live, "no grace", [posts.MediaInput(write_image(tmp_path / "b.png"))])
    row = _publication(live, hasty)
    assert row.state == S.FAILED
    assert "is not AVAILABLE" in (row.last_error or "")


def test_a_video_is_uploaded_in_linkedins_parts_finalized_and_watched(
    live: Runtime, li: LinkedInFake, tmp_path: Path
) -> None:
    _channel(live, li)
    post_id = _run(live, "a video", [posts.MediaInput(make_clip(tmp_path / "clip.mp4", seconds=4.0))])
    row = _publication(live, post_id)
    assert row.state == S.PUBLISHED, row.last_error
    urn = li.posts[str(row.remote_id)]["content"]["media"]["id"]
    video = li.state.videos[urn]
    assert len(video.parts) > 1  # 32 KiB parts, as the fake laid them out
    assert video.finalized_with == [video.received[i][1] for i in range(len(video.parts))]
    assert (
        b"".join(video.received[i][0] for i in range(len(video.parts)))
        == Path(live.settings.media_store / _rendition(live, post_id)).read_bytes()
    )
    assert (video.status, video.reads) == ("AVAILABLE", 2)


def _rendition(runtime: Runtime, post_id: int) -> str:
    from scheduler.store import Rendition

    with runtime.db.transaction() as session:
        publication = session.query(Publication).filter(Publication.post_id == post_id).one()
        return str(session.query(Rendition).filter(Rendition.publication_id == publication.id).one().path)


def test_a_video_linkedin_cannot_process_fails_with_its_reason(live: Runtime, li: LinkedInFake, tmp_path: Path) -> None:
    _channel(live, li)
    li.state.fail_videos = True
    post_id = _run(live, "bad video", [posts.MediaInput(make_clip(tmp_path / "clip.mp4", seconds=4.0))])
    row = _publication(live, post_id)
    assert row.state == S.FAILED
    assert "could not process it (Video format is not supported)" in (row.last_error or "")
    assert li.state.creates() == 0


# -- what goes wrong --------------------------------------------------------------------------------


def test_a_rate_limit_waits_in_the_database(live: Runtime, li: LinkedInFake) -> None:
    _channel(live, li)
    li.fault("POST /rest/posts", "429")  # no headers, as LinkedIn documents: the core's backoff
    post_id = _run(live, "rate limited")
    row = _publication(live, post_id)
    assert row.state == S.RETRY_WAIT
    assert "LinkedIn rate limit" in (row.last_error or "")
    assert row.next_attempt_at is not None
    assert row.next_attempt_at <= live.clock() + timedelta(seconds=1)  # retry_base is 0.1 s here
    li.fault("POST /rest/posts", "429:30")  # a Retry-After, should one come, is honoured
    _publish_due(live)
    row = _publication(live, post_id)
    assert row.state == S.RETRY_WAIT
    assert row.next_attempt_at is not None
    assert row.next_attempt_at >= live.clock() + timedelta(seconds=29)
    assert li.posts == {}


def test_refused_credentials_need_a_reconnect(live: Runtime, li: LinkedInFake) -> None:
    _channel(live, li)
    li.fault("POST /rest/posts", "401")
    post_id = _run(live, "who are you")
    row = _publication(live, post_id)
    # the post waits for the channel, which waits for a person to reconnect it
    assert row.state == S.RETRY_WAIT
    assert "reconnect the channel" in (row.last_error or "")
    assert posts.find_channel(live.db, "cms-li").status == "needs_reconnect"
    assert li.posts == {}


def test_an_expired_token_sends_nothing(live: Runtime, li: LinkedInFake) -> None:
    _channel(live, li, expires_at=time.time() - 60)
    row = _publication(live, _run(live, "too late"))
    assert row.state == S.RETRY_WAIT  # as for a 401, above
    assert "expired" in (row.last_error or "")
    assert "reconnect the channel" in (row.last_error or "")
    assert li.state.calls == []


def test_a_token_about_to_expire_still_publishes(
    live: Runtime, li: LinkedInFake, caplog: pytest.LogCaptureFixture
) -> None:
    _channel(live, li, expires_at=time.time() + 2 * 86400)
    row = _publication(live, _run(live, "just in time"))
    assert row.state == S.PUBLISHED, row.last_error
    assert "LinkedIn access token expires at" in caplog.text


def test_an_inactive_api_version_fails_with_a_pointer_to_the_setting(
    tmp_path: Path, li: LinkedInFake, clock: Clock
) -> None:
    from scheduler.store import open_database

    settings = make_settings(
        tmp_path / "data", f"sqlite:///{tmp_path / 'v.db'}", linkedin_api_url=li.url, linkedin_version="202401"
    )
    db = open_database(settings.database_url)
    runtime = Runtime(settings=settings, db=db, clock=clock)
    _channel(runtime, li)
    row = _publication(runtime, _run(runtime, "old version"))
    db.dispose()
    assert row.state == S.FAILED
    assert "426 Requested version 202401 is not active" in (row.last_error or "")
    assert "CROSSPOST_LINKEDIN_VERSION" in (row.last_error or "")


def test_the_fake_requires_the_token_and_both_version_headers(li: LinkedInFake) -> None:
    token = f"Bearer {li.state.account.access_token}"
    base = {"Authorization": token, "LinkedIn-Version": ACTIVE_VERSION, "X-Restli-Protocol-Version": "2.0.0"}
    for missing, status in (("Authorization", 401), ("LinkedIn-Version", 400), ("X-Restli-Protocol-Version", 400)):
        headers = {k: v for k, v in base.items() if k != missing}
        answer = requests.post(f"{li.url}/rest/posts", json={}, headers=headers, timeout=5)
        assert answer.status_code == status, missing
    answer = requests.post(f"{li.url}/rest/posts", json={"commentary": "x"}, headers=base, timeout=5)
    assert answer.status_code == 422
    assert "/author" in answer.json()["message"]
    assert "/lifecycleState" in answer.json()["message"]


def test_a_server_error_on_create_is_unknown_and_on_upload_retryable(
    live: Runtime, li: LinkedInFake, tmp_path: Path
) -> None:
    _channel(live, li)
    li.fault("POST /rest/posts", "500")
    assert publication_states(live, _run(live, "maybe landed")) == {CHANNEL: "unknown"}
    li.fault("PUT /dms-uploads/.*", "503")
    post_id = _run(live, "upload hiccup", [posts.MediaInput(write_image(tmp_path / "a.png"))])
    assert _publication(live, post_id).state == S.RETRY_WAIT
    assert li.posts == {}


# -- reconciliation and duplicates ----------------------------------------------------------------------


def test_an_answer_lost_after_linkedin_created_the_post_ends_with_exactly_one_post(
    live: Runtime, li: LinkedInFake, clock: Clock, tmp_path: Path
) -> None:
    _channel(live, li)
    li.fault("POST /rest/posts", "drop")
    post_id = _run(live, "the answer gets lost", [posts.MediaInput(write_image(tmp_path / "a.png"))])
    assert publication_states(live, post_id) == {CHANNEL: "unknown"}
    [landed] = li.posts
    # LinkedIn offers no read-back of a member's posts (§2.5): the lookups through the reconcile
    # window cannot tell, then a person decides
    states = reconcile_until_settled(live, clock)
    assert states[-1] == S.NEEDS_ATTENTION
    assert set(states[:-1]) == {S.UNKNOWN}
    assert "crosspost post retry" in (_publication(live, post_id).last_error or "")
    # their retry sends the same body (the image from the checkpoint, not a new upload);
    # LinkedIn refuses it as a duplicate naming the post, which is adopted
    posts.retry_post(live.db, post_id, now=clock())
    _publish_due(live)
    row = _publication(live, post_id)
    assert row.state == S.PUBLISHED, row.last_error
    assert row.remote_id == landed
    assert list(li.posts) == [landed]
    assert (li.state.creates(), len(li.state.images)) == (2, 1)


class _DiesAfterPublishing:
    """The real adapter, whose worker dies after LinkedIn answered and before the core recorded it."""

    def __init__(self, inner: Publisher) -> None:
        self.inner = inner

    @property
    def lookup_proves_absence(self) -> bool:
        return self.inner.lookup_proves_absence

    @property
    def rate_limits(self) -> tuple[Limit, ...]:
        return self.inner.rate_limits

    @property
    def absence_settles_after(self) -> float | None:
        return self.inner.absence_settles_after

    def refreshed_credentials(self, *, force: bool = False) -> dict[str, Any] | None:
        return self.inner.refreshed_credentials(force=force)

    def finish(self, prepared: Prepared, found: Published, ctx: PublishContext) -> Published:
        return self.inner.finish(prepared, found, ctx)

    def prepare(self, content: Content) -> Prepared:
        return self.inner.prepare(content)

    def publish(self, prepared: Prepared, ctx: PublishContext) -> Published:
        self.inner.publish(prepared, ctx)
        raise RuntimeError("worker killed")

    def lookup(self, prepared: Prepared, ctx: PublishContext) -> Published | None:
        return self.inner.lookup(prepared, ctx)


def test_a_worker_that_died_after_the_answer_is_settled_from_the_checkpoint(
    live: Runtime, li: LinkedInFake, clock: Clock
) -> None:
    _channel(live, li)
    post_id = posts.create_post(
        live.db, live.settings, text="answered, then the worker died", channels=[CHANNEL], immediately=True, now=clock()
    )

    def dying(channel: ChannelInfo) -> Publisher:
        return _DiesAfterPublishing(live.adapters(channel))

    _publish_due(live, dying)
    assert publication_states(live, post_id) == {CHANNEL: "unknown"}
    assert _reconcile(live, clock) == S.PUBLISHED
    row = _publication(live, post_id)
    assert row.remote_id in li.posts
    assert li.state.creates() == 1


def test_a_duplicate_refusal_adopts_the_post_it_names(live: Runtime, li: LinkedInFake) -> None:
    _channel(live, li)
    first = _publication(live, _run(live, "Same words (twice)"))
    assert first.state == S.PUBLISHED
    again = _publication(live, _run(live, "Same words (twice)"))
    assert again.state == S.PUBLISHED, again.last_error
    assert again.remote_id == first.remote_id
    assert again.remote_url == f"https://www.linkedin.com/feed/update/{first.remote_id}/"
    assert (len(li.posts), li.state.creates()) == (1, 2)
