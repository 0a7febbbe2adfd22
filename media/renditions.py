"""One source image in, a rendition per channel out, each checked again against the spec table.

Renditions are content-addressed: the file name is a hash of the source bytes, the spec and the
framing, so the same request never renders twice and a changed spec never reuses a stale file.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyvips  # type: ignore[import-untyped]  # pyvips ships no type information
from PIL import Image, ImageDraw

from media import raster
from media.files import file_sha256, sniff_video
from media.framing import Focus, closest_frame, crop_box, pad, scale_for, scaled_size
from media.images import MAX_INPUT_BYTES, MAX_PIXELS, MIN_SIDE, Encoded, encode
from media.specs import SPECS, Frame, ImageSpec, VideoSpec
from media.video import VideoRendition, check_video, frame_at, inspect, still_video, transcode
from scheduler.errors import InvalidInput, InvalidMedia

MODES = ("crop", "pad", "fit")
ASPECT_TOLERANCE = 0.01  # 1%: rounding to whole pixels moves an aspect by less than that
# the narrowest aspect kept in "fit" mode when a video must stay wider than tall (no Short):
# 1% above square, so rounding to even pixels cannot make it square
WIDER = 1.01
_EXTENSIONS = {"JPEG": ".jpg", "WEBP": ".webp", "PNG": ".png"}


@dataclass(frozen=True)
class Rendition:
    source: str
    channel: str
    kind: str  # "image", or "thumbnail" for YouTube
    path: Path
    format: str
    width: int
    height: int
    bytes: int
    mode: str
    focus: Focus
    quality: int | None
    problems: tuple[str, ...]
    notes: tuple[str, ...] = field(default=())
    duration: float | None = None
    fps: float | None = None

    def as_dict(self) -> dict[str, object]:
        return {
            "source": self.source,
            "channel": self.channel,
            "kind": self.kind,
            "path": str(self.path),
            "format": self.format,
            "width": self.width,
            "height": self.height,
            "bytes": self.bytes,
            "mode": self.mode,
            "focus": [round(self.focus[0], 3), round(self.focus[1], 3)],
            "quality": self.quality,
            "problems": list(self.problems),
            "notes": list(self.notes),
            "duration": self.duration,
            "fps": self.fps,
        }


def image_spec(platform: str) -> tuple[str, ImageSpec]:
    spec = SPECS.get(platform)
    if spec is None or (spec.image is None and spec.thumbnail is None):
        known = sorted(name for name, entry in SPECS.items() if entry.image or entry.thumbnail)
        raise InvalidInput(f"no image rendition for channel {platform!r}; known: {', '.join(known)}, all")
    if spec.image is not None:
        return "image", spec.image
    assert spec.thumbnail is not None
    return "thumbnail", spec.thumbnail


def adapt_image(
    source: Path,
    platform: str,
    out_dir: Path,
    *,
    mode: str = "crop",
    focus: Focus | None = None,
    background: str = "blur",
) -> Rendition:
    """``source`` rendered for ``platform``'s image (or YouTube's thumbnail).

    On libvips (``media.raster``): the header is checked before anything is decoded, the subject
    found once per source file (for every channel and publication it goes to), and the crop
    decoded at the smallest scale that still holds the output's pixels, resized and encoded in one
    streaming pass. Padding composes its canvas with Pillow, on the already scaled image."""
    if mode not in MODES:
        raise InvalidInput(f"unknown mode {mode!r}; use {', '.join(MODES)}")
    if focus is not None and not all(0.0 <= value <= 1.0 for value in focus):
        raise InvalidInput(f"focus {focus} must be two numbers between 0 and 1 (x, y)")
    kind, spec = image_spec(platform)
    loaded = raster.header(source, max_bytes=MAX_INPUT_BYTES, max_pixels=MAX_PIXELS, min_side=MIN_SIDE)
    subject = focus if focus is not None else raster.focus_of(loaded)
    notes = list(loaded.notes)
    try:
        if mode == "pad":
            encoded = _padded(loaded, spec, platform, background, notes)
        else:
            encoded = _cropped(loaded, spec, platform, mode, subject, notes)
    except pyvips.Error as exc:  # what a damaged file raises once its pixels are decoded
        raise raster.refusal(source, exc) from None
    path = out_dir / f"{platform}-{kind}-{_digest(source, (spec, mode, subject, background))}{_EXTENSIONS[spec.output]}"
    _write_atomically(path, encoded.data)
    return Rendition(
        source=str(source),
        channel=platform,
        kind=kind,
        path=path,
        format=spec.output,
        width=encoded.size[0],
        height=encoded.size[1],
        bytes=len(encoded.data),
        mode=mode,
        focus=subject,
        quality=encoded.quality,
        problems=tuple(check_rendition(path, spec, mode)),
        notes=tuple(notes),
    )


def adapt_images(
    source: Path,
    platforms: list[str],
    out_dir: Path,
    *,
    mode: str = "crop",
    focus: Focus | None = None,
    background: str = "blur",
) -> list[Rendition]:
    """``adapt_image`` for each of ``platforms``, rendered together: the source is decoded once
    (at the scale its focal point is found at, enough for every channel) and every channel's
    crop is taken from that. The same files as ``adapt_image``, for one decode instead of one
    per channel; the decoded image is dropped on return."""
    loaded = raster.header(source, max_bytes=MAX_INPUT_BYTES, max_pixels=MAX_PIXELS, min_side=MIN_SIDE)
    try:
        with raster.decoded_once(loaded):
            return [
                adapt_image(source, platform, out_dir, mode=mode, focus=focus, background=background)
                for platform in platforms
            ]
    except pyvips.Error as exc:
        raise raster.refusal(source, exc) from None


def _cropped(
    loaded: raster.Header, spec: ImageSpec, platform: str, mode: str, subject: Focus, notes: list[str]
) -> Encoded:
    """Crop (around the subject) or fit: every size worked out from the header, then one libvips
    pipeline from the file to the JPEG."""
    size = loaded.size
    frame = closest_frame(size, spec)
    if mode == "fit":
        low, high = spec.fit_aspect
        aspect = size[0] / size[1]
        box = (0, 0, *size)
        if not low - 1e-9 <= aspect <= high + 1e-9:
            bound = low if aspect < low else high
            notes.append(f"aspect {aspect:.2f} is outside what {platform} shows uncropped; cropped to {bound:.2f}")
            box = crop_box(size, _frame_of(bound, frame).aspect, subject, spec.focus_target)
        frame = _frame_within((box[2] - box[0], box[3] - box[1]), frame)
    else:
        box = crop_box(size, frame.aspect, subject, spec.focus_target)
    box_size = (box[2] - box[0], box[3] - box[1])
    scaled = scaled_size(box_size, frame, spec)
    if scaled[0] > box_size[0]:  # scaled_size upscales only to a platform minimum
        notes.append(f"upscaled from {box_size[0]} px wide to {platform}'s minimum of {spec.min_width}")
    # rounding (and upscaling a tiny source to a platform minimum) can leave the aspect a few
    # pixels off; trim them so the platform gets exactly its frame, or its accepted range
    low, high = spec.fit_aspect if mode == "fit" else (frame.aspect, frame.aspect)
    wanted = min(max(scaled[0] / scaled[1], low), high)
    left, top, right, bottom = crop_box(scaled, wanted, (0.5, 0.5))
    # that trim can take a few pixels off a source upscaled to exactly the minimum width (a
    # 40x40 image became 640x352, trimmed to 626x352): then it is sized to the minimum directly
    exact = (spec.min_width, max(1, round(spec.min_width / wanted))) if right - left < spec.min_width else None

    def build() -> Any:
        image = raster.render(loaded, box, scaled)
        if (left, top, right, bottom) != (0, 0, *scaled):
            image = image.crop(left, top, right - left, bottom - top)
        if exact is not None:
            resized = image.resize(exact[0] / image.width, vscale=exact[1] / image.height, kernel="lanczos3")
            image = raster.exactly(resized, exact)
        return image

    if spec.output != "JPEG":  # every channel renders JPEG today; any other format goes through Pillow
        return encode(raster.to_pil(build()), spec.output, spec.max_bytes, min_width=spec.min_width)
    return raster.encode_jpeg(build, spec.max_bytes, min_width=spec.min_width)


def _padded(loaded: raster.Header, spec: ImageSpec, platform: str, background: str, notes: list[str]) -> Encoded:
    """The whole image inside the frame's aspect: libvips scales it down, Pillow pads it."""
    width, height = loaded.size
    frame = closest_frame(loaded.size, spec)
    factor = min(1.0, frame.width / width, frame.height / height)
    fitted = (max(1, round(width * factor)), max(1, round(height * factor)))
    image = pad(raster.to_pil(raster.render(loaded, (0, 0, width, height), fitted, keep_alpha=True)), frame, background)
    before = image.width
    image = scale_for(image, frame, spec)
    if image.width > before:  # scale_for upscales only to a platform minimum
        notes.append(f"upscaled from {before} px wide to {platform}'s minimum of {spec.min_width}")
    wanted = frame.aspect
    image = image.crop(crop_box(image.size, wanted, (0.5, 0.5)))
    if image.width < spec.min_width:
        size = (spec.min_width, max(1, round(spec.min_width / wanted)))
        image = image.resize(size, Image.Resampling.LANCZOS)
    return encode(image, spec.output, spec.max_bytes, min_width=spec.min_width)


