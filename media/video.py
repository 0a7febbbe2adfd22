"""Video for each channel with PyAV: probe, then one pass of decode -> filter -> encode.

Scaling, cropping, padding and frame-rate conversion run in an FFmpeg filter graph (C code, the
same filters the ffmpeg command line uses); the output is H.264 High in yuv420p with a closed
GOP, AAC-LC audio, and the moov atom first (faststart) so platforms can start processing before
the whole file arrives. The bitrate is the channel's recommendation, lowered when the size limit
needs it.
"""

from __future__ import annotations

import dataclasses
import math
import os
import tempfile
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import av.audio.fifo
from PIL import Image

from media.framing import Focus, crop_box, find_focus
from media.specs import VideoSpec
from scheduler.errors import InvalidMedia

AUDIO_RATE = 48_000
AUDIO_BITRATE = 128_000

# What a source video may be, like media.images' 64 MP limit on photos: checked from the file's
# headers before a frame is decoded (``inspect``), and again by the decoder on every frame
# (FFmpeg's ``max_pixels``), so a stream that changes size mid-file stops there too. Without
# them a 4.5 MB, 1-second 12000x12000 MJPEG took 2.7 GB to render.
MAX_SIDE = 8192  # px, either side: DCI 8K is 8192x4320
MAX_PIXELS = 8192 * 4320  # a frame: 35.4 MP, 8K
MIN_SIDE = 16  # px: a narrower frame is no picture (a 2x16000 clip), and H.264 codes 16 px blocks
MAX_FPS = 240.0  # high-speed phone clips; more frames per second only multiplies the decoding
MAX_SECONDS = 3 * 3600.0  # the longest channel takes 30 min (LinkedIn): room for webhooks and trims
MAX_INPUT_BYTES = 4 * 1024**3  # TikTok's 4 GB; CROSSPOST_MAX_MEDIA_BYTES (1 GiB by default) is lower
FIRST_FRAMES = 3  # decoded when a post is created, to prove the stream decodes at all
_CAPPED = {"max_pixels": str(MAX_PIXELS)}


@dataclass(frozen=True)
class VideoInfo:
    width: int
    height: int
    fps: float
    duration: float
    codec: str
    pix_fmt: str | None
    has_audio: bool


def probe(path: Path) -> VideoInfo:
    """What a video file holds, or InvalidMedia naming the file and the problem.

    Opening decodes a few frames (FFmpeg reads the pixel format from them), never one over
    ``MAX_PIXELS``: for a file nobody has checked yet, ``inspect`` reads the headers only."""
    return _info(path, headers_only=False)


def inspect(path: Path, *, max_bytes: int = MAX_INPUT_BYTES) -> VideoInfo:
    """A source video's facts from its headers, without decoding a frame, checked against the
    limits above; InvalidMedia names the file and the limit it breaks."""
    size = path.stat().st_size
    if size > max_bytes:
        raise InvalidMedia(f"{path.name}: {size:,} bytes is over the limit of {max_bytes:,} bytes for a video")
    info = _info(path, headers_only=True)
    width, height = info.width, info.height
    if max(width, height) > MAX_SIDE:
        raise InvalidMedia(f"{path.name}: {width}x{height} is over the limit of {MAX_SIDE} px a side for a video")
    if width * height > MAX_PIXELS:
        raise InvalidMedia(
            f"{path.name}: {width}x{height} is {width * height:,} pixels a frame, over the limit of "
            f"{MAX_PIXELS:,} (8K) for a video"
        )
    if min(width, height) < MIN_SIDE:
        raise InvalidMedia(
            f"{path.name}: {width}x{height} has a side under {MIN_SIDE} px, the least crosspost takes for a video"
        )
    if info.fps > MAX_FPS:
        raise InvalidMedia(f"{path.name}: {info.fps:g} frames per second is over the limit of {MAX_FPS:g}")
    if info.duration <= 0:
        raise InvalidMedia(f"{path.name}: the video's length cannot be read from the file (save it again)")
    if info.duration > MAX_SECONDS:
        raise InvalidMedia(
            f"{path.name}: the clip is {info.duration:,.0f} s, over the limit of {MAX_SECONDS:,.0f} s "
            f"({MAX_SECONDS / 3600:g} h) for a video"
        )
    return info


