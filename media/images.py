"""Reading any image safely into 8-bit sRGB, and encoding it within a byte budget.

Every output is written without EXIF, GPS, XMP or comments: Pillow writes metadata only when
asked, and nothing here asks. Colours are converted to sRGB (honouring an embedded ICC profile)
so that dropping the profile does not shift them.
"""

from __future__ import annotations

import functools
import io
import warnings
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageCms, ImageOps, UnidentifiedImageError

from media.specs import SPECS
from scheduler.errors import InvalidMedia

# 64 megapixels: the largest camera sensors; a bigger "photo" is refused as a decompression bomb.
MAX_PIXELS = 64_000_000
MAX_INPUT_BYTES = 200 * 1024 * 1024
# The smallest image any platform names is X's 4x4 (media.specs): a 1x1 tracking pixel or a
# 4000x2 line is refused when the post is made, not sent to be refused there.
MIN_SIDE = 4
# The largest side any channel renders an image at (TikTok's 1920); JPEGs decode at no less.
DECODE_MIN_SIDE = max(
    max(frame.width, frame.height)
    for spec in SPECS.values()
    for image_spec in (spec.image, spec.thumbnail)
    if image_spec is not None
    for frame in image_spec.frames
)
_SRGB = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))


@dataclass(frozen=True)
class SourceImage:
    image: Image.Image  # RGB or RGBA, 8 bits per channel, sRGB, upright
    format: str
    frames: int
    has_alpha: bool
    notes: tuple[str, ...]

    @functools.cached_property
    def focus(self) -> tuple[float, float]:
        """The subject's position, found once per source however many channels it goes to."""
        from media.framing import find_focus  # framing builds on this module, not the reverse

        return find_focus(self.image)


def read_image(path: Path, *, max_bytes: int = MAX_INPUT_BYTES, max_pixels: int = MAX_PIXELS) -> SourceImage:
    """Open ``path`` as an upright 8-bit sRGB image, or raise InvalidMedia naming the file and the problem.

    The last image read is kept, so rendering one source for four channels decodes it once
    (callers never change the returned image in place).
    """
    if not path.is_file():
        raise InvalidMedia(f"{path}: no such file")
    stat = path.stat()
    return _read(str(path), stat.st_mtime_ns, stat.st_size, max_bytes, max_pixels)


@functools.lru_cache(maxsize=1)
def _read(name: str, _mtime: int, size: int, max_bytes: int, max_pixels: int) -> SourceImage:
    path = Path(name)
    if size > max_bytes:
        raise InvalidMedia(f"{path.name}: {size} bytes is over the input limit of {max_bytes} bytes")
    notes: list[str] = []
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            with Image.open(path) as probe:
                width, height = probe.size
                if width * height > max_pixels:
                    raise InvalidMedia(
                        f"{path.name}: {width}x{height} is {width * height:,} pixels, over the limit of "
                        f"{max_pixels:,} (refused as a possible decompression bomb)"
                    )
                if min(width, height) < MIN_SIDE:
                    raise InvalidMedia(
                        f"{path.name}: {width}x{height} has a side under {MIN_SIDE} px, the least crosspost "
                        "takes for an image"
                    )
                fmt = probe.format or "?"
                frames = getattr(probe, "n_frames", 1)
                if fmt == "JPEG" and min(width, height) >= 2 * DECODE_MIN_SIDE:
                    # let libjpeg decode at 1/2, 1/4 or 1/8 scale, never below what any channel renders
                    scale = min(width, height) / DECODE_MIN_SIDE
                    probe.draft("RGB", (round(width / scale), round(height / scale)))
                probe.seek(0)
                probe.load()  # decodes now, so a truncated file fails here and not later
                icc = probe.info.get("icc_profile")
                stored_size = probe.size
                image = ImageOps.exif_transpose(probe)  # a new, upright image (one copy, not two)
                image.info.clear()
                if image.size != stored_size:
                    notes.append("rotated upright from its EXIF orientation")
        except InvalidMedia:
            raise
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise InvalidMedia(f"{path.name}: refused as a decompression bomb ({exc})") from None
        except UnidentifiedImageError:
            raise InvalidMedia(f"{path.name}: not an image crosspost can read") from None
        except (OSError, SyntaxError, ValueError, EOFError) as exc:
            raise InvalidMedia(f"{path.name}: the image is damaged or truncated ({exc})") from None
    if frames > 1:
        notes.append(f"animated ({frames} frames): the first frame is used")
    image, has_alpha = _to_srgb(image, icc)
    return SourceImage(image=image, format=fmt, frames=frames, has_alpha=has_alpha, notes=tuple(notes))


