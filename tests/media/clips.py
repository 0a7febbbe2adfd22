"""Short test clips made with PyAV: a bright subject on a dark background, optional sine audio."""

from __future__ import annotations

import math
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
