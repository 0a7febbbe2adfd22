"""The rendition hot path on libvips (pyvips): decode at the scale the channel needs, crop, resize
and encode in one streaming pipeline, on every core.

What ``media.images`` guarantees holds here too: the file's header is checked against the pixel
and byte limits before a pixel is decoded (the 64 MP decompression-bomb limit), the image is turned
upright (EXIF), converted to sRGB (ICC, CMYK, 16-bit, greyscale), flattened onto white where the
format has no alpha, and written without any metadata (``keep="none"``); a damaged or truncated
file is refused with the reason (``fail_on="truncated"``), never rendered grey.

JPEG and WebP sources are decoded at 1/2, 1/4 or 1/8 scale when the crop still has at least the
output's pixels at that scale (libjpeg's DCT scaling: the scaled decode is itself a clean
downsample), and the rest of the way with Lanczos 3.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import pyvips  # type: ignore[import-untyped]  # pyvips ships no type information
from PIL import Image

from media.framing import Focus, find_focus
from media.images import DECODE_MIN_SIDE, Encoded
from scheduler.errors import InvalidMedia

Box = tuple[int, int, int, int]  # left, top, right, bottom, in the upright source's pixels

_FOCUS_SIDE = 160  # find_focus looks at a copy this size
_SHRINKS = {"jpegload": (8, 4, 2), "webpload": (8, 4, 2)}  # loaders that decode at a smaller scale
_WHITE = [255, 255, 255]
_FOCUS_CACHE = 256  # focal points kept, by file
_focus_cache: dict[tuple[str, int, int], Focus] = {}
# per thread: the source focus_of last decoded (its key, the shrink, the image), for render
_decoded: dict[int, tuple[tuple[str, int, int], int, Any]] = {}
# per thread: the source decoded_once keeps for every render within it
_pinned: dict[int, tuple[tuple[str, int, int], int, Any]] = {}
_lock = threading.Lock()
# libvips keeps recent operations, decoded images included, for reuse; a worker renders each
# source once per channel and never asks for the same pixels again: keep nothing (measured: the
# same speed, 30-40 MB less at the peak of four 24 MP sources)
pyvips.cache_set_max(0)


@dataclass(frozen=True)
class Header:
    """A source image's facts from its header: nothing decoded yet."""

    path: Path
    width: int  # upright (after the EXIF orientation)
    height: int
    orientation: int
    loader: str
    frames: int
    has_alpha: bool
    key: tuple[str, int, int]  # the file's name, modification time and size

    @property
    def size(self) -> tuple[int, int]:
        return (self.width, self.height)

    @property
    def notes(self) -> tuple[str, ...]:
        notes = []
        if self.orientation in (5, 6, 7, 8):
            notes.append("rotated upright from its EXIF orientation")
        if self.frames > 1:
            notes.append(f"animated ({self.frames} frames): the first frame is used")
        return tuple(notes)


def header(path: Path, *, max_bytes: int, max_pixels: int, min_side: int) -> Header:
    """Open ``path``'s header, or raise InvalidMedia naming the file and what is wrong with it."""
    if not path.is_file():
        raise InvalidMedia(f"{path}: no such file")
    size = path.stat().st_size
    if size > max_bytes:
        raise InvalidMedia(f"{path.name}: {size} bytes is over the input limit of {max_bytes} bytes")
    try:
        image = pyvips.Image.new_from_file(str(path))
        width, height = int(image.width), int(image.height)
        orientation = int(image.get("orientation")) if image.get_typeof("orientation") else 1
        frames = int(image.get("n-pages")) if image.get_typeof("n-pages") else 1
        loader = str(image.get("vips-loader"))
        has_alpha = bool(image.hasalpha())
    except pyvips.Error as exc:
        raise refusal(path, exc) from None
    if width * height > max_pixels:
        raise InvalidMedia(
            f"{path.name}: {width}x{height} is {width * height:,} pixels, over the limit of "
            f"{max_pixels:,} (refused as a possible decompression bomb)"
        )
    if min(width, height) < min_side:
        raise InvalidMedia(
            f"{path.name}: {width}x{height} has a side under {min_side} px, the least crosspost takes for an image"
        )
    if orientation in (5, 6, 7, 8):
        width, height = height, width
    key = (str(path), path.stat().st_mtime_ns, size)
    return Header(path, width, height, orientation, loader, frames, has_alpha, key)


def refusal(path: Path, exc: pyvips.Error) -> InvalidMedia:
    message = str(exc)
    if "not a known file format" in message:
        return InvalidMedia(f"{path.name}: not an image crosspost can read")
    detail = " ".join(line.strip() for line in message.splitlines()[1:] if line.strip())
    return InvalidMedia(f"{path.name}: the image is damaged or truncated ({detail or message.strip()})")


