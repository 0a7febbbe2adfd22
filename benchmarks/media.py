"""Media benchmark, measured side by side in one run:

    python benchmarks/media.py [--sources 4] [--repeat 3] [--video-seconds 60] [--video-repeat 1]
                               [--skip-sharp] [--skip-video] [--skip-images]

1. Four 24-megapixel JPEGs to the image renditions of all four channels, the way the pipeline
   renders them: a post's sources for all its channels in one call, each source decoded once
   (``scheduler.publishing.media_prep.render_together`` over ``media.renditions.adapt_image``,
   libvips, automatic focal point), in one process as a worker would; and in the old
   per-publication order (one publication per channel, each rendering every source). Against
   sharp, the npm package Postiz uses (resize with ``fit: cover`` and its
   ``attention`` strategy, JPEG quality 92, a fresh pipeline per rendition), installed into a
   temporary folder when npm is present, at its default concurrency and at one thread per core.
   Time per channel and in all, and peak memory (max RSS of the process doing the work).
2. A 1080p clip (60 s by default) to TikTok (9:16), YouTube and X (16:9): crosspost (PyAV) against
   the ffmpeg command line from the imageio-ffmpeg wheel, given exactly the same filter chain,
   encoder settings and bitrate (taken from crosspost's plan for that channel); the x264 settings
   both wrote into their streams are compared, so a difference in what was encoded shows.

Each contender runs in its own process, ``--repeat`` times (the median is reported, and the range).
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
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


def make_photo(path: Path, number: int = 0) -> Path:
    """6000x4000 with detail everywhere and a subject off-centre, saved as a camera would."""
    image = Image.radial_gradient("L").resize((6000, 4000)).convert("RGB")
    draw = ImageDraw.Draw(image)
    for index in range(60):
        x, y = (index * 733 + number * 211) % 6000, (index * 377 + number * 97) % 4000
        draw.ellipse([x, y, x + 300, y + 200], outline=(index * 4 % 255, 120, 200), width=9)
    left = [4200, 600, 2400, 3800][number % 4]  # the subject, somewhere else in each photo
    draw.ellipse([left, 1200, left + 1000, 2400], fill=(250, 220, 180))
    noise = Image.effect_noise((6000, 4000), 24).convert("RGB")
    Image.blend(image, noise, 0.15).filter(ImageFilter.SMOOTH).save(path, "JPEG", quality=92)
    return path


def measured(command: list[str], cwd: Path | None = None) -> dict[str, float]:
    """Run ``command`` under /usr/bin/time: its own timing line on stdout, its peak RSS from time.

    (getrusage inside the child would report the benchmark's own peak: Linux keeps ru_maxrss
    across fork and exec.)
    """
    done = subprocess.run(
        ["/usr/bin/time", "-f", "%M %U %S", *command], cwd=cwd, capture_output=True, text=True, check=True
    )
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1]) if done.stdout.strip() else {}
    peak, user, system = done.stderr.strip().splitlines()[-1].split()
    result["peak_mb"] = int(peak) / 1024
    # CPU time of the whole process (start-up included): what the machine's other load does
    # not change much, unlike the wall time on 2 shared cores
    result["cpu"] = float(user) + float(system)
    return result


def image_targets() -> list[tuple[str, int, int]]:
    """Each channel's frame for a 3:2 photo, as crosspost picks it (the closest aspect)."""
    targets = []
    for channel in CHANNELS:
        spec = SPECS[channel].image or SPECS[channel].thumbnail
        assert spec is not None
        frame = min(spec.frames, key=lambda f: max(f.aspect, 1.5) / min(f.aspect, 1.5))
        targets.append((channel, frame.width, frame.height))
    return targets


