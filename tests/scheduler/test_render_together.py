"""A post's image sources are rendered for all its channels in one call, one decode per source."""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
from PIL import Image, ImageDraw
from sqlalchemy import select

from media import raster
from media.specs import SPECS
from scheduler import posts
from scheduler.publishing import media_prep
from scheduler.runtime import Runtime
from scheduler.store import Channel, Publication, Rendition
from tests.conftest import Clock
from tests.helpers import add_dry_run_channels, publication_states
from tests.media.clips import make_clip

PLATFORMS = ("x", "linkedin", "tiktok")


def _photo(path: Path) -> Path:
    image = Image.radial_gradient("L").resize((2400, 1600)).convert("RGB")
    ImageDraw.Draw(image).ellipse([1600, 500, 2100, 1000], fill=(250, 220, 180))  # a subject off-centre
    image.save(path, "JPEG", quality=90)
    return path


def _post(runtime: Runtime, channels: list[str], media: Path) -> int:
    return posts.create_post(
        runtime.db,
        runtime.settings,
        text="with media",
        channels=channels,
        at=(runtime.clock() + timedelta(minutes=10)).isoformat(),
        now=runtime.clock(),
        media=[posts.MediaInput(media, "a gradient")],
    )


def _publications(runtime: Runtime, post_id: int) -> dict[str, int]:
    with runtime.db.transaction() as session:
        rows = session.execute(
            select(Channel.platform, Publication.id)
            .join(Channel, Channel.id == Publication.channel_id)
            .where(Publication.post_id == post_id)
        )
        return {platform: publication_id for platform, publication_id in rows}


def _renditions(runtime: Runtime, publication_id: int) -> list[tuple[object, ...]]:
    with runtime.db.transaction() as session:
        rows = session.execute(
            select(
                Rendition.position,
                Rendition.kind,
                Rendition.width,
                Rendition.height,
                Rendition.bytes,
                Rendition.sha256,
                Rendition.path,
            )
            .where(Rendition.publication_id == publication_id)
            .order_by(Rendition.position)
        )
        return [tuple(row) for row in rows]


def _ready(runtime: Runtime, post_id: int) -> dict[str, bool]:
    with runtime.db.transaction() as session:
        rows = session.execute(
            select(Channel.platform, Publication.media_ready)
            .join(Channel, Channel.id == Publication.channel_id)
            .where(Publication.post_id == post_id)
        )
        return {platform: bool(ready) for platform, ready in rows}


