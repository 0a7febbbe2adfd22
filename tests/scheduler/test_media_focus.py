"""A focal point chosen for a file: stored with the post (or campaign), kept by every crop the
pipeline makes of it, and part of what identifies a rendition."""

from __future__ import annotations

import datetime as dt
from datetime import timedelta
from pathlib import Path

import pytest
from PIL import Image, ImageDraw
from sqlalchemy import func, select

from scheduler import posts
from scheduler.calendar import campaigns
from scheduler.editorial import shares, signoff
from scheduler.errors import InvalidInput
from scheduler.publishing import media_prep
from scheduler.runtime import Runtime
from scheduler.store import CampaignMedia, Post, PostMedia, Publication, Rendition
from tests.conftest import Clock
from tests.helpers import add_dry_run_channels
from tests.scheduler.test_editorial import _set_up

BLUE = (0, 90, 255)


def scene(path: Path) -> Path:
    """Busy stripes on the left, which the automatic detection takes for the subject, and a plain
    blue band along the right edge, which a person says is what matters."""
    image = Image.new("RGB", (640, 360), (235, 235, 235))
    draw = ImageDraw.Draw(image)
    for x in range(40, 200, 8):
        draw.rectangle([x, 100, x + 3, 260], fill=(0, 0, 0))
    draw.rectangle([600, 0, 639, 359], fill=BLUE)
    image.save(path)
    return path


def _is_blue(pixel: tuple[int, int, int]) -> bool:
    return pixel[2] > 200 and pixel[0] < 60  # JPEG moves the colour a little


def _post(runtime: Runtime, channel: str, image: Path, focus: tuple[float, float] | None) -> int:
    return posts.create_post(
        runtime.db,
        runtime.settings,
        text="the new magnet",
        channels=[channel],
        at=(runtime.clock() + timedelta(minutes=5)).isoformat(),
        now=runtime.clock(),
        media=[posts.MediaInput(image, "the magnet", focus=focus)],
    )


def _rendition(runtime: Runtime, clock: Clock, post_id: int) -> Path:
    for publication_id in media_prep.needing_media(runtime.db, now=clock(), settings=runtime.settings):
        assert media_prep.render(runtime.db, publication_id, settings=runtime.settings, clock=clock)
    with runtime.db.read() as session:
        (path,) = session.scalars(
            select(Rendition.path)
            .join(Publication, Publication.id == Rendition.publication_id)
            .where(Publication.post_id == post_id)
        )
    return runtime.settings.media_store / path


def test_a_focus_near_the_right_edge_keeps_that_region_in_the_crop(
    runtime: Runtime, clock: Clock, tmp_path: Path
) -> None:
    (tiktok,) = add_dry_run_channels(runtime, "tiktok")  # 9:16 from a 16:9 source: a narrow strip is kept
    image = scene(tmp_path / "magnet.png")
    automatic = _rendition(runtime, clock, _post(runtime, tiktok, image, None))
    chosen_id = _post(runtime, tiktok, image, (0.97, 0.5))
    with runtime.db.read() as session:
        assert session.execute(
            select(PostMedia.focus_x, PostMedia.focus_y).where(PostMedia.post_id == chosen_id)
        ).one() == (0.97, 0.5)
    chosen = _rendition(runtime, clock, chosen_id)

    # the same source file, another focus: another rendition, not the automatic one found again
    assert chosen != automatic
    with Image.open(automatic) as auto_image, Image.open(chosen) as chosen_image:
        auto_rgb, chosen_rgb = auto_image.convert("RGB"), chosen_image.convert("RGB")
        assert not any(_is_blue(auto_rgb.getpixel((x, auto_rgb.height // 2))) for x in range(auto_rgb.width))
        right = chosen_rgb.getpixel((chosen_rgb.width - 3, chosen_rgb.height // 2))
        assert _is_blue(right), right
        assert not _is_blue(chosen_rgb.getpixel((0, chosen_rgb.height // 2)))  # still a crop, not the whole


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # refused before any query
@pytest.mark.parametrize("focus", [(1.2, 0.5), (0.5, -0.1), (float("nan"), 0.5)])
def test_a_focus_outside_the_image_is_refused_naming_the_file(
    runtime: Runtime, tmp_path: Path, focus: tuple[float, float]
) -> None:
    (tiktok,) = add_dry_run_channels(runtime, "tiktok")
    with pytest.raises(InvalidInput, match=r"magnet\.png: focus .* between 0 and 1"):
        _post(runtime, tiktok, scene(tmp_path / "magnet.png"), focus)
    with runtime.db.read() as session:
        assert session.scalar(select(func.count()).select_from(Post)) == 0
    assert not any(p.is_file() for p in runtime.settings.media_store.rglob("*"))  # nothing half-written


def test_a_campaigns_focus_goes_to_its_yearly_post(runtime: Runtime, clock: Clock, tmp_path: Path) -> None:
    (x,) = add_dry_run_channels(runtime, "x")
    campaign_id, _ = campaigns.add_campaign(
        runtime.db,
        runtime.settings,
        observance_id="lgbtq-stem-day",
        channels=[x],
        text="Happy {name}!",
        now=clock.now,
        media=[posts.MediaInput(scene(tmp_path / "stem.png"), focus=(0.25, 0.75))],
    )
    with runtime.db.read() as session:
        assert session.execute(select(CampaignMedia.focus_x, CampaignMedia.focus_y)).one() == (0.25, 0.75)
    # an edit that leaves the media alone keeps its focus
    campaigns.edit_campaign(runtime.db, runtime.settings, campaign_id, text="Hello {name}!", now=clock.now)
    draft_on = dt.datetime.fromisoformat(
        campaigns.campaign_view(runtime.db, campaign_id, now=clock.now)["next"]["draft_on"]
    )
    [post_id] = campaigns.sweep(runtime.db, runtime.settings, now=draft_on)
    view = posts.show_post(runtime.db, post_id)
    assert [m["focus"] for m in view["media"]] == [[0.25, 0.75]]


def test_a_partners_adopted_copy_keeps_the_focus(runtime: Runtime, tmp_path: Path) -> None:
    _set_up(runtime)  # cms (host: ana writes, eve signs) and lhcb (partner: luc), a channel each
    at = (runtime.clock() + timedelta(hours=48)).isoformat()
    post_id = posts.create_post(
        runtime.db,
        runtime.settings,
        text="Higgs boson, ten years on",
        channels=["cms-x"],
        at=at,
        now=runtime.clock(),
        actor="ana",
        media=[posts.MediaInput(scene(tmp_path / "higgs.png"), focus=(0.9, 0.4))],
    )
    signoff.approve(runtime.db, post_id, actor="eve", now=runtime.clock())
    share_id = shares.share(runtime.db, post_id, to_org="lhcb", now=runtime.clock(), actor="eve")
    copy = posts.adopt_share(
        runtime.db, runtime.settings, share_id, channels=["lhcb-x"], at=at, now=runtime.clock(), actor="luc"
    )
    assert [m["focus"] for m in posts.show_post(runtime.db, copy)["media"]] == [[0.9, 0.4]]
