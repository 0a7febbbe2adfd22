"""Renditions are made ahead of time; a publication is dispatched only once they exist."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
from PIL import Image
from sqlalchemy import select

from media.specs import SPECS
from scheduler import posts
from scheduler.publishing import media_prep, publications
from scheduler.publishing.states import PublicationState
from scheduler.runtime import Runtime
from scheduler.store import Channel, Publication, Rendition
from tests.conftest import Clock
from tests.helpers import add_dry_run_channels, publication_states, write_image
from tests.media.clips import make_clip


def _post_with(runtime: Runtime, channels: list[str], media: Path, seconds: int = 10) -> int:
    at = (runtime.clock() + timedelta(seconds=seconds)).isoformat()
    return posts.create_post(
        runtime.db,
        runtime.settings,
        text="with media",
        channels=channels,
        at=at,
        now=runtime.clock(),
        media=[posts.MediaInput(media, "a red square")],
    )


def test_nothing_is_dispatched_before_its_renditions_exist(runtime: Runtime, clock: Clock, tmp_path: Path) -> None:
    (channel,) = add_dry_run_channels(runtime, "tiktok")
    post_id = _post_with(runtime, [channel], write_image(tmp_path / "square.png", (1200, 1200)))
    assert publications.claim_due(runtime.db, now=clock(), settings=runtime.settings) == []

    (pending,) = media_prep.needing_media(runtime.db, now=clock(), settings=runtime.settings)
    assert media_prep.needing_media(runtime.db, now=clock(), settings=runtime.settings) == []  # asked once
    assert media_prep.render(runtime.db, pending, settings=runtime.settings, clock=clock)

    (dispatch,) = publications.claim_due(runtime.db, now=clock(), settings=runtime.settings)
    # at the due time nothing is transcoded: the original upload can even be gone
    for original in runtime.settings.media_store.glob("??/*"):
        original.unlink()
    clock.advance(10)
    state = publications.publish(
        runtime.db, dispatch.publication_id, dispatch.token, runtime.adapters, settings=runtime.settings, clock=clock
    )
    assert state is PublicationState.PUBLISHED
    (folder,) = (runtime.settings.outbox / channel).iterdir()
    (sent,) = folder.glob("01-*")
    with Image.open(sent) as image:
        assert image.format == "JPEG"  # TikTok takes no PNG
        assert image.width / image.height == 1080 / 1920  # 9:16
    assert publication_states(runtime, post_id) == {channel: "published"}


def test_media_that_cannot_fit_a_channel_is_held_with_the_reason(
    runtime: Runtime, clock: Clock, tmp_path: Path
) -> None:
    x, linkedin = add_dry_run_channels(runtime, "x", "linkedin")
    clip = make_clip(tmp_path / "long-talk.mp4", size=(64, 36), fps=4, seconds=142, audio=False)
    post_id = _post_with(runtime, [x, linkedin], clip)
    for publication_id in media_prep.needing_media(runtime.db, now=clock(), settings=runtime.settings):
        media_prep.render(runtime.db, publication_id, settings=runtime.settings, clock=clock)
    view = {p["channel"]: p for p in posts.show_post(runtime.db, post_id)["publications"]}
    assert view[x]["state"] == "needs_attention"
    assert "X takes at most 140 s" in view[x]["last_error"]
    assert view[linkedin]["state"] == "scheduled"  # LinkedIn takes 30 minutes: unaffected
    clock.advance(10)
    claimed = publications.claim_due(runtime.db, now=clock(), settings=runtime.settings)
    assert [d.publication_id for d in claimed] == [view[linkedin]["id"]]


def test_a_lost_render_request_is_asked_again_after_its_lease(runtime: Runtime, clock: Clock, tmp_path: Path) -> None:
    (channel,) = add_dry_run_channels(runtime, "x")
    _post_with(runtime, [channel], write_image(tmp_path / "a.png"))
    first = media_prep.needing_media(runtime.db, now=clock(), settings=runtime.settings)
    clock.advance(runtime.settings.render_lease + 1)
    assert media_prep.needing_media(runtime.db, now=clock(), settings=runtime.settings) == first


def test_channels_without_a_media_spec_need_no_renditions(runtime: Runtime, clock: Clock, tmp_path: Path) -> None:
    posts.add_channel(
        runtime.db,
        runtime.settings,
        name="hook",
        platform="webhook",
        options={"url": "http://127.0.0.1:9/x"},
        now=clock(),
    )
    _post_with(runtime, ["hook"], write_image(tmp_path / "b.png"), seconds=5)
    assert media_prep.needing_media(runtime.db, now=clock(), settings=runtime.settings) == []
    assert len(publications.claim_due(runtime.db, now=clock(), settings=runtime.settings)) == 1


def test_a_youtube_channel_renders_vertical_clips_as_shorts_unless_it_says_shorts_false(
    runtime: Runtime, clock: Clock, tmp_path: Path
) -> None:
    clip = make_clip(tmp_path / "tall.mp4", size=(180, 320), seconds=2.0)
    sizes = {}
    for name, options in (("yt-shorts", {}), ("yt-wide", {"shorts": "false"})):
        posts.add_channel(
            runtime.db, runtime.settings, name=name, platform="youtube", dry_run=True, options=options, now=clock()
        )
        _post_with(runtime, [name], clip)
        for publication_id in media_prep.needing_media(runtime.db, now=clock(), settings=runtime.settings):
            assert media_prep.render(runtime.db, publication_id, settings=runtime.settings, clock=clock)
        with runtime.db.transaction() as session:
            sizes[name] = session.execute(
                select(Rendition.width, Rendition.height)
                .join(Publication, Publication.id == Rendition.publication_id)
                .join(Channel, Channel.id == Publication.channel_id)
                .where(Channel.name == name, Rendition.kind == "video")
            ).one()
    assert tuple(sizes["yt-shorts"]) == (180, 320)  # 9:16, whole
    width, height = sizes["yt-wide"]
    assert width / height == pytest.approx(16 / 9, rel=0.02)


def test_a_rendition_that_breaks_its_platforms_rules_is_never_sent(
    runtime: Runtime, clock: Clock, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # rules no thumbnail can meet (at most 600 px on the long side, at least 640 wide)
    youtube = SPECS["youtube"]
    assert youtube.thumbnail is not None
    monkeypatch.setitem(SPECS, "youtube", replace(youtube, thumbnail=replace(youtube.thumbnail, max_side=600)))
    (channel,) = add_dry_run_channels(runtime, "youtube")
    post_id = _post_with(runtime, [channel], write_image(tmp_path / "poster.png", (1600, 900)))
    for publication_id in media_prep.needing_media(runtime.db, now=clock(), settings=runtime.settings):
        assert not media_prep.render(runtime.db, publication_id, settings=runtime.settings, clock=clock)
    (view,) = posts.show_post(runtime.db, post_id)["publications"]
    assert view["state"] == "needs_attention"
    assert "poster.png: its thumbnail for YouTube breaks the platform's rules: 640 px" in view["last_error"]