@pytest.fixture
def loads(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """Every decode of a source image by libvips (the header read is not one)."""
    seen: list[Path] = []
    real = raster._load

    def counted(header: raster.Header, shrink: int, *, sequential: bool) -> object:
        seen.append(header.path)
        return real(header, shrink, sequential=sequential)

    monkeypatch.setattr(raster, "_load", counted)
    return seen


def test_one_call_renders_every_channel_of_an_image_post_from_one_decode(
    runtime: Runtime, clock: Clock, tmp_path: Path, loads: list[Path]
) -> None:
    channels = add_dry_run_channels(runtime, *PLATFORMS)
    photo = _photo(tmp_path / "photo.jpg")
    alone = {
        platform: _publications(runtime, _post(runtime, [name], photo))[platform]
        for platform, name in zip(PLATFORMS, channels, strict=True)
    }
    for publication_id in alone.values():
        assert media_prep.render(runtime.db, publication_id, settings=runtime.settings, clock=clock)
    raster._focus_cache.clear()
    loads.clear()

    post_id = _post(runtime, channels, photo)
    together = _publications(runtime, post_id)
    assert media_prep.render(runtime.db, together["x"], settings=runtime.settings, clock=clock)
    assert _ready(runtime, post_id) == dict.fromkeys(PLATFORMS, True)
    assert len(loads) == 1  # one decode of the source for the three channels
    for platform in PLATFORMS:
        made = _renditions(runtime, together[platform])
        assert [row[1] for row in made] == ["image"]
        # the same files, byte for byte, as a post on that channel alone got
        assert [row[1:] for row in made] == [row[1:] for row in _renditions(runtime, alone[platform])]

    # the siblings' own render requests, arriving later, find them ready: nothing is decoded
    for platform in ("linkedin", "tiktok"):
        assert media_prep.render(runtime.db, together[platform], settings=runtime.settings, clock=clock)
    assert len(loads) == 1


def test_a_sibling_whose_platform_refuses_the_media_is_held_alone(
    runtime: Runtime, clock: Clock, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tiktok = SPECS["tiktok"]
    assert tiktok.image is not None
    # rules no TikTok rendition can meet (at most 600 px on the long side, at least 640 wide)
    monkeypatch.setitem(SPECS, "tiktok", replace(tiktok, image=replace(tiktok.image, max_side=600, min_width=640)))
    channels = add_dry_run_channels(runtime, *PLATFORMS)
    post_id = _post(runtime, channels, _photo(tmp_path / "photo.jpg"))
    ids = _publications(runtime, post_id)
    assert media_prep.render(runtime.db, ids["x"], settings=runtime.settings, clock=clock)
    states = publication_states(runtime, post_id)
    assert states == {"t-x": "scheduled", "t-linkedin": "scheduled", "t-tiktok": "needs_attention"}
    assert _ready(runtime, post_id) == {"x": True, "linkedin": True, "tiktok": False}
    view = {p["channel"]: p for p in posts.show_post(runtime.db, post_id)["publications"]}
    assert (
        "media for t-tiktok: photo.jpg: its image for TikTok breaks the platform's rules"
        in view["t-tiktok"]["last_error"]
    )
    assert view["t-x"]["last_error"] is None

    # the other way round: the publication asked for is refused, its siblings are made
    other = _publications(runtime, _post(runtime, channels, _photo(tmp_path / "other.jpg")))
    assert not media_prep.render(runtime.db, other["tiktok"], settings=runtime.settings, clock=clock)
    with runtime.db.transaction() as session:
        rows = dict(
            session.execute(select(Publication.id, Publication.state).where(Publication.id.in_(other.values()))).all()
        )
    assert {platform: rows[publication_id] for platform, publication_id in other.items()} == {
        "x": "scheduled",
        "linkedin": "scheduled",
        "tiktok": "needs_attention",
    }


def test_a_video_post_is_still_rendered_per_channel(runtime: Runtime, clock: Clock, tmp_path: Path) -> None:
    channels = add_dry_run_channels(runtime, "x", "linkedin")
    clip = make_clip(tmp_path / "clip.mp4", size=(64, 36), fps=4, seconds=3.5, audio=False)
    post_id = _post(runtime, channels, clip)
    ids = _publications(runtime, post_id)
    assert media_prep.render(runtime.db, ids["x"], settings=runtime.settings, clock=clock)
    assert _ready(runtime, post_id) == {"x": True, "linkedin": False}  # LinkedIn's transcode is its own call
    assert media_prep.render(runtime.db, ids["linkedin"], settings=runtime.settings, clock=clock)
    assert _ready(runtime, post_id) == {"x": True, "linkedin": True}


def test_two_workers_rendering_two_siblings_at_once_leave_one_set_of_renditions_each(
    runtime: Runtime, clock: Clock, tmp_path: Path
) -> None:
    channels = add_dry_run_channels(runtime, *PLATFORMS)
    post_id = _post(runtime, channels, _photo(tmp_path / "photo.jpg"))
    ids = _publications(runtime, post_id)
    start = threading.Barrier(2)
    results: dict[str, bool] = {}

    def work(platform: str) -> None:
        start.wait()
        results[platform] = media_prep.render(runtime.db, ids[platform], settings=runtime.settings, clock=clock)

    workers = [threading.Thread(target=work, args=(platform,)) for platform in ("x", "linkedin")]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert results == {"x": True, "linkedin": True}
    assert _ready(runtime, post_id) == dict.fromkeys(PLATFORMS, True)
    for publication_id in ids.values():
        (made,) = _renditions(runtime, publication_id)  # one rendition each, not one per worker
        path = runtime.settings.media_store / str(made[-1])
        assert path.stat().st_size == made[4]  # the file on disk is the one recorded