def verify(path: Path, *, max_bytes: int = MAX_INPUT_BYTES) -> VideoInfo:
    """``inspect``, then decode the first frames: what a post's video must pass before it is
    stored, so that a file that opens but does not decode is refused then, not at rendering."""
    info = inspect(path, max_bytes=max_bytes)
    decoded = packets = 0
    try:
        with av.open(str(path), options={**_CAPPED, "skip_frame": "all"}) as container:
            video = container.streams.video[0]
            streams = [video, *container.streams.audio[:1]]  # the audio the renditions carry, too
            for stream in streams:
                _cap(stream, threads=1)
            for packet in container.demux(*streams):
                for frame in packet.decode():
                    decoded += isinstance(frame, av.VideoFrame)
                packets += packet.stream is video
                # a decoder may hold back a few frames (B-frames); past that, what does not come never will
                if decoded >= FIRST_FRAMES or packets >= 30 * FIRST_FRAMES:
                    break
    except (av.FFmpegError, OSError, ValueError) as exc:
        raise InvalidMedia(f"{path.name}: the video's first frames cannot be decoded ({_why(exc)})") from None
    if not decoded:
        raise InvalidMedia(f"{path.name}: not one frame of the video could be decoded")
    return info


def _info(path: Path, *, headers_only: bool) -> VideoInfo:
    # skip_frame: FFmpeg decodes nothing to fill in what the headers say; max_pixels: a decoder
    # that decodes anyway (or a header that declares a giant frame) stops at the limit
    options = {**_CAPPED, "skip_frame": "all"} if headers_only else dict(_CAPPED)
    try:
        with av.open(str(path), options=options) as container:
            if not container.streams.video:
                raise InvalidMedia(f"{path.name}: no video stream")
            stream = container.streams.video[0]
            duration = 0.0
            if container.duration:
                duration = container.duration / av.time_base
            elif stream.duration and stream.time_base:
                duration = float(stream.duration * stream.time_base)
            rate = stream.average_rate or stream.guessed_rate or 0
            width, height = stream.codec_context.width, stream.codec_context.height
            if not width or not height:  # the decoder refused the declared size, or there is none
                raise InvalidMedia(
                    f"{path.name}: the video's frame size cannot be read, or is over the limit of "
                    f"{MAX_PIXELS:,} pixels (8K)"
                )
            return VideoInfo(
                width=width,
                height=height,
                fps=float(rate),
                duration=duration,
                codec=stream.codec_context.name,
                pix_fmt=stream.codec_context.pix_fmt,
                has_audio=bool(container.streams.audio),
            )
    except InvalidMedia:
        raise
    except (av.FFmpegError, OSError, ValueError) as exc:
        raise InvalidMedia(f"{path.name}: not a video crosspost can read ({exc})") from None


def _cap(stream: av.stream.Stream, *, threads: int | None = None) -> None:
    """The decoder refuses any frame over ``MAX_PIXELS``, also one that appears mid-stream."""
    options = dict(_CAPPED)
    if threads is not None:
        options["threads"] = str(threads)
    stream.codec_context.options = options


def _why(exc: Exception) -> str:
    if isinstance(exc, av.error.ArgumentError):  # what max_pixels raises
        return f"{exc}: a frame over {MAX_PIXELS:,} pixels, or a damaged one"
    return str(exc)