def ours_image(photos: list[Path], out: Path, *, together: bool = False) -> dict[str, float]:
    """The old per-publication order (one publication per channel, each rendering every source),
    or with ``together`` the pipeline's: ``media_prep.render_together``, what ``media_prep.render``
    calls, each source's channels at once (one decode per source)."""
    script = textwrap.dedent(f"""
        import json, sys, time
        sys.path.insert(0, {str(ROOT)!r})
        from pathlib import Path
        from media.renditions import adapt_image
        if {together!r}:  # (its imports, SQLAlchemy among them, count in the CPU time and the peak)
            from scheduler.publishing.media_prep import render_together
        photos = [Path(p) for p in {[str(p) for p in photos]!r}]
        out = Path({str(out)!r})
        timings = {{}}
        start = time.perf_counter()
        if {together!r}:  # the image renditions only, as sharp makes (YouTube's still video aside)
            made = render_together(
                photos, {CHANNELS!r}, lambda index, channel: adapt_image(photos[index], channel, out)
            )
            assert not any(isinstance(result, Exception) for result in made), made
        else:
            for channel in {CHANNELS!r}:  # one publication per channel, each rendering every source
                began = time.perf_counter()
                for photo in photos:  # the image renditions only, as sharp makes (no still video)
                    adapt_image(photo, channel, out)
                timings[channel] = time.perf_counter() - began
        timings["seconds"] = time.perf_counter() - start
        print(json.dumps(timings))
    """)
    return measured([sys.executable, "-c", script])


def sharp_image(photos: list[Path], out: Path, folder: Path, *, per_core: bool) -> dict[str, float] | None:
    npm = shutil.which("npm")
    if npm is None:
        return None
    if not (folder / "node_modules" / "sharp").exists():
        folder.mkdir(parents=True, exist_ok=True)
        subprocess.run([npm, "init", "-y"], cwd=folder, capture_output=True, check=True)
        subprocess.run(
            [npm, "install", "--no-audit", "--no-fund", "sharp"], cwd=folder, capture_output=True, check=True
        )
    # sharp's default concurrency is 1 thread on glibc Linux without jemalloc (this machine);
    # per_core sets it to one libvips thread per core, as libvips' own default
    concurrency = "sharp.concurrency(require('os').cpus().length);" if per_core else ""
    script = textwrap.dedent(f"""
        const sharp = require('sharp');
        {concurrency}
        (async () => {{
          const timings = {{}};
          const start = process.hrtime.bigint();
          for (const [name, w, h] of {json.dumps(image_targets())}) {{
            const began = process.hrtime.bigint();
            for (const [index, photo] of {json.dumps([str(p) for p in photos])}.entries()) {{
              await sharp(photo).rotate().resize(w, h, {{fit: 'cover', position: sharp.strategy.attention}})
                .jpeg({{quality: 92}}).toFile({json.dumps(str(out))} + '/sharp-' + name + index + '.jpg');
            }}
            timings[name] = Number(process.hrtime.bigint() - began) / 1e9;
          }}
          timings.seconds = Number(process.hrtime.bigint() - start) / 1e9;
          timings.threads = sharp.concurrency();
          console.log(JSON.stringify(timings));
        }})();
    """)
    return measured(["node", "-e", script], cwd=folder)


def median_of(runs: list[dict[str, float]]) -> dict[str, float]:
    """Each measure's median over the runs, and ``<measure>_min``/``_max`` for its range."""
    result: dict[str, float] = {}
    for key in runs[0]:
        values = sorted(run[key] for run in runs)
        result[key] = statistics.median(values)
        result[f"{key}_min"], result[f"{key}_max"] = values[0], values[-1]
    return result


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


def x264_settings(path: Path) -> str:
    """The settings x264 wrote into the stream (its SEI message), without the thread count."""
    data = path.read_bytes()
    start = data.find(b"options: ", data.find(b"x264 - core"))
    if start < 0:
        return "?"
    options = data[start + 9 : data.index(b"\x00", start)].decode().split()
    return " ".join(option for option in options if not option.startswith("threads="))


