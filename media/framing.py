"""Framing an image for a channel: crop around the subject, pad, or keep the native aspect.

The subject is a focal point (x, y) in 0..1, given by the user or found by ``find_focus``: the
centre of mass of edge energy (squared, so one detailed subject outweighs a noisy background),
measured on a small copy. It keeps a person or an object in frame where a blind centre crop
would cut it off.
"""

from __future__ import annotations

from PIL import Image, ImageFilter, ImageOps, ImageStat

from media.specs import Frame, ImageSpec

Focus = tuple[float, float]


def find_focus(image: Image.Image) -> Focus:
    small = ImageOps.grayscale(image.convert("RGB"))
    small.thumbnail((160, 160))
    if min(small.size) < 3:  # a long strip shrinks to a line: no inner pixels to weigh
        return (0.5, 0.5)
    edges = small.filter(ImageFilter.FIND_EDGES)
    # ignore the 1-pixel border FIND_EDGES leaves, then weight strong detail far above faint noise
    edges = ImageOps.crop(edges, 1).point(lambda value: min(255, value * value // 16))
    width, height = edges.size
    total = ImageStat.Stat(edges).sum[0]
    if total == 0 or width == 0 or height == 0:
        return (0.5, 0.5)
    sum_x = sum_y = 0.0
    for index, weight in enumerate(edges.tobytes()):
        if weight:
            sum_x += weight * (index % width)
            sum_y += weight * (index // width)
    return ((sum_x / total + 1.5) / (width + 2), (sum_y / total + 1.5) / (height + 2))


def closest_frame(image: Image.Image | tuple[int, int], spec: ImageSpec) -> Frame:
    width, height = image if isinstance(image, tuple) else image.size
    aspect = width / height
    return min(spec.frames, key=lambda frame: abs(_log_ratio(frame.aspect, aspect)))


def _log_ratio(a: float, b: float) -> float:
    return max(a, b) / min(a, b)


def crop_box(
    size: tuple[int, int], aspect: float, focus: Focus, target: Focus = (0.5, 0.5)
) -> tuple[int, int, int, int]:
    """The largest box of ``aspect`` inside ``size`` that puts ``focus`` at ``target`` (as near as the edges allow)."""
    width, height = size
    if width / height > aspect:
        box_w, box_h = round(height * aspect), height
    else:
        box_w, box_h = width, round(width / aspect)
    left = round(focus[0] * width - target[0] * box_w)
    top = round(focus[1] * height - target[1] * box_h)
    left = min(max(0, left), width - box_w)
    top = min(max(0, top), height - box_h)
    return (left, top, left + box_w, top + box_h)


def crop(image: Image.Image, frame: Frame, focus: Focus, target: Focus = (0.5, 0.5)) -> Image.Image:
    return image.crop(crop_box(image.size, frame.aspect, focus, target))


def pad(image: Image.Image, frame: Frame, background: str | tuple[int, int, int] = "blur") -> Image.Image:
    """Fit the whole image inside ``frame``'s aspect; fill the rest with a blurred copy or a colour.

    The image is brought down to the frame's size first, so a 12000-pixel panorama never becomes
    a full-resolution canvas.
    """
    factor = min(1.0, frame.width / image.width, frame.height / image.height)
    if factor < 1.0:
        size = (max(1, round(image.width * factor)), max(1, round(image.height * factor)))
        image = image.resize(size, Image.Resampling.LANCZOS, reducing_gap=3.0)
    if image.width / image.height > frame.aspect:
        canvas_size = (image.width, max(image.height, round(image.width / frame.aspect)))
    else:
        canvas_size = (max(image.width, round(image.height * frame.aspect)), image.height)
    if background == "blur":
        small = (max(1, canvas_size[0] // 8), max(1, canvas_size[1] // 8))
        filler = ImageOps.fit(image.convert("RGB"), small, Image.Resampling.BILINEAR)
        filler = filler.filter(ImageFilter.GaussianBlur(6)).resize(canvas_size, Image.Resampling.BILINEAR)
        canvas = Image.eval(filler, lambda value: value * 3 // 5)  # darker, so the image stands out
    else:
        canvas = Image.new("RGB", canvas_size, background if isinstance(background, tuple) else (0, 0, 0))
    offset = ((canvas_size[0] - image.width) // 2, (canvas_size[1] - image.height) // 2)
    if image.mode == "RGBA":
        canvas.paste(image, offset, mask=image.getchannel("A"))
    else:
        canvas.paste(image, offset)
    return canvas


def scale_for(image: Image.Image, frame: Frame, spec: ImageSpec) -> Image.Image:
    """Scale to the frame's size, never above the source unless the platform's minimum needs it."""
    size = scaled_size(image.size, frame, spec)
    if size == image.size:
        return image
    return image.resize(size, Image.Resampling.LANCZOS, reducing_gap=3.0)


def scaled_size(size: tuple[int, int], frame: Frame, spec: ImageSpec) -> tuple[int, int]:
    """The size ``scale_for`` brings an image of ``size`` to (``size`` itself: no resize)."""
    width, height = size
    factor = min(1.0, frame.width / width, frame.height / height)
    if width * factor < spec.min_width:
        factor = spec.min_width / width  # the one case where upscaling is required
    if spec.max_side:
        factor = min(factor, spec.max_side / max(width, height))
    if spec.max_pixels and width * height * factor * factor > spec.max_pixels:
        factor = (spec.max_pixels / (width * height)) ** 0.5
    if abs(factor - 1.0) < 1e-3:
        return size
    return (max(1, round(width * factor)), max(1, round(height * factor)))