def _even(value: float) -> int:
    return max(2, int(value) // 2 * 2)


@dataclass(frozen=True)
class VideoRendition:
    path: Path
    width: int
    height: int
    fps: float
    duration: float
    bytes: int
    bitrate: int
    trimmed: bool
    focus: Focus = (0.5, 0.5)


@dataclass(frozen=True)
class Plan:
    """Every decision of one transcode, so that it can also be given to the ffmpeg command line."""

    chain: tuple[tuple[str, str], ...]  # FFmpeg filters, in order
    fps: float
    width: int
    height: int
    bitrate: int
    duration: float
    has_audio: bool
    trimmed: bool
    focus: Focus
    # constant bitrate with filler data: only to bring a file up to a platform's minimum size
    constant_bitrate: bool = False

    @property
    def gop(self) -> int:
        return max(1, round(self.fps / 2))  # closed GOP of half the frame rate, as YouTube recommends


def plan(
    source: Path,
    spec: VideoSpec,
    *,
    mode: str = "crop",
    focus: Focus | None = None,
    allow_trim: bool = False,
    label: str = "this channel",
) -> Plan:
    info = inspect(source)
    low, high = spec.duration
    if info.duration > high and not allow_trim:
        raise InvalidMedia(
            f"{source.name}: the clip is {info.duration:.1f} s, {label} takes at most {high:g} s; "
            "allow trimming (--trim) to cut it there"
        )
    if info.duration < low:
        raise InvalidMedia(f"{source.name}: the clip is {info.duration:.1f} s, {label} needs at least {low:g} s")
    duration = min(info.duration, high)
    fps = min(max(info.fps or 30.0, spec.fps[0]), spec.fps[1])
    target = spec.frame
    if mode == "fit" and spec.aspect[0] <= info.width / info.height <= spec.aspect[1]:
        aspect = info.width / info.height
    else:
        aspect = target.aspect
    chain: list[tuple[str, str]] = []
    subject = focus or (0.5, 0.5)
    if mode == "pad":
        scale = min(1.0, target.width / info.width, target.height / info.height)
        # the padded frame's short side at scale 1; upscale only to a platform minimum, as crop does
        short = min(max(info.width, info.height * aspect), max(info.height, info.width / aspect))
        scale = max(scale, spec.min_side / short)
        inner_w, inner_h = _even(info.width * scale), _even(info.height * scale)
        width, height = _even(max(inner_w, inner_h * aspect)), _even(max(inner_h, inner_w / aspect))
        chain += [("scale", f"{inner_w}:{inner_h}"), ("pad", f"{width}:{height}:(ow-iw)/2:(oh-ih)/2:black")]
    else:
        subject = focus or _focus_of(source, info)  # from a real frame, not a blind centre
        left, top, right, bottom = crop_box((info.width, info.height), aspect, subject, spec.focus_target)
        crop_w, crop_h = right - left, bottom - top
        scale = min(1.0, max(target.width, target.height) / max(crop_w, crop_h))
        scale = max(scale, spec.min_side / min(crop_w, crop_h))  # upscale only to a platform minimum
        if spec.max_size:
            scale = min(scale, spec.max_size[0] / crop_w, spec.max_size[1] / crop_h)
        width, height = _even(crop_w * scale), _even(crop_h * scale)
        chain += [("crop", f"{crop_w}:{crop_h}:{left}:{top}"), ("scale", f"{width}:{height}:flags=bicubic")]
    chain += [("fps", f"{fps:g}"), ("format", "yuv420p")]
    # the size limit bounds the bitrate: 90% of the budget, the rest for audio and the container
    recommended = 8_000_000 if max(width, height) >= 1920 else 5_000_000
    budget = int(spec.max_bytes * 8 * 0.9 / max(duration, 0.1)) - (AUDIO_BITRATE if info.has_audio else 0)
    return Plan(
        chain=tuple(chain),
        fps=fps,
        width=width,
        height=height,
        bitrate=max(200_000, min(recommended, budget)),
        duration=duration,
        has_audio=info.has_audio,
        trimmed=info.duration > high,
        focus=subject,
    )


def x264_options(chosen: Plan) -> dict[str, str]:
    kbps = chosen.bitrate // 1000
    if chosen.constant_bitrate:
        rate = f"nal-hrd=cbr:vbv-maxrate={kbps}:vbv-bufsize={kbps}"
    else:
        rate = f"vbv-maxrate={kbps}:vbv-bufsize={kbps * 2}"
    return {
        "preset": "veryfast",
        "profile": "high",
        "g": str(chosen.gop),
        "bf": "2",
        "x264-params": f"open-gop=0:{rate}",
    }


def transcode(
    source: Path,
    spec: VideoSpec,
    out: Path,
    *,
    mode: str = "crop",
    focus: Focus | None = None,
    allow_trim: bool = False,
    label: str = "this channel",
) -> VideoRendition:
    chosen = plan(source, spec, mode=mode, focus=focus, allow_trim=allow_trim, label=label)
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkstemp(dir=out.parent, suffix=".mp4")[1])
    try:
        _encode(source, staging, chosen)
        if staging.stat().st_size < spec.min_bytes:
            # a short, simple clip compresses under the platform's minimum file size: encode it
            # again at a constant bitrate that fills it up (H.264 filler data), with 10% margin
            filled = math.ceil(spec.min_bytes * 8 * 1.1 / max(chosen.duration, 0.1))
            chosen = dataclasses.replace(chosen, bitrate=filled, constant_bitrate=True)
            _encode(source, staging, chosen)
        os.replace(staging, out)
    except (av.FFmpegError, OSError) as exc:
        raise InvalidMedia(f"{source.name}: could not transcode ({_why(exc)})") from None
    finally:
        staging.unlink(missing_ok=True)
    result = probe(out)
    return VideoRendition(
        path=out,
        width=result.width,
        height=result.height,
        fps=result.fps,
        duration=result.duration,
        bytes=out.stat().st_size,
        bitrate=chosen.bitrate,
        trimmed=chosen.trimmed,
        focus=chosen.focus,
    )