def is_video(path: Path) -> bool:
    return sniff_video(path) is not None


def adapt(
    source: Path,
    platform: str,
    out_dir: Path,
    *,
    mode: str = "crop",
    focus: Focus | None = None,
    allow_trim: bool = False,
    shorts: bool = True,
) -> list[Rendition]:
    """Every rendition ``platform`` needs from ``source``: the image, or the video with its cover
    and (YouTube) thumbnail, or (YouTube, given an image) a still video and a thumbnail.

    ``shorts=False`` (a YouTube channel's ``shorts`` option): a vertical source is rendered in the
    landscape frame like any other, so that YouTube does not make it a Short."""
    if not source.is_file():
        raise InvalidMedia(f"{source}: no such file")
    spec = SPECS.get(platform)
    if spec is None:
        image_spec(platform)  # raises, listing the known channels
    assert spec is not None
    if not is_video(source):
        renditions = [adapt_image(source, platform, out_dir, mode=mode, focus=focus)]
        if spec.media.image_becomes_video and spec.video is not None:
            size = upright_size(source)
            video_spec = frame_for(spec.video, size, shorts=shorts)
            renditions.append(_still(renditions[0], source, platform, video_spec, out_dir))
        return renditions
    if spec.video is None:
        raise InvalidInput(f"{platform} takes no video")
    info = inspect(source)  # refuses a video over the limits before a frame is decoded
    video_spec = frame_for(spec.video, (info.width, info.height), shorts=shorts)
    return _adapt_video(source, platform, video_spec, out_dir, mode=mode, focus=focus, allow_trim=allow_trim)