def focus_of(source: Header) -> Focus:
    """The subject's position (``media.framing.find_focus``), found once per source file however
    many channels and publications it is rendered for.

    It is found on the source decoded at the scale ``media.images`` decodes at (at least
    ``DECODE_MIN_SIDE`` on the short side, enough for any channel), whichever channel asks
    first, so the same file always gets the same focal point; that decoded image is kept for
    the ``render`` that follows, so the first rendition of a source costs no second decode."""
    found = _focus_cache.get(source.key)
    if found is not None:
        return found
    shrink = _focus_shrink(source)
    try:
        decoded = _load(source, shrink, sequential=False)
        small = _srgb(decoded.thumbnail_image(_FOCUS_SIDE, height=_FOCUS_SIDE, size="down"))
        if small.hasalpha():
            small = small.extract_band(0, n=3)  # as Pillow's convert("RGB"): the colours, not the mask
        pixels = to_pil(small)
    except pyvips.Error as exc:
        raise refusal(source.path, exc) from None
    found = find_focus(pixels)
    with _lock:
        _focus_cache[source.key] = found
        while len(_focus_cache) > _FOCUS_CACHE:
            del _focus_cache[next(iter(_focus_cache))]
        _decoded[threading.get_ident()] = (source.key, shrink, decoded)
    return found


def _focus_shrink(source: Header) -> int:
    for factor in _SHRINKS.get(source.loader, ()):
        if min(source.width, source.height) / factor >= DECODE_MIN_SIDE:
            return factor
    return 1


@contextlib.contextmanager
def decoded_once(source: Header) -> Iterator[None]:
    """Within this block, every ``render`` of ``source`` (in this thread) crops from one decode of
    it, the one its focal point is found on: a source's channels rendered together."""
    focus_of(source)
    shrink = _focus_shrink(source)
    image = _decoded_for(source, shrink)
    if image is None:  # the focal point was known: nothing decoded yet
        image = _load(source, shrink, sequential=False)
    with _lock:
        _pinned[threading.get_ident()] = (source.key, shrink, image)
    try:
        yield
    finally:
        with _lock:
            _pinned.pop(threading.get_ident(), None)


def _load(source: Header, shrink: int, *, sequential: bool) -> Any:
    """The source decoded at 1/``shrink`` scale (JPEG, WebP), upright."""
    options: dict[str, object] = {"fail_on": "truncated"}
    if shrink > 1 and source.loader == "jpegload":
        options["shrink"] = shrink
    elif shrink > 1:
        options["scale"] = 1 / shrink
    turned = source.orientation not in (0, 1)
    # sequential: decoding streams into the resize on another core; turning needs the whole image
    options["access"] = "sequential" if sequential and not turned else "random"
    image = pyvips.Image.new_from_file(str(source.path), **options)
    return image.autorot() if turned else image


def _decoded_for(source: Header, shrink: int) -> Any | None:
    """The image ``focus_of`` just decoded for this thread, if it is of ``source`` and has at
    least the pixels a decode at 1/``shrink`` would have (taken once: it is not kept)."""
    with _lock:
        kept = _pinned.get(threading.get_ident())
        if kept is None or kept[0] != source.key:
            kept = _decoded.pop(threading.get_ident(), None)
    if kept is None or kept[0] != source.key or kept[1] > shrink:
        return None
    return kept[2]


def render(source: Header, box: Box, size: tuple[int, int], *, keep_alpha: bool = False) -> Any:
    """``box`` of the upright source scaled to ``size``, as a lazy 8-bit sRGB libvips image: RGB,
    or RGBA with ``keep_alpha`` and a source with transparency (otherwise flattened onto white).
    Nothing is decoded until the result is written; pyvips.Error then for a damaged file."""
    left, top, right, bottom = box
    box_w, box_h = right - left, bottom - top
    shrink = 1
    for factor in _SHRINKS.get(source.loader, ()):
        if box_w / factor >= size[0] and box_h / factor >= size[1]:
            shrink = factor
            break
    image = _decoded_for(source, shrink)
    if image is None:
        image = _load(source, shrink, sequential=True)
    # the decoded image may be a pixel short of source/shrink: scale the box to what is there
    scale_x, scale_y = image.width / source.width, image.height / source.height
    x0, y0 = min(image.width - 1, int(left * scale_x)), min(image.height - 1, int(top * scale_y))
    x1, y1 = (
        max(x0 + 1, min(image.width, round(right * scale_x))),
        max(y0 + 1, min(image.height, round(bottom * scale_y))),
    )
    alpha = source.has_alpha and image.hasalpha()
    if alpha:
        # colours first, then the alpha premultiplied through the resize (no dark fringes)
        image = _srgb(image).premultiply()
    if (x0, y0, x1, y1) != (0, 0, image.width, image.height):
        image = image.crop(x0, y0, x1 - x0, y1 - y0)
    if (image.width, image.height) != size:
        image = image.resize(size[0] / image.width, vscale=size[1] / image.height, kernel="lanczos3")
        image = exactly(image, size)
    if alpha:
        image = image.unpremultiply().cast("uchar")
        if not keep_alpha:
            image = image.flatten(background=_WHITE)
    else:
        image = _srgb(image)
    return image