def _focus_of(source: Path, info: VideoInfo) -> Focus:
    """The subject's position, from a frame a third of the way in."""
    try:
        image = frame_at(source, info.duration / 3, max_side=640)  # find_focus looks at 160 px anyway
    except (av.FFmpegError, OSError) as exc:
        raise InvalidMedia(f"{source.name}: could not decode a frame to frame it by ({_why(exc)})") from None
    return find_focus(image) if image is not None else (0.5, 0.5)


def frame_at(source: Path, seconds: float, *, max_side: int | None = None) -> Image.Image | None:
    """The first frame at or after ``seconds``, as an RGB image (no larger than ``max_side``)."""
    with av.open(str(source), options=dict(_CAPPED)) as container:
        stream = container.streams.video[0]
        _cap(stream)
        if seconds > 1:
            try:  # to the keyframe before: a long clip is not decoded from its start
                container.seek(int(seconds * av.time_base))
            except av.FFmpegError:
                container.seek(0)
        for frame in container.decode(stream):
            if frame.time is not None and frame.time >= seconds:
                size: dict[str, int] = {}
                if max_side is not None and max(frame.width, frame.height) > max_side:
                    scale = max_side / max(frame.width, frame.height)
                    size = {"width": max(2, round(frame.width * scale)), "height": max(2, round(frame.height * scale))}
                image: Image.Image = frame.to_image(**size)  # type: ignore[no-untyped-call]
                return image
    return None


