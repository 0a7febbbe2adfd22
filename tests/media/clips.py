"""Short test clips made with PyAV: a bright subject on a dark background, optional sine audio;
and hostile ones (giant frames, corrupt frames, extreme shapes) that stay small on disk."""

from __future__ import annotations

import math
import random
import struct
from fractions import Fraction
from pathlib import Path

import av
from PIL import Image, ImageDraw


def make_clip(
    path: Path,
    *,
    size: tuple[int, int] = (320, 180),
    fps: int = 30,
    seconds: float = 2.0,
    audio: bool = True,
    subject_x: float = 0.5,
) -> Path:
    width, height = size
    rate = Fraction(fps)
    with av.open(str(path), "w", format="mp4") as out:
        video = out.add_stream("libx264", rate=rate)
        video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        video.options = {"preset": "ultrafast"}
        sound = None
        if audio:
            sound = out.add_stream("aac", rate=48_000)
            sound.layout = "mono"
        for index in range(int(seconds * fps)):
            image = Image.new("RGB", size, (15, 15, 30))
            draw = ImageDraw.Draw(image)
            cx, cy, r = subject_x * width, height / 2, min(width, height) / 6
            for ring in range(4):
                if r - ring * 3 < 2:
                    break
                draw.ellipse(
                    [cx - r + ring * 3, cy - r + ring * 3, cx + r - ring * 3, cy + r - ring * 3],
                    outline=(255, 230, 160),
                    width=2,
                )
            frame = av.VideoFrame.from_image(image)
            frame.pts, frame.time_base = index, 1 / rate
            out.mux(video.encode(frame))
        out.mux(video.encode(None))
        if sound is not None:
            chunk = sound.codec_context.frame_size or 1024
            for start in range(0, int(seconds * 48_000), chunk):
                samples = [0.2 * math.sin(2 * math.pi * 440 * (start + i) / 48_000) for i in range(chunk)]
                frame = av.AudioFrame(format="fltp", layout="mono", samples=chunk)
                frame.planes[0].update(struct.pack(f"<{chunk}f", *samples))
                frame.sample_rate, frame.pts = 48_000, start
                out.mux(sound.encode(frame))
            out.mux(sound.encode(None))
    return path


def flat_jpeg(size: tuple[int, int], *, components: int = 1) -> bytes:
    """A baseline JPEG of any size in two bits per 8x8 block: every block is flat grey, coded with
    one-symbol Huffman tables (DC difference 0, then end of block). A 12000x12000 frame is 560 KB
    (greyscale), made without ever holding its pixels."""

    def segment(marker: int, payload: bytes) -> bytes:
        return bytes([0xFF, marker]) + struct.pack(">H", len(payload) + 2) + payload

    width, height = size
    ids = range(1, components + 1)
    quant = segment(0xDB, b"\x00" + bytes([1] * 64))
    frame = segment(
        0xC0, struct.pack(">BHHB", 8, height, width, components) + b"".join(bytes([i, 0x11, 0]) for i in ids)
    )
    one_code = bytes([1] + [0] * 15) + b"\x00"  # one code of length 1, for symbol 0
    tables = segment(0xC4, b"\x00" + one_code + b"\x10" + one_code)
    scan = segment(0xDA, bytes([components]) + b"".join(bytes([i, 0x00]) for i in ids) + b"\x00\x3f\x00")
    blocks = -(-width // 8) * -(-height // 8) * components
    return b"\xff\xd8" + quant + frame + tables + scan + bytes(-(-blocks * 2 // 8)) + b"\xff\xd9"


def make_mjpeg(path: Path, frames: list[tuple[int, int]], *, fps: int = 1, components: int = 1) -> Path:
    """An MJPEG clip in MP4, one flat frame of each given size (they may differ: MJPEG allows it)."""
    width, height = frames[0]
    with av.open(str(path), "w", format="mp4") as out:
        stream = out.add_stream("mjpeg", rate=Fraction(fps))
        # the muxer's encoder must open (its formats are YUV); the decoder reads the JPEG's own
        stream.width, stream.height, stream.pix_fmt = width, height, "yuvj444p"
        for index, size in enumerate(frames):
            packet = av.Packet(flat_jpeg(size, components=components))
            packet.stream = stream
            packet.pts = packet.dts = index
            packet.time_base = Fraction(1, fps)
            packet.is_keyframe = True
            out.mux(packet)
    return path


def corrupt_frames(clip: Path, path: Path, *, seed: int = 1) -> Path:
    """``clip`` with every byte of its media data replaced by noise: the container (ftyp, moov) is
    intact and opens, the frames do not decode."""
    data = bytearray(clip.read_bytes())
    at = data.index(b"mdat") - 4
    (size,) = struct.unpack(">I", data[at : at + 4])
    noise = random.Random(seed)
    for index in range(at + 8, at + size):
        data[index] = noise.randrange(256)
    path.write_bytes(bytes(data))
    return path


def make_still_clip(path: Path, size: tuple[int, int], *, fps: int = 30, seconds: float = 1.0) -> Path:
    """A black H.264 clip of any even size, without drawing: fast even for extreme shapes."""
    width, height = size
    rate = Fraction(fps)
    with av.open(str(path), "w", format="mp4") as out:
        stream = out.add_stream("libx264", rate=rate)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.options = {"preset": "ultrafast"}
        frame = av.VideoFrame(width, height, "yuv420p")
        for plane in frame.planes:
            plane.update(bytes(plane.buffer_size))
        for index in range(round(seconds * fps)):
            frame.pts, frame.time_base = index, 1 / rate
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    return path
