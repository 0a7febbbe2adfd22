"""Media benchmark, measured side by side in one run:

    python benchmarks/media.py [--video-seconds 60] [--skip-sharp] [--skip-video]

1. A 24-megapixel JPEG to renditions for all four channels: crosspost (Pillow, automatic focal
   point) against sharp, the npm package Postiz uses (resize with `fit: cover` and its
   `attention` strategy, JPEG quality 92), installed into a temporary folder when npm is present.
   Wall time and peak memory (max RSS of the process doing the work) for each.
2. A 1080p clip (60 s by default) to TikTok (9:16), YouTube and X (16:9): crosspost (PyAV) against
   the ffmpeg command line from the imageio-ffmpeg wheel, given exactly the same filter chain,
   encoder settings and bitrate (taken from crosspost's plan for that channel).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

from PIL import Image, ImageDraw, ImageFilter

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from media.specs import SPECS  # noqa: E402
from media.video import plan, x264_options  # noqa: E402

CHANNELS = ["x", "linkedin", "tiktok", "youtube"]


def make_photo(path: Path) -> Path:
    """6000x4000 with detail everywhere and a subject off-centre, saved as a camera would."""
    image = Image.radial_gradient("L").resize((6000, 4000)).convert("RGB")
    draw = ImageDraw.Draw(image)
    for index in range(60):
        x, y = (index * 733) % 6000, (index * 377) % 4000
        draw.ellipse([x, y, x + 300, y + 200], outline=(index * 4 % 255, 120, 200), width=9)
    draw.ellipse([4200, 1200, 5200, 2400], fill=(250, 220, 180))  # the subject
    noise = Image.effect_noise((6000, 4000), 24).convert("RGB")
    Image.blend(image, noise, 0.15).filter(ImageFilter.SMOOTH).save(path, "JPEG", quality=92)
    return path


def measured(command: list[str], cwd: Path | None = None) -> dict[str, float]:
    """Run ``command`` under /usr/bin/time: its own timing line on stdout, its peak RSS from time.

    (getrusage inside the child would report the benchmark's own peak: Linux keeps ru_maxrss
    across fork and exec.)
    """
    done = subprocess.run(["/usr/bin/time", "-f", "%M", *command], cwd=cwd, capture_output=True, text=True, check=True)
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1]) if done.stdout.strip() else {}
    result["peak_mb"] = int(done.stderr.strip().splitlines()[-1]) / 1024
    return result


def ours_image(photo: Path, out: Path) -> dict[str, float]:
    script = textwrap.dedent(f"""
        import json, sys, time
        sys.path.insert(0, {str(ROOT)!r})
        from pathlib import Path
        from media.renditions import adapt_image
        start = time.perf_counter()
        for channel in {CHANNELS!r}:  # the image renditions only, as sharp makes (no still video)
            adapt_image(Path({str(photo)!r}), channel, Path({str(out)!r}))
        print(json.dumps({{"seconds": time.perf_counter() - start}}))
    """)
    return measured([sys.executable, "-c", script])


def sharp_image(photo: Path, out: Path, folder: Path) -> dict[str, float] | None:
    npm = shutil.which("npm")
    if npm is None:
        return None
    if not (folder / "node_modules" / "sharp").exists():
        folder.mkdir(parents=True, exist_ok=True)
        subprocess.run([npm, "init", "-y"], cwd=folder, capture_output=True, check=True)
        subprocess.run(
            [npm, "install", "--no-audit", "--no-fund", "sharp"], cwd=folder, capture_output=True, check=True
        )
    targets = []
    for channel in CHANNELS:
        spec = SPECS[channel].image or SPECS[channel].thumbnail
        assert spec is not None
        frame = max(spec.frames, key=lambda f: f.width * f.height) if channel != "linkedin" else spec.frames[0]
        targets.append([channel, frame.width, frame.height])
    script = textwrap.dedent(f"""
        const sharp = require('sharp');
        (async () => {{
          const start = process.hrtime.bigint();
          const input = sharp({json.dumps(str(photo))});
          for (const [name, w, h] of {json.dumps(targets)}) {{
            await input.clone().rotate().resize(w, h, {{fit: 'cover', position: sharp.strategy.attention}})
              .jpeg({{quality: 92}}).toFile({json.dumps(str(out))} + '/sharp-' + name + '.jpg');
          }}
          const seconds = Number(process.hrtime.bigint() - start) / 1e9;
          console.log(JSON.stringify({{seconds}}));
        }})();
    """)
    return measured(["node", "-e", script], cwd=folder)


def make_clip(path: Path, ffmpeg: str, seconds: float) -> Path:
    subprocess.run(
        [
            ffmpeg,
            "-y",
            "-loglevel",
            "error",
            "-f",
            "lavfi",
            "-i",
            "testsrc2=size=1920x1080:rate=30",
            "-f",
            "lavfi",
            "-i",
            "sine=frequency=440:sample_rate=48000",
            "-t",
            str(seconds),
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-pix_fmt",
            "yuv420p",
            "-c:a",
            "aac",
            str(path),
        ],
        check=True,
    )
    return path


def ours_video(clip: Path, channel: str, out: Path) -> dict[str, float]:
    script = textwrap.dedent(f"""
        import json, sys, time
        sys.path.insert(0, {str(ROOT)!r})
        from pathlib import Path
        from media.specs import SPECS
        from media.video import transcode
        start = time.perf_counter()
        transcode(Path({str(clip)!r}), SPECS[{channel!r}].video, Path({str(out)!r}), focus=(0.5, 0.5))
        print(json.dumps({{"seconds": time.perf_counter() - start}}))
    """)
    return measured([sys.executable, "-c", script])


def ffmpeg_video(clip: Path, channel: str, out: Path, ffmpeg: str) -> dict[str, float]:
    spec = SPECS[channel].video
    assert spec is not None
    chosen = plan(clip, spec, focus=(0.5, 0.5))
    options = x264_options(chosen)
    command = [
        "/usr/bin/time",
        "-f",
        "%e %M",
        ffmpeg,
        "-y",
        "-loglevel",
        "error",
        "-i",
        str(clip),
        "-vf",
        ",".join(f"{name}={args}" for name, args in chosen.chain),
        "-c:v",
        "libx264",
        "-preset",
        options["preset"],
        "-profile:v",
        options["profile"],
        "-g",
        options["g"],
        "-bf",
        options["bf"],
        "-b:v",
        str(chosen.bitrate),
        "-x264-params",
        options["x264-params"],
        "-c:a",
        "aac",
        "-b:a",
        "128k",
        "-ar",
        "48000",
        "-ac",
        "2",
        "-movflags",
        "+faststart",
        str(out),
    ]
    start = time.perf_counter()
    result = measured(command)
    result["seconds"] = time.perf_counter() - start
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--video-seconds", type=float, default=60.0)
    parser.add_argument("--skip-sharp", action="store_true")
    parser.add_argument("--skip-video", action="store_true")
    args = parser.parse_args()
    rows: list[list[str]] = []
    with tempfile.TemporaryDirectory(prefix="crosspost-media-bench-") as tmp:
        work = Path(tmp)
        photo = make_photo(work / "photo-24mp.jpg")
        ours = ours_image(photo, work / "ours")
        theirs = None if args.skip_sharp else sharp_image(photo, work, work / "sharp")
        target = f"{ours['seconds'] / theirs['seconds']:.2f}x" if theirs else "-"
        rows.append(
            [
                "24 MP JPEG -> 4 channels",
                f"{ours['seconds']:.2f} s",
                f"{ours['peak_mb']:.0f} MB",
                "sharp",
                f"{theirs['seconds']:.2f} s" if theirs else "npm not found",
                f"{theirs['peak_mb']:.0f} MB" if theirs else "-",
                target,
            ]
        )
        if not args.skip_video:
            import imageio_ffmpeg

            ffmpeg = imageio_ffmpeg.get_ffmpeg_exe()
            clip = make_clip(work / "clip-1080p.mp4", ffmpeg, args.video_seconds)
            for channel in ("tiktok", "youtube", "x"):
                mine = ours_video(clip, channel, work / f"ours-{channel}.mp4")
                cli = ffmpeg_video(clip, channel, work / f"ffmpeg-{channel}.mp4", ffmpeg)
                rows.append(
                    [
                        f"{args.video_seconds:g} s 1080p -> {channel}",
                        f"{mine['seconds']:.2f} s",
                        f"{mine['peak_mb']:.0f} MB",
                        "ffmpeg CLI",
                        f"{cli['seconds']:.2f} s",
                        f"{cli['peak_mb']:.0f} MB",
                        f"{mine['seconds'] / cli['seconds']:.2f}x",
                    ]
                )
    header = ["job", "crosspost", "crosspost peak", "against", "their time", "their peak", "ours / theirs"]
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    for index, row in enumerate([header, *rows]):
        print("| " + " | ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)) + " |")
        if index == 0:
            print("|" + "|".join("-" * (w + 2) for w in widths) + "|")


if __name__ == "__main__":
    main()