def frame_for(spec: VideoSpec, size: tuple[int, int], *, shorts: bool = True) -> VideoSpec:
    """``spec`` with the frame a source of ``size`` is rendered in: the platform's vertical frame
    for a vertical source (YouTube: 9:16, a Short), so that nothing is cropped away; otherwise
    ``spec.frame``. With ``shorts=False`` every rendition is kept wider than tall, also in
    ``fit`` mode: YouTube makes every vertical or square video of up to 3 minutes a Short."""
    if spec.vertical_frame is None:
        return spec
    if not shorts:
        return dataclasses.replace(spec, vertical_frame=None, aspect=(max(spec.aspect[0], WIDER), spec.aspect[1]))
    width, height = size
    if width < height:
        return dataclasses.replace(spec, frame=spec.vertical_frame)
    return spec


def upright_size(path: Path) -> tuple[int, int]:
    """An image's size as shown: EXIF orientations 5 to 8 turn it by 90 degrees."""
    with Image.open(path) as image:
        turned = image.getexif().get(0x0112) in (5, 6, 7, 8)
        return (image.height, image.width) if turned else image.size


def adapt_all(
    sources: list[Path],
    platforms: list[str],
    out_dir: Path,
    *,
    mode: str = "crop",
    focus: Focus | None = None,
    allow_trim: bool = False,
    shorts: bool = True,
) -> list[Rendition]:
    """Every source for every platform, in order. Each image is decoded, and its subject found,
    once for all platforms (``raster.decoded_once``, as ``adapt_images``)."""
    renditions: list[Rendition] = []
    for source in sources:
        together: contextlib.AbstractContextManager[None] = contextlib.nullcontext()
        if all(name in SPECS for name in platforms) and source.is_file() and not is_video(source):
            loaded = raster.header(source, max_bytes=MAX_INPUT_BYTES, max_pixels=MAX_PIXELS, min_side=MIN_SIDE)
            together = raster.decoded_once(loaded)
        with together:
            for platform in platforms:
                renditions += adapt(
                    source, platform, out_dir, mode=mode, focus=focus, allow_trim=allow_trim, shorts=shorts
                )
    return renditions