def _encode(source: Path, target: Path, chosen: Plan) -> None:
    fps, width, height, bitrate = chosen.fps, chosen.width, chosen.height, chosen.bitrate
    chain, duration, with_audio = chosen.chain, chosen.duration, chosen.has_audio
    rate = Fraction(fps).limit_denominator(1001)
    with (
        av.open(str(source), options=dict(_CAPPED)) as inp,
        av.open(str(target), "w", format="mp4", options={"movflags": "+faststart"}) as out,
    ):
        vin = inp.streams.video[0]
        vin.thread_type = "AUTO"
        _cap(vin)
        vout = out.add_stream("libx264", rate=rate)
        vout.width, vout.height, vout.pix_fmt, vout.bit_rate = width, height, "yuv420p", bitrate
        vout.options = dict[str, object](x264_options(chosen))
        # PyAV opens codecs with slice threading only; for libx264 that means sliced threads
        # (b_sliced_threads), which the ffmpeg command line does not use: frame threads, as there
        vout.codec_context.thread_type = "AUTO"
        graph = av.filter.Graph()
        nodes = [graph.add_buffer(template=vin)]
        nodes += [graph.add(name, args) for name, args in chain]
        nodes.append(graph.add("buffersink"))
        graph.link_nodes(*nodes).configure()

        ain = inp.streams.audio[0] if with_audio and inp.streams.audio else None
        aout = resampler = fifo = None
        if ain is not None:
            aout = out.add_stream("aac", rate=AUDIO_RATE)
            aout.layout, aout.bit_rate = "stereo", AUDIO_BITRATE
            resampler = av.AudioResampler(format="fltp", layout="stereo", rate=AUDIO_RATE)
            fifo = av.audio.fifo.AudioFifo()

        written = 0

        def drain_video(final: bool = False) -> None:
            nonlocal written
            while True:
                try:
                    frame = graph.pull()
                except (av.error.BlockingIOError, av.error.EOFError):
                    break
                assert isinstance(frame, av.VideoFrame)
                frame.pts, frame.time_base = written, 1 / rate
                written += 1
                out.mux(vout.encode(frame))
            if final:
                out.mux(vout.encode(None))

        streams = [vin] + ([ain] if ain is not None else [])
        for packet in inp.demux(*streams):
            for frame in packet.decode():
                if not isinstance(frame, av.VideoFrame | av.AudioFrame):
                    continue
                if frame.time is not None and frame.time >= duration:
                    continue  # past the trim point
                if isinstance(frame, av.VideoFrame):
                    graph.push(frame)
                    drain_video()
                elif aout and resampler and fifo is not None:
                    frame.pts = None
                    for resampled in resampler.resample(frame):
                        fifo.write(resampled)
                    while fifo.samples >= aout.codec_context.frame_size:
                        out.mux(aout.encode(fifo.read(aout.codec_context.frame_size)))
        graph.push(None)
        drain_video(final=True)
        if aout is not None and fifo is not None:
            if fifo.samples:
                out.mux(aout.encode(fifo.read()))
            out.mux(aout.encode(None))


