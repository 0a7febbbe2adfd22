"""Image renditions: every input is generated here, every output re-opened and checked."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
from PIL import Image, ImageCms, ImageDraw

from media.framing import crop_box, find_focus
from media.images import encode, read_image
from media.renditions import adapt_image, check_rendition, image_spec
from media.specs import SPECS
from scheduler.errors import InvalidMedia
from tests.helpers import Run

CHANNELS = ["x", "linkedin", "tiktok", "youtube"]


def _noise(size: tuple[int, int]) -> Image.Image:
    return Image.frombytes("RGB", size, os.urandom(size[0] * size[1] * 3))


def _scene(size: tuple[int, int] = (1600, 1000)) -> Image.Image:
    image = Image.new("RGB", size, (30, 60, 90))
    draw = ImageDraw.Draw(image)
    draw.ellipse([size[0] // 3, size[1] // 4, size[0] * 2 // 3, size[1] * 3 // 4], fill=(220, 180, 40))
    return image


def make_inputs(folder: Path) -> dict[str, Path]:
    """One file per format and oddity the issue lists."""
    folder.mkdir(parents=True, exist_ok=True)
    files: dict[str, Path] = {}

    def save(name: str, image: Image.Image, fmt: str, **options: object) -> None:
        files[name] = folder / name
        image.save(files[name], fmt, **options)

    scene = _scene()
    save("plain.jpg", scene, "JPEG", quality=90)
    save("progressive.jpg", scene, "JPEG", progressive=True)
    save("cmyk.jpg", scene.convert("CMYK"), "JPEG")
    save("png-rgba.png", scene.convert("RGBA"), "PNG")
    save("palette.png", scene.convert("P", palette=Image.Palette.ADAPTIVE), "PNG", transparency=0)
    grey16 = Image.new("I;16", (800, 600))
    grey16.putdata([x * 65535 // 799 for _ in range(600) for x in range(800)])  # a full 16-bit ramp
    save("grey16.png", grey16, "PNG")
    save("photo.webp", scene, "WEBP")
    frames = [_scene((400, 300)), _scene((400, 300)).rotate(20)]
    save("animated.gif", frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100)
    save("scan.tiff", scene, "TIFF")
    save("panorama.jpg", _scene((12000, 400)), "JPEG")
    save("strip.jpg", _scene((400, 12000)), "JPEG")
    save("tiny.png", _scene((12, 9)), "PNG")
    save("huge-noise.jpg", _noise((5000, 3500)), "JPEG", quality=98)  # ~13 MB: over X's 5 MB
    # an upright photo stored sideways, with EXIF orientation 6 and a GPS position
    exif = Image.Exif()
    exif[0x0112] = 6
    exif[0x8825] = {1: "N", 2: (46.0, 14.0, 0.0), 3: "E", 4: (6.0, 3.0, 0.0)}
    save("rotated-gps.jpg", _scene((1200, 800)), "JPEG", exif=exif)
    # colours tagged with an ICC profile, converted to sRGB and the profile dropped
    save("with-icc.jpg", scene, "JPEG", icc_profile=ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes())
    return files


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return make_inputs(tmp_path_factory.mktemp("inputs"))


@pytest.mark.parametrize("channel", CHANNELS)
@pytest.mark.parametrize("mode", ["crop", "pad", "fit"])
def test_every_input_yields_a_compliant_rendition(
    inputs: dict[str, Path], tmp_path: Path, channel: str, mode: str
) -> None:
    _, spec = image_spec(channel)
    # every oddity in crop mode; the shapes that stress padding and fitting in the other two
    names = inputs if mode == "crop" else ["plain.jpg", "panorama.jpg", "strip.jpg", "tiny.png", "png-rgba.png"]
    for name in names:
        path = inputs[name]
        rendition = adapt_image(path, channel, tmp_path, mode=mode)
        assert rendition.problems == (), (name, rendition.problems)
        with Image.open(rendition.path) as out:
            assert out.format == spec.output
            assert out.mode == "RGB"
            assert len(out.getexif()) == 0, name  # no EXIF, no GPS
            assert out.size == (rendition.width, rendition.height)
        assert rendition.path.stat().st_size <= spec.max_bytes


def test_rotated_photo_is_turned_upright_and_loses_its_gps(inputs: dict[str, Path], tmp_path: Path) -> None:
    source = read_image(inputs["rotated-gps.jpg"])
    assert source.image.size == (800, 1200)  # stored 1200x800, orientation 6 = rotate 90
    rendition = adapt_image(inputs["rotated-gps.jpg"], "linkedin", tmp_path, mode="fit")
    assert rendition.height > rendition.width
    raw = rendition.path.read_bytes()
    assert b"Exif" not in raw[:4096]
    assert b"GPS" not in raw


def test_the_byte_budget_is_met_by_quality_before_pixels() -> None:
    noise = _noise((1600, 900))
    at_92 = len(encode(noise, "JPEG", 50 * 1024 * 1024).data)
    budget = at_92 * 2 // 3
    fitted = encode(noise, "JPEG", budget)
    assert len(fitted.data) <= budget
    assert fitted.quality is not None
    assert 60 <= fitted.quality < 92  # the quality was searched down
    assert fitted.size == (1600, 900)  # and the pixels kept
    squeezed = encode(noise, "JPEG", at_92 // 8)  # too tight for any acceptable quality
    assert len(squeezed.data) <= at_92 // 8
    assert squeezed.size[0] < 1600  # only then are pixels given up


def test_an_image_over_a_channel_byte_limit_is_brought_under_it(inputs: dict[str, Path], tmp_path: Path) -> None:
    assert inputs["huge-noise.jpg"].stat().st_size > SPECS["x"].image.max_bytes  # type: ignore[union-attr]
    rendition = adapt_image(inputs["huge-noise.jpg"], "x", tmp_path, mode="fit")
    assert rendition.bytes <= SPECS["x"].image.max_bytes  # type: ignore[union-attr]


def test_nothing_is_upscaled_past_the_source_except_to_a_platform_minimum(
    inputs: dict[str, Path], tmp_path: Path
) -> None:
    tiny_x = adapt_image(inputs["tiny.png"], "x", tmp_path, mode="pad")
    assert tiny_x.width <= 16
    tiny_youtube = adapt_image(inputs["tiny.png"], "youtube", tmp_path)
    assert tiny_youtube.width >= 640  # YouTube thumbnails must be at least 640 wide


def test_extreme_aspects_are_cropped_in_fit_mode_with_a_note(inputs: dict[str, Path], tmp_path: Path) -> None:
    rendition = adapt_image(inputs["panorama.jpg"], "linkedin", tmp_path, mode="fit")
    assert rendition.width / rendition.height == pytest.approx(2.4, rel=0.01)
    assert any("outside what linkedin shows" in note for note in rendition.notes)


def test_sixteen_bit_grey_keeps_its_tones(inputs: dict[str, Path]) -> None:
    image = read_image(inputs["grey16.png"]).image
    low, high = image.convert("L").getextrema()
    assert low < 10
    assert high > 240  # not clipped to white by a naive 16 -> 8 bit conversion


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("truncated.jpg", None, "damaged or truncated"),
        ("notes.jpg", b"this is a text file", "not an image"),
        ("bomb.png", "bomb", "decompression bomb"),
    ],
)
def test_bad_files_are_refused_naming_the_file(tmp_path: Path, name: str, content: object, message: str) -> None:
    path = tmp_path / name
    if content is None:
        buffer = io.BytesIO()
        _scene().save(buffer, "JPEG")
        path.write_bytes(buffer.getvalue()[:2000])
    elif content == "bomb":
        Image.new("1", (20_000, 20_000)).save(path, "PNG")  # 400 megapixels, a few KB on disk
    else:
        assert isinstance(content, bytes)
        path.write_bytes(content)
    with pytest.raises(InvalidMedia, match=f"{name}: .*{message}"):
        adapt_image(path, "x", tmp_path / "out")


def test_a_bright_subject_near_the_edge_stays_in_every_crop(tmp_path: Path) -> None:
    image = Image.new("RGB", (3000, 1000), (15, 15, 25))
    draw = ImageDraw.Draw(image)
    for ring in range(10):  # a detailed bright subject, 200 px wide, near the left edge
        draw.ellipse([120 + ring * 8, 400 + ring * 8, 320 - ring * 8, 600 - ring * 8], outline=(255, 240, 200), width=3)
    path = tmp_path / "subject-left.png"
    image.save(path)
    focus = find_focus(image)
    assert focus[0] < 0.15
    assert 0.4 < focus[1] < 0.6
    for channel in CHANNELS:
        _, spec = image_spec(channel)
        for frame in spec.frames:
            left, top, right, bottom = crop_box(image.size, frame.aspect, focus, spec.focus_target)
            assert left <= 120, (channel, frame)
            assert right >= 320, (channel, frame)
            assert top <= 400, (channel, frame)
            assert bottom >= 600, (channel, frame)
        # and a centre crop would have cut it off: that is what the focal point is for
        centre = crop_box(image.size, 9 / 16, (0.5, 0.5))
        assert centre[0] > 320


def test_a_given_focal_point_wins(inputs: dict[str, Path], tmp_path: Path) -> None:
    rendition = adapt_image(inputs["panorama.jpg"], "tiktok", tmp_path, focus=(0.9, 0.5))
    assert rendition.focus == (0.9, 0.5)


def test_check_rendition_catches_a_non_compliant_file(tmp_path: Path) -> None:
    _, spec = image_spec("tiktok")
    wrong = tmp_path / "wrong.png"
    _scene((1000, 1000)).save(wrong, "PNG")
    problems = check_rendition(wrong, spec, "crop")
    assert any("format PNG" in p for p in problems)
    assert any("aspect" in p for p in problems)


def test_cli_adapt_json_and_sheet(inputs: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "scheduler.cli",
            "media",
            "adapt",
            str(inputs["plain.jpg"]),
            str(inputs["strip.jpg"]),
            "--channel",
            "all",
            "--out",
            str(out),
            "--json",
            "--sheet",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    renditions = json.loads(result.stdout)
    assert len(renditions) == 10  # 2 files x 4 channels, plus a still video per file for YouTube
    assert {r["channel"] for r in renditions} == set(CHANNELS)
    assert sum(r["kind"] == "video" for r in renditions) == 2
    for rendition in renditions:
        assert {
            "source",
            "channel",
            "kind",
            "path",
            "format",
            "width",
            "height",
            "bytes",
            "problems",
        } <= rendition.keys()
        assert rendition["problems"] == []
        assert Path(rendition["path"]).exists()
    assert (out / "contact-sheet.png").exists()


def test_cli_adapt_refuses_bad_input_with_a_message(tmp_path: Path) -> None:
    fake = tmp_path / "fake.jpg"
    fake.write_text("hello")
    result = subprocess.run(
        [sys.executable, "-m", "scheduler.cli", "media", "adapt", str(fake), "--out", str(tmp_path / "o")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "fake.jpg: not an image" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_tiny_image_gives_a_youtube_thumbnail_of_exactly_the_minimum(cli: Run, tmp_path: Path) -> None:
    tiny = tmp_path / "icon.png"
    _scene((40, 40)).save(tiny, "PNG")
    result = cli("media", "adapt", str(tiny), "--channel", "youtube", "--out", str(tmp_path / "out"), "--json")
    assert result.returncode == 0, result.stderr
    thumbnail = next(r for r in json.loads(result.stdout) if r["kind"] == "thumbnail")
    # YouTube's minimum width is 640: 16:9 at exactly that (the 40x40 source once gave 626x352)
    assert (thumbnail["width"], thumbnail["height"]) == (640, 360)
    assert thumbnail["problems"] == []
    assert any("upscaled from 40 px wide to youtube's minimum of 640" in note for note in thumbnail["notes"])
    with Image.open(thumbnail["path"]) as out:
        assert out.size == (640, 360)


def test_squeezing_under_a_byte_limit_never_goes_below_the_minimum_width() -> None:
    noise = _noise((700, 394))
    with pytest.raises(InvalidMedia, match="under 20000 bytes at 640 px wide, the platform's minimum"):
        encode(noise, "JPEG", 20_000, min_width=640)
    assert encode(noise, "JPEG", 20_000).size[0] < 640  # what it did without the minimum


def test_cli_adapt_exits_non_zero_when_a_rendition_breaks_its_platforms_rules(
    cli: Run, inputs: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # rules no file can meet (at most 600 px on the long side, at least 640 wide): every
    # YouTube thumbnail has a problem, and the command must not report success
    youtube = SPECS["youtube"]
    assert youtube.thumbnail is not None
    monkeypatch.setitem(SPECS, "youtube", replace(youtube, thumbnail=replace(youtube.thumbnail, max_side=600)))
    out = tmp_path / "out"
    table = cli("media", "adapt", str(inputs["plain.jpg"]), "--channel", "youtube", "--out", str(out))
    assert table.returncode == 1
    assert "640 px on the long side, over 600" in table.stdout  # the problems column, every rendition printed
    assert "1 of 2 renditions break their platform's rules: plain.jpg for youtube (thumbnail)" in table.stderr
    as_json = cli("media", "adapt", str(inputs["plain.jpg"]), "--channel", "youtube", "--out", str(out), "--json")
    assert as_json.returncode == 1
    printed = json.loads(as_json.stdout)
    assert [r["kind"] for r in printed if r["problems"]] == ["thumbnail"]
    fine = cli("media", "adapt", str(inputs["plain.jpg"]), "--channel", "x", "--out", str(out))
    assert fine.returncode == 0, fine.stderr