def seconds(result: dict[str, float], key: str = "seconds") -> str:
    low, high = result.get(f"{key}_min", result[key]), result.get(f"{key}_max", result[key])
    spread = f" ({low:.2f}-{high:.2f})" if high - low >= 0.005 else ""
    return f"{result[key]:.2f} s{spread}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sources", type=int, default=4, help="24 MP photos in the post (default 4)")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each image contender (median)")
    parser.add_argument("--video-seconds", type=float, default=60.0)
    parser.add_argument("--video-repeat", type=int, default=1, help="runs of each video contender (median)")
    parser.add_argument("--skip-sharp", action="store_true")
    parser.add_argument("--skip-video", action="store_true")
    parser.add_argument("--skip-images", action="store_true")
    args = parser.parse_args()
    rows: list[list[str]] = []
    notes: list[str] = []
    with tempfile.TemporaryDirectory(prefix="crosspost-media-bench-") as tmp:
        work = Path(tmp)
        if not args.skip_images:
            photos = [make_photo(work / f"photo-24mp-{number}.jpg", number) for number in range(args.sources)]
            (work / "ours").mkdir()
            ours_runs, together_runs, default_runs, core_runs = [], [], [], []
            for _ in range(args.repeat):  # interleaved, so that a busy moment hits every contender
                ours_runs.append(ours_image(photos, work / "ours"))
                together_runs.append(ours_image(photos, work / "ours", together=True))
                if not args.skip_sharp:
                    default = sharp_image(photos, work, work / "sharp", per_core=False)
                    if default is None:
                        break
                    default_runs.append(default)
                    core_runs.append(sharp_image(photos, work, work / "sharp", per_core=True) or default)
            ours, together = median_of(ours_runs), median_of(together_runs)
            sharps: list[tuple[str, dict[str, float] | None]] = [
                (f"sharp ({int(runs[0]['threads'])} thread{'s' * (runs[0]['threads'] > 1)})", median_of(runs))
                for runs in (default_runs, core_runs)
                if runs
            ]
            label = f"{args.sources} x 24 MP JPEG"
            for key, job in [
                *((channel, f"{label} -> {channel}") for channel in CHANNELS),
                ("seconds", f"{label} -> all 4, old per-publication order"),
            ]:
                for name, theirs in sharps or [("sharp", None)]:
                    rows.append(
                        [
                            job,
                            seconds(ours, key),
                            f"{ours['peak_mb']:.0f} MB" if key == "seconds" else "",
                            name,
                            seconds(theirs, key) if theirs else "skipped",
                            f"{theirs['peak_mb']:.0f} MB" if theirs and key == "seconds" else "",
                            f"{ours[key] / theirs[key]:.2f}x" if theirs else "-",
                            f"{ours['cpu'] / theirs['cpu']:.2f}x" if theirs and key == "seconds" else "",
                        ]
                    )
            for name, theirs in sharps or [("sharp", None)]:
                rows.append(
                    [
                        f"{label} -> all 4, pipeline (a post's channels together)",
                        seconds(together),
                        f"{together['peak_mb']:.0f} MB",
                        name,
                        seconds(theirs) if theirs else "skipped",
                        f"{theirs['peak_mb']:.0f} MB" if theirs else "",
                        f"{together['seconds'] / theirs['seconds']:.2f}x" if theirs else "-",
                        f"{together['cpu'] / theirs['cpu']:.2f}x" if theirs else "",
                    ]
                )
            renditions = args.sources * len(CHANNELS)
            notes.append(
                f"images: {renditions} renditions, median of {args.repeat}; crosspost's pipeline "
                f"{together['seconds'] / renditions * 1000:.0f} ms a rendition, "
                f"{together['seconds'] / args.sources:.2f} s a source (all four channels)"
            )
        if not args.skip_video:
            import imageio_ffmpeg  # type: ignore[import-untyped]

            ffmpeg = imageio_ffmpeg.get_ffmpeg_exe()
            clip = make_clip(work / "clip-1080p.mp4", ffmpeg, args.video_seconds)
            for channel in ("tiktok", "youtube", "x"):
                mine_runs, cli_runs = [], []
                for _ in range(args.video_repeat):
                    mine_runs.append(ours_video(clip, channel, work / f"ours-{channel}.mp4"))
                    cli_runs.append(ffmpeg_video(clip, channel, work / f"ffmpeg-{channel}.mp4", ffmpeg))
                mine, cli = median_of(mine_runs), median_of(cli_runs)
                same = x264_settings(work / f"ours-{channel}.mp4") == x264_settings(work / f"ffmpeg-{channel}.mp4")
                notes.append(f"{channel}: x264 settings {'identical' if same else 'DIFFER'} in both outputs")
                rows.append(
                    [
                        f"{args.video_seconds:g} s 1080p -> {channel}",
                        seconds(mine),
                        f"{mine['peak_mb']:.0f} MB",
                        "ffmpeg CLI",
                        seconds(cli),
                        f"{cli['peak_mb']:.0f} MB",
                        f"{mine['seconds'] / cli['seconds']:.2f}x",
                        f"{mine['cpu'] / cli['cpu']:.2f}x",
                    ]
                )
    header = ["job", "crosspost", "crosspost peak", "against", "their time", "their peak", "ours / theirs", "CPU time"]
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    for index, row in enumerate([header, *rows]):
        print("| " + " | ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)) + " |")
        if index == 0:
            print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    print()
    for note in notes:
        print(note)


if __name__ == "__main__":
    main()