def still_video(image_path: Path, spec: VideoSpec, out: Path, *, seconds: float = 6.0) -> VideoRendition:
    """A still video from an image, for a video-only channel (YouTube) given only an image."""
    import pyvips  # type: ignore[import-untyped]  # libvips: only where an image becomes a video

    from media import images, raster

    target = spec.frame
    # decoded at the scale the frame needs (libvips shrink-on-load), upright and in sRGB, as
    # the image renditions are; never enlarged
    source = raster.header(
        image_path, max_bytes=images.MAX_INPUT_BYTES, max_pixels=images.MAX_PIXELS, min_side=images.MIN_SIDE
    )
    factor = min(1.0, target.width / source.width, target.height / source.height)
    size = (max(1, round(source.width * factor)), max(1, round(source.height * factor)))
    try:
        image = raster.to_pil(raster.render(source, (0, 0, source.width, source.height), size))
    except pyvips.Error as exc:
        raise raster.refusal(image_path, exc) from None
    canvas = Image.new("RGB", (target.width, target.height), (0, 0, 0))
    canvas.paste(image, ((target.width - image.width) // 2, (target.height - image.height) // 2))
    fps = Fraction(max(spec.fps[0], 24))
    out.parent.mkdir(parents=True, exist_ok=True)
    # written beside and renamed into place, as transcode does: a post's channels are rendered by
    # several workers at once, and one must never read this file half-written (it saw "no video
    # stream" under load)
    staging = Path(tempfile.mkstemp(dir=out.parent, suffix=".mp4")[1])
    try:
        with av.open(str(staging), "w", format="mp4", options={"movflags": "+faststart"}) as container:
            stream = container.add_stream("libx264", rate=fps)
            stream.width, stream.height, stream.pix_fmt = target.width, target.height, "yuv420p"
            stream.options = {
                "preset": "veryfast",
                "profile": "high",
                "g": str(int(fps) // 2),
                "x264-params": "open-gop=0",
            }
            stream.codec_context.thread_type = "AUTO"  # x264's frame threads, as in _encode
            frame = av.VideoFrame.from_image(canvas).reformat(format="yuv420p")  # type: ignore[no-untyped-call]
            for index in range(int(seconds * fps)):
                frame.pts, frame.time_base = index, 1 / fps
                container.mux(stream.encode(frame))
            container.mux(stream.encode(None))
        os.replace(staging, out)
    except BaseException:
        staging.unlink(missing_ok=True)
        raise
    info = probe(out)
    return VideoRendition(
        path=out,
        width=info.width,
        height=info.height,
        fps=info.fps,
        duration=info.duration,
        bytes=out.stat().st_size,
        bitrate=0,
        trimmed=False,
    )


def moov_first(path: Path) -> bool:
    """True when the MP4's index (moov) comes before its media data (mdat): faststart."""
    with path.open("rb") as handle:
        while header := handle.read(8):
            if len(header) < 8:
                return False
            size, kind = int.from_bytes(header[:4], "big"), header[4:8]
            if kind == b"moov":
                return True
            if kind == b"mdat":
                return False
            if size == 1:
                size = int.from_bytes(handle.read(8), "big") - 8
            if size < 8:
                return False
            handle.seek(size - 8, os.SEEK_CUR)
    return False


def check_video(path: Path, spec: VideoSpec, mode: str, *, tolerance: float = 0.02) -> list[str]:
    """Re-probe a rendition and list every way it breaks ``spec``; empty when it complies."""
    info = probe(path)
    problems = []
    if info.codec != "h264":
        problems.append(f"codec {info.codec}, expected h264")
    if info.pix_fmt != "yuv420p":
        problems.append(f"pixel format {info.pix_fmt}, expected yuv420p")
    if not spec.fps[0] - 0.01 <= info.fps <= spec.fps[1] + 0.01:
        problems.append(f"{info.fps:g} fps outside {spec.fps[0]:g}-{spec.fps[1]:g}")
    if not spec.duration[0] <= info.duration <= spec.duration[1] + 0.1:
        problems.append(f"{info.duration:.1f} s outside {spec.duration[0]:g}-{spec.duration[1]:g} s")
    if spec.max_size and (info.width > spec.max_size[0] or info.height > spec.max_size[1]):
        problems.append(f"{info.width}x{info.height} larger than {spec.max_size[0]}x{spec.max_size[1]}")
    if min(info.width, info.height) < spec.min_side:
        problems.append(f"{info.width}x{info.height} has a side under {spec.min_side} px")
    aspect = info.width / info.height
    slack = max(tolerance, 2 / min(info.width, info.height))  # even dimensions round by up to 2 px
    if mode == "fit":
        if not spec.aspect[0] * (1 - slack) <= aspect <= spec.aspect[1] * (1 + slack):
            problems.append(f"aspect {aspect:.3f} outside {spec.aspect[0]:.3f}-{spec.aspect[1]:.3f}")
    elif abs(aspect / spec.frame.aspect - 1) > slack:
        problems.append(f"aspect {aspect:.3f}, expected {spec.frame.width}:{spec.frame.height}")
    size = path.stat().st_size
    if size > spec.max_bytes:
        problems.append(f"{size} bytes, over the limit of {spec.max_bytes}")
    if size < spec.min_bytes:
        problems.append(f"{size} bytes, under the minimum of {spec.min_bytes}")
    if not moov_first(path):
        problems.append("the moov atom is not at the start (not faststart)")
    return problems