def _adapt_video(
    source: Path,
    platform: str,
    spec: VideoSpec,
    out_dir: Path,
    *,
    mode: str,
    focus: Focus | None,
    allow_trim: bool,
) -> list[Rendition]:
    digest = _digest(source, (spec, mode, focus, allow_trim))
    path = out_dir / f"{platform}-video-{digest}.mp4"
    label = SPECS[platform].label
    video = transcode(source, spec, path, mode=mode, focus=focus, allow_trim=allow_trim, label=label)
    notes = [f"trimmed to {spec.duration[1]:g} s"] if video.trimmed else []
    notes += _shorts_notes(spec, video)
    renditions = [_from_video(source, platform, video, spec, mode=mode, focus=video.focus, notes=notes)]
    cover = frame_at(path, video.duration / 3)
    if cover is not None:
        cover_path = out_dir / f"{platform}-cover-{digest}.jpg"
        encoded = encode(cover, "JPEG", 5 * 1024 * 1024)
        _write_atomically(cover_path, encoded.data)
        renditions.append(
            Rendition(
                source=str(source),
                channel=platform,
                kind="cover",
                path=cover_path,
                format="JPEG",
                width=encoded.size[0],
                height=encoded.size[1],
                bytes=len(encoded.data),
                mode=mode,
                focus=video.focus,
                quality=encoded.quality,
                problems=(),
            )
        )
        if SPECS[platform].thumbnail is not None:
            thumbnail = adapt_image(cover_path, platform, out_dir, mode="crop")
            renditions.append(dataclasses.replace(thumbnail, source=str(source)))
    return renditions


def _still(thumbnail: Rendition, source: Path, platform: str, spec: VideoSpec, out_dir: Path) -> Rendition:
    path = out_dir / f"{platform}-still-{_digest(source, (spec,))}.mp4"
    video = still_video(source, spec, path)
    notes = ["a still video made from the image", *_shorts_notes(spec, video)]
    return _from_video(source, platform, video, spec, mode="pad", focus=thumbnail.focus, notes=notes)


def _shorts_notes(spec: VideoSpec, video: VideoRendition) -> list[str]:
    """What YouTube will make of the rendition: Shorts are vertical or square and at most
    ``shorts_max_duration`` long (the adapter links them the same way)."""
    limit = spec.shorts_max_duration
    if limit is None or video.width > video.height:
        return []
    shape = "square" if video.width == video.height else "vertical"
    if video.duration <= limit:
        return [f"{shape} and {video.duration:.0f} s (a Short is at most {limit:g} s): YouTube shows it as a Short"]
    return [f"{shape} but {video.duration:.0f} s, over a Short's {limit:g} s: YouTube shows it as a normal video"]


def _from_video(
    source: Path, platform: str, video: VideoRendition, spec: VideoSpec, *, mode: str, focus: Focus, notes: list[str]
) -> Rendition:
    return Rendition(
        source=str(source),
        channel=platform,
        kind="video",
        path=video.path,
        format="MP4",
        width=video.width,
        height=video.height,
        bytes=video.bytes,
        mode=mode,
        focus=focus,
        quality=None,
        problems=tuple(check_video(video.path, spec, mode)),
        notes=tuple(notes),
        duration=video.duration,
        fps=video.fps,
    )