def exactly(image: Any, size: tuple[int, int]) -> Any:
    """Resizing rounds each side: a pixel over is cropped, a pixel under is repeated from the edge."""
    if (image.width, image.height) == size:
        return image
    if image.width >= size[0] and image.height >= size[1]:
        return image.crop(0, 0, size[0], size[1])
    return image.gravity("north-west", size[0], size[1], extend="copy").crop(0, 0, size[0], size[1])


def _srgb(image: Any) -> Any:
    """8-bit sRGB, through the embedded ICC profile when there is one (as Pillow's
    profileToProfile, perceptual intent), or libvips' own conversion (CMYK, 16-bit, grey)."""
    if image.get_typeof("icc-profile-data"):
        with contextlib.suppress(pyvips.Error):  # a broken profile: the plain conversion below
            image = image.icc_transform("srgb", embedded=True, intent="perceptual", depth=8)
    if image.interpretation == "cmyk" and image.bands >= 4:
        # no profile to go by: Pillow's conversion, R = (255 - C)(255 - K) / 255, which the
        # Pillow pipeline used (libvips' fallback press profile shifts such files' colours)
        ink, black = image.extract_band(0, n=3), image.extract_band(3)
        image = ((255 - ink) * (255 - black) / 255).rint().cast("uchar").copy(interpretation="srgb")
    elif image.interpretation != "srgb" or image.format != "uchar":
        image = image.colourspace("srgb")
    if image.format != "uchar":
        image = image.cast("uchar")
    wanted = 4 if image.hasalpha() else 3
    if image.bands > wanted:
        image = image.extract_band(0, n=wanted)
    return image


def to_pil(image: Any) -> Image.Image:
    """Write a libvips image (8-bit sRGB, 3 or 4 bands) into a Pillow image."""
    mode = {3: "RGB", 4: "RGBA", 1: "L"}[int(image.bands)]
    data = image.write_to_memory()
    return Image.frombuffer(mode, (int(image.width), int(image.height)), data, "raw", mode, 0, 1)


def from_pil(image: Image.Image) -> Any:
    """The other way, for images composed with Pillow (padding)."""
    rgb = image if image.mode in ("RGB", "RGBA") else image.convert("RGB")
    bands = 4 if rgb.mode == "RGBA" else 3
    return pyvips.Image.new_from_memory(rgb.tobytes(), rgb.width, rgb.height, bands, "uchar")


def jpeg(image: Any, quality: int) -> bytes:
    """Baseline-compatible progressive JPEG, optimised Huffman tables, 4:2:0, no metadata."""
    data = image.jpegsave_buffer(Q=quality, optimize_coding=True, interlace=True, subsample_mode="on", keep="none")
    return cast(bytes, data)


def encode_jpeg(build: Callable[[], Any], max_bytes: int, *, min_quality: int = 60, min_width: int = 1) -> Encoded:
    """``media.images.encode`` for the libvips image ``build`` makes: quality 92 when it fits (the
    usual case: one streaming pass from the file), else the highest quality that fits, and only
    below ``min_quality`` smaller pixels, never under ``min_width``: refused instead.

    ``build`` is called again for a search: a file decoded in sequence can be read only once."""
    image = build()
    first = jpeg(image, 92)
    if len(first) <= max_bytes:
        return Encoded(first, "JPEG", 92, (int(image.width), int(image.height)))
    image = build().copy_memory()  # decoded once more, then encoded as often as the search needs
    for _ in range(8):
        low, high, best = min_quality, 91, None
        while low <= high:  # binary search for the highest quality that fits
            quality = (low + high) // 2
            data = jpeg(image, quality)
            if len(data) <= max_bytes:
                best, low = Encoded(data, "JPEG", quality, (int(image.width), int(image.height))), quality + 1
            else:
                high = quality - 1
        if best is not None:
            return best
        if image.width <= min_width:
            raise InvalidMedia(
                f"cannot encode the image under {max_bytes} bytes at {min_width} px wide, the platform's minimum"
            )
        # even the lowest acceptable quality is too big: shrink by the ratio that is missing
        data = jpeg(image, min_quality)
        scale = max(0.5, min(0.95, (max_bytes / len(data)) ** 0.5 * 0.95))
        width = max(1, int(image.width * scale))
        if width < min_width:
            width = min_width
        height = max(1, round(image.height * width / image.width))
        image = exactly(
            image.resize(width / image.width, vscale=height / image.height, kernel="lanczos3"), (width, height)
        ).copy_memory()
    raise InvalidMedia(f"cannot encode the image under {max_bytes} bytes")