def _to_srgb(image: Image.Image, icc: bytes | None) -> tuple[Image.Image, bool]:
    if image.mode in ("I;16", "I;16B", "I;16L", "I"):
        # 16-bit greyscale: scale to 8 bits instead of clipping everything above 255 to white
        image = image.convert("I").point(lambda value: value / 256).convert("L")
    elif image.mode == "F":
        image = image.convert("L")
    has_alpha = image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info)
    if image.mode == "P":
        image = image.convert("RGBA" if has_alpha else "RGB")
    if icc:
        try:
            source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
            target_mode = "RGBA" if has_alpha and image.mode in ("RGBA", "LA") else "RGB"
            if image.mode == "LA":
                image = image.convert("RGBA")
            converted = ImageCms.profileToProfile(image, source, _SRGB, outputMode=target_mode)
            if converted is not None:
                image = converted
        except (ImageCms.PyCMSError, OSError):
            pass  # a broken profile: fall back to Pillow's plain conversion below
    wanted = "RGBA" if has_alpha else "RGB"
    if image.mode != wanted:
        image = image.convert(wanted)
    return image, has_alpha


def flatten(image: Image.Image, background: tuple[int, int, int] = (255, 255, 255)) -> Image.Image:
    """Composite transparency onto ``background``, for formats without alpha (JPEG)."""
    if image.mode != "RGBA":
        return image.convert("RGB")
    canvas = Image.new("RGB", image.size, background)
    canvas.paste(image, mask=image.getchannel("A"))
    return canvas


@dataclass(frozen=True)
class Encoded:
    data: bytes
    format: str
    quality: int | None
    size: tuple[int, int]


def encode(image: Image.Image, fmt: str, max_bytes: int, *, min_quality: int = 60, min_width: int = 1) -> Encoded:
    """Encode within ``max_bytes``: search the quality first, shrink the pixels only if that is not
    enough, and never below ``min_width`` (the platform's minimum): refused instead."""
    if fmt == "JPEG":
        image = flatten(image)
    for _ in range(8):
        best = _best_quality(image, fmt, max_bytes, min_quality)
        if best is not None:
            return best
        if image.width <= min_width:
            raise InvalidMedia(
                f"cannot encode the image under {max_bytes} bytes at {min_width} px wide, the platform's minimum"
            )
        # even the lowest acceptable quality is too big: shrink by the ratio that is missing
        data = _save(image, fmt, min_quality)
        scale = max(0.5, min(0.95, (max_bytes / len(data)) ** 0.5 * 0.95))
        size = (max(1, int(image.width * scale)), max(1, int(image.height * scale)))
        if size[0] < min_width:
            size = (min_width, max(1, round(image.height * min_width / image.width)))
        image = image.resize(size, Image.Resampling.LANCZOS)
    raise InvalidMedia(f"cannot encode the image under {max_bytes} bytes")


def _best_quality(image: Image.Image, fmt: str, max_bytes: int, min_quality: int) -> Encoded | None:
    if fmt == "PNG":
        data = _save(image, fmt, None)
        return Encoded(data, fmt, None, image.size) if len(data) <= max_bytes else None
    first = _save(image, fmt, 92)
    if len(first) <= max_bytes:  # the usual case: a good quality already fits
        return Encoded(first, fmt, 92, image.size)
    low, high, best = min_quality, 91, None
    while low <= high:  # binary search for the highest quality that fits
        quality = (low + high) // 2
        data = _save(image, fmt, quality)
        if len(data) <= max_bytes:
            best, low = Encoded(data, fmt, quality, image.size), quality + 1
        else:
            high = quality - 1
    return best


def _save(image: Image.Image, fmt: str, quality: int | None) -> bytes:
    out = io.BytesIO()
    if fmt == "JPEG":
        image.save(out, "JPEG", quality=quality, optimize=True, progressive=True, subsampling="4:2:0")
    elif fmt == "WEBP":
        image.save(out, "WEBP", quality=quality, method=4)
    else:
        image.save(out, fmt, optimize=True)
    return out.getvalue()
