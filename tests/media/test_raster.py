"""The libvips rendition path (media.raster): what it must keep from the Pillow one, and what it
adds (the focal point found once per source, the same whichever channel asks first)."""

from __future__ import annotations

import io
import os
from dataclasses import replace
from pathlib import Path

import pytest
from PIL import Image, ImageDraw, ImageStat

from media import framing, raster
from media.renditions import adapt, adapt_all, adapt_image, adapt_images
from media.specs import SPECS
from media.video import frame_at
from scheduler.errors import InvalidMedia

CHANNELS = ["x", "linkedin", "tiktok", "youtube"]


def _scene(size: tuple[int, int]) -> Image.Image:
    image = Image.new("RGB", size, (30, 60, 90))
    draw = ImageDraw.Draw(image)
    draw.ellipse([size[0] // 3, size[1] // 4, size[0] * 2 // 3, size[1] * 3 // 4], fill=(220, 180, 40))
    return image


def _mean(path: Path) -> list[float]:
    with Image.open(path) as image:
        return list(ImageStat.Stat(image.convert("RGB")).mean)


@pytest.fixture(autouse=True)
def _cold() -> None:
    raster._focus_cache.clear()  # every test finds its focal points itself


def test_a_cmyk_jpeg_without_a_profile_keeps_its_colours(tmp_path: Path) -> None:
    scene = _scene((1600, 1000))
    source = tmp_path / "cmyk.jpg"
    scene.convert("CMYK").save(source, "JPEG", quality=95)
    rendition = adapt_image(source, "linkedin", tmp_path / "out", mode="fit")
    # as Pillow converts CMYK, not through a press profile (which turned this blue-grey)
    for ours, expected in zip(_mean(rendition.path), ImageStat.Stat(scene).mean, strict=True):
        assert abs(ours - expected) < 3


def test_transparency_is_flattened_onto_white(tmp_path: Path) -> None:
    image = Image.new("RGBA", (1600, 1000), (30, 60, 90, 255))
    ImageDraw.Draw(image).rectangle([0, 0, 799, 999], fill=(0, 0, 0, 0))  # left half transparent
    rgba = tmp_path / "half.png"
    image.save(rgba)
    palette = tmp_path / "half-palette.png"
    indexed = image.convert("RGB").convert("P", palette=Image.Palette.ADAPTIVE, colors=4)
    indexed.save(palette, transparency=indexed.getpixel((10, 10)))  # the left half's colour is transparent
    with Image.open(palette) as check:
        assert check.convert("RGBA").getpixel((10, 10))[3] == 0
    for source in (rgba, palette):
        rendition = adapt_image(source, "linkedin", tmp_path / "out", mode="fit")
        with Image.open(rendition.path) as out:
            assert out.mode == "RGB"
            left = out.getpixel((out.width // 8, out.height // 2))
            right = out.getpixel((out.width * 7 // 8, out.height // 2))
        assert isinstance(left, tuple)
        assert isinstance(right, tuple)
        assert min(left) > 245, source.name  # white, not the hidden colour
        assert abs(right[2] - 90) < 8, source.name


def test_an_animated_gif_uses_its_first_frame_and_says_so(tmp_path: Path) -> None:
    first, second = Image.new("RGB", (400, 300), (250, 20, 20)), Image.new("RGB", (400, 300), (20, 20, 250))
    source = tmp_path / "anim.gif"
    first.save(source, "GIF", save_all=True, append_images=[second], duration=100)
    rendition = adapt_image(source, "x", tmp_path / "out")
    assert rendition.problems == ()
    assert "animated (2 frames): the first frame is used" in rendition.notes
    red, _, blue = _mean(rendition.path)
    assert red > 200 > 50 > blue


def test_the_byte_budget_is_met_by_quality_then_pixels_on_the_libvips_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = tmp_path / "noise.jpg"
    Image.frombytes("RGB", (3200, 1800), os.urandom(3200 * 1800 * 3)).save(source, "JPEG", quality=95)
    spec = SPECS["x"].image
    assert spec is not None
    unbounded = adapt_image(source, "x", tmp_path / "a")
    assert (unbounded.width, unbounded.height, unbounded.quality) == (1600, 900, 92)
    # a budget that a lower quality meets: the decode runs again (a file read in sequence
    # cannot be read twice) and the quality is searched, the pixels kept
    monkeypatch.setitem(SPECS, "x", replace(SPECS["x"], image=replace(spec, max_bytes=unbounded.bytes * 2 // 3)))
    searched = adapt_image(source, "x", tmp_path / "b")
    assert searched.bytes <= unbounded.bytes * 2 // 3
    assert searched.quality is not None
    assert 60 <= searched.quality < 92
    assert (searched.width, searched.height) == (1600, 900)
    assert searched.problems == ()
    # too tight for any acceptable quality: only then smaller pixels
    monkeypatch.setitem(SPECS, "x", replace(SPECS["x"], image=replace(spec, max_bytes=unbounded.bytes // 8)))
    squeezed = adapt_image(source, "x", tmp_path / "c")
    assert squeezed.bytes <= unbounded.bytes // 8
    assert squeezed.width < 1600
    assert squeezed.width / squeezed.height == pytest.approx(16 / 9, rel=0.01)


def test_a_file_truncated_halfway_is_refused_not_rendered_grey(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    Image.frombytes("RGB", (2400, 1600), os.urandom(2400 * 1600 * 3)).save(buffer, "JPEG")
    source = tmp_path / "half.jpg"
    source.write_bytes(buffer.getvalue()[: len(buffer.getvalue()) * 6 // 10])
    for channel in CHANNELS:
        with pytest.raises(InvalidMedia, match=r"half\.jpg: the image is damaged or truncated"):
            adapt_image(source, channel, tmp_path / "out")
        # also with a focal point given, when nothing decoded the file before the rendition
        with pytest.raises(InvalidMedia, match=r"half\.jpg: the image is damaged or truncated"):
            adapt_image(source, channel, tmp_path / "out", focus=(0.5, 0.5))


def test_the_focal_point_is_found_once_per_source_and_the_same_whichever_channel_comes_first(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    image = Image.new("RGB", (4000, 3000), (15, 15, 25))
    draw = ImageDraw.Draw(image)
    for ring in range(10):  # a detailed bright subject near the right edge
        x, y = 3300 + ring * 20, 1200 + ring * 20
        draw.ellipse([x, y, x + 500 - ring * 40, y + 500 - ring * 40], outline=(255, 240, 200), width=8)
    source = tmp_path / "subject-right.jpg"
    image.save(source, quality=90)
    calls: list[tuple[int, int]] = []
    real = framing.find_focus

    def counted(small: Image.Image) -> tuple[float, float]:
        calls.append(small.size)
        return real(small)

    monkeypatch.setattr(raster, "find_focus", counted)
    found = {}
    for first in CHANNELS:
        raster._focus_cache.clear()
        renditions = [adapt_image(source, channel, tmp_path / "out") for channel in [first, *CHANNELS]]
        assert len(calls) == 1  # one search for five renditions
        calls.clear()
        assert len({rendition.focus for rendition in renditions}) == 1
        found[first] = renditions[0].focus
        assert all(rendition.problems == () for rendition in renditions)
    assert len(set(found.values())) == 1, found  # the same point, so the same file names
    assert next(iter(found.values()))[0] > 0.8


def test_the_first_rendition_of_a_source_is_the_same_from_the_kept_decode_as_from_the_file(tmp_path: Path) -> None:
    source = tmp_path / "photo.jpg"
    _scene((6000, 4000)).save(source, quality=90)  # decoded at 1/2 for the focal point and for X
    cold = adapt_image(source, "x", tmp_path / "cold")  # from the image the focal point was found on
    warm = adapt_image(source, "x", tmp_path / "warm")  # streamed from the file
    assert cold.path.name == warm.path.name
    assert cold.path.read_bytes() == warm.path.read_bytes()


def test_the_decompression_bomb_limit_is_checked_before_decoding(tmp_path: Path) -> None:
    source = tmp_path / "wide.png"
    Image.new("1", (16_000, 4_500)).save(source)  # 72 MP: just over the limit, a few KB on disk
    with pytest.raises(InvalidMedia, match=r"wide.png: 16000x4500 is 72,000,000 pixels, over the limit of 64,000,000"):
        adapt_image(source, "x", tmp_path / "out")


def test_a_sources_channels_rendered_together_decode_it_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    source = tmp_path / "photo.jpg"
    _scene((6000, 4000)).save(source, quality=90)
    loads: list[int] = []
    real = raster._load

    def counted(header: raster.Header, shrink: int, *, sequential: bool) -> object:
        loads.append(shrink)
        return real(header, shrink, sequential=sequential)

    monkeypatch.setattr(raster, "_load", counted)
    apart = [adapt_image(source, channel, tmp_path / "apart") for channel in CHANNELS]
    # one publication per channel: the focal point's decode serves the first, then one each
    assert loads == [2, 4, 2, 4]  # 1/2 for 1600 and 1920 px outputs, 1/4 for 1200 and 1280
    loads.clear()
    raster._focus_cache.clear()
    together = adapt_images(source, CHANNELS, tmp_path / "together")
    assert loads == [2]  # one decode for all four
    for one, other in zip(apart, together, strict=True):
        assert other.path.name == one.path.name  # the same recipe, so the same content address
        assert (other.width, other.height, other.focus, other.problems) == (one.width, one.height, one.focus, ())
    assert not raster._pinned  # and the decoded image is not kept afterwards


def test_adapt_all_renders_an_images_channels_together(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first, second = tmp_path / "a.jpg", tmp_path / "b.png"
    _scene((3000, 2000)).save(first, quality=90)
    _scene((1200, 1600)).save(second)
    loads: list[Path] = []
    real = raster._load

    def counted(header: raster.Header, shrink: int, *, sequential: bool) -> object:
        loads.append(header.path)
        return real(header, shrink, sequential=sequential)

    monkeypatch.setattr(raster, "_load", counted)
    renditions = adapt_all([first, second], ["x", "linkedin", "tiktok"], tmp_path / "out")
    assert loads == [first, second]
    assert [(Path(r.source).name, r.channel) for r in renditions] == [
        (name, channel) for name in ("a.jpg", "b.png") for channel in ("x", "linkedin", "tiktok")
    ]
    assert all(r.problems == () for r in renditions)


def test_a_still_video_is_made_from_the_upright_image(tmp_path: Path) -> None:
    exif = Image.Exif()
    exif[0x0112] = 6  # stored 1200x800, shown 800x1200
    source = tmp_path / "turned.jpg"
    _scene((1200, 800)).save(source, "JPEG", exif=exif)
    still = next(r for r in adapt(source, "youtube", tmp_path / "out", shorts=False) if r.kind == "video")
    assert (still.width, still.height) == (1920, 1080)
    frame = frame_at(still.path, 1.0)
    assert frame is not None
    # 720x1080 in the middle of the 16:9 frame, black either side: upright, not lying down
    assert max(frame.getpixel((300, 540))) < 20  # type: ignore[arg-type]
    assert max(frame.getpixel((1620, 540))) < 20  # type: ignore[arg-type]
    assert frame.getpixel((960, 100)) != frame.getpixel((300, 100))