def _digest(source: Path, recipe: object) -> str:
    return hashlib.sha256(f"{file_sha256(source)}:{recipe!r}".encode()).hexdigest()[:20]


def _frame_of(aspect: float, like: Frame) -> Frame:
    return Frame(width=round(like.height * aspect), height=like.height)


def _frame_within(size: tuple[int, int], frame: Frame) -> Frame:
    """Keep the image's own aspect (``size``), bounded by the frame's longer side."""
    width, height = size
    longest = max(frame.width, frame.height)
    factor = min(1.0, longest / max(width, height))
    return Frame(width=max(1, round(width * factor)), height=max(1, round(height * factor)))


def _write_atomically(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=path.parent, delete=False) as staging:
        staging.write(data)
    os.replace(staging.name, path)


def check_rendition(path: Path, spec: ImageSpec, mode: str) -> list[str]:
    """Re-open a rendition and list every way it breaks ``spec``; empty when it complies."""
    problems: list[str] = []
    size = path.stat().st_size
    with Image.open(path) as image:
        width, height = image.size
        if image.format != spec.output:
            problems.append(f"format {image.format}, expected {spec.output}")
        if image.mode not in ("RGB", "L"):
            problems.append(f"colour mode {image.mode}, expected RGB")
        if len(image.getexif()) or image.info.get("icc_profile") or image.info.get("xmp"):
            problems.append("metadata left in the file (EXIF, ICC or XMP)")
    if size > spec.max_bytes:
        problems.append(f"{size} bytes, over the limit of {spec.max_bytes}")
    if spec.max_pixels and width * height > spec.max_pixels:
        problems.append(f"{width * height} pixels, over the limit of {spec.max_pixels}")
    if spec.max_side and max(width, height) > spec.max_side:
        problems.append(f"{max(width, height)} px on the long side, over {spec.max_side}")
    if width < spec.min_width:
        problems.append(f"{width} px wide, under the minimum of {spec.min_width}")
    aspect = width / height
    # whole pixels move a tiny image's aspect by up to about 1/min(side)
    tolerance = max(ASPECT_TOLERANCE, 1 / min(width, height))
    if mode == "fit":
        low, high = spec.fit_aspect
        if not low * (1 - tolerance) <= aspect <= high * (1 + tolerance):
            problems.append(f"aspect {aspect:.3f} outside {low:.3f}-{high:.3f}")
    elif not any(abs(aspect / frame.aspect - 1) <= tolerance for frame in spec.frames):
        wanted = ", ".join(f"{frame.width}:{frame.height}" for frame in spec.frames)
        problems.append(f"aspect {aspect:.3f} is not one of {wanted}")
    return problems


def contact_sheet(renditions: list[Rendition], path: Path, *, row_height: int = 240) -> Path:
    """All renditions side by side, labelled, for a person to look at."""
    columns, margin, label_height = 4, 10, 36
    cell_w, cell_h = row_height * 16 // 9, row_height + label_height
    rows = max(1, -(-len(renditions) // columns))
    sheet = Image.new("RGB", (margin + columns * (cell_w + margin), margin + rows * (cell_h + margin)), (250, 250, 250))
    draw = ImageDraw.Draw(sheet)
    for index, rendition in enumerate(renditions):
        x = margin + (index % columns) * (cell_w + margin)
        y = margin + (index // columns) * (cell_h + margin)
        if rendition.format == "MP4":
            still = frame_at(rendition.path, (rendition.duration or 0) / 3)
            tile = still if still is not None else Image.new("RGB", (16, 9))
        else:
            with Image.open(rendition.path) as image:
                tile = image.convert("RGB")
        tile.thumbnail((cell_w, row_height))
        sheet.paste(tile, (x, y))
        label = (
            f"{rendition.channel} {rendition.kind} {rendition.width}x{rendition.height} {rendition.bytes // 1024} KB"
        )
        draw.text((x, y + row_height + 4), label, fill=(20, 20, 20))
        if rendition.problems:
            draw.text((x, y + row_height + 18), "; ".join(rendition.problems)[:70], fill=(200, 0, 0))
    path.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(path, "PNG")
    return path
