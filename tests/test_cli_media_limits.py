"""Hostile and careless media through the real `crosspost` command (issue 11, findings 3, 4, 9):
what cannot be rendered is refused when the post is made, with one line naming the limit; what
fails later reaches a person; a refused post leaves nothing in the media store."""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from PIL import Image

from media import renditions
from scheduler.store import open_database
from tests.helpers import Run, ok, refused, write_image
from tests.media.clips import corrupt_frames, make_clip, make_mjpeg, make_still_clip

AT = ("--at", "2027-03-08 10:00", "--tz", "Europe/Zurich")


def _media_files(tmp_path: Path) -> list[Path]:
    """Every file in the media store (originals and renditions)."""
    store = tmp_path / "data" / "media"
    return sorted(path for path in store.rglob("*") if path.is_file()) if store.exists() else []


def _channels(cli: Run, *platforms: str) -> list[str]:
    for platform in platforms:
        ok(cli("channel", "add", "--platform", platform, "--name", f"cms-{platform}", "--dry-run"))
    return [f"cms-{platform}" for platform in platforms]


def _one_pixel(folder: Path) -> Path:
    return write_image(folder / "pixel.png", (1, 1))


def _line(folder: Path) -> Path:
    return write_image(folder / "line.png", (4000, 2))


def _needle(folder: Path) -> Path:
    return make_still_clip(folder / "needle.mp4", (2, 16000), seconds=1.0)


def _corrupt(folder: Path) -> Path:
    clip = make_clip(folder / "good.mp4", size=(64, 36), fps=10, seconds=1.0, audio=False)
    return corrupt_frames(clip, folder / "corrupt.mp4")


def _giant_mjpeg(folder: Path) -> Path:
    # the 12000x12000 one-second MJPEG, in 560 KB; decoding it took 2.7 GB to render
    return make_mjpeg(folder / "giant.mp4", [(12000, 12000)])


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (_one_pixel, "pixel.png: 1x1 has a side under 4 px, the least crosspost takes for an image"),
        (_line, "line.png: 4000x2 has a side under 4 px"),
        (_needle, "needle.mp4: 2x16000 is over the limit of 8192 px a side for a video"),
        (_corrupt, "corrupt.mp4: the video's first frames cannot be decoded"),
        (_giant_mjpeg, "giant.mp4: the video's frame size cannot be read, or is over the limit of 35,389,440 pixels"),
    ],
    ids=["1x1-png", "4000x2-png", "2x16000-video", "corrupt-frames-mp4", "12000x12000-mjpeg"],
)
def test_media_that_cannot_be_rendered_is_refused_when_the_post_is_made(
    cli: Run, tmp_path: Path, make: Callable[[Path], Path], message: str
) -> None:
    # finding 3 (and 4): each of these passed `post create` and then sat in `scheduled` for ever
    channels = _channels(cli, "x", "linkedin")
    media = make(tmp_path)
    args = ["post", "create", "--text", "hostile", "--media", str(media), *AT]
    line = refused(cli(*args, *(arg for name in channels for arg in ("--channel", name))))
    assert message in line
    assert json.loads(cli("post", "list", "--json").stdout) == []
    assert _media_files(tmp_path) == []  # finding 9: nothing kept


def test_a_giant_video_is_refused_before_a_frame_is_decoded(tmp_path: Path) -> None:
    # finding 4: the frame caps hold where media is rendered too, in little memory (the
    # 12000x12000 MJPEG took 2.7 GB on commit a863fdf); a real process, to measure it alone
    giant = make_mjpeg(tmp_path / "giant.mp4", [(12000, 12000)], components=3)
    env = {
        **os.environ,
        "CROSSPOST_DATA_DIR": str(tmp_path / "data"),
        "CROSSPOST_SECRET_KEY": "cli-test-secret-of-at-least-32-characters",
    }
    for name in ("CROSSPOST_BROKER_URL", "CROSSPOST_DATABASE_URL"):
        env.pop(name, None)
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    result = subprocess.run(
        [sys.executable, "-m", "scheduler.cli", "media", "adapt", str(giant), "--channel", "x", "--out", "out"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=120,
    )
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    assert "over the limit of 35,389,440 pixels" in refused(result)
    if peak > before:  # the largest child so far was this one: its own peak
        assert peak < 400 * 1024, f"{peak // 1024} MB"


def test_a_frame_that_grows_mid_stream_is_stopped_by_the_decoder(tmp_path: Path) -> None:
    # the first frames are small, so the post is accepted; the decoder's own cap stops the giant one
    clip = make_mjpeg(tmp_path / "grows.mp4", [(64, 48)] * 40 + [(12000, 12000)], fps=10)
    from media.video import verify
    from scheduler.errors import InvalidMedia

    assert verify(clip).width == 64
    with pytest.raises(InvalidMedia, match=r"grows.mp4: .*a frame over 35,389,440 pixels"):
        renditions.adapt(clip, "tiktok", tmp_path / "out")


def test_a_refused_post_leaves_no_media_in_the_store(cli: Run, tmp_path: Path) -> None:
    # finding 9: refused before the write (text too long), and inside it (no posting schedule)
    (x,) = _channels(cli, "x")
    photo = write_image(tmp_path / "photo.png", (640, 360))
    line = refused(cli("post", "create", "--text", "é " * 4000, "--media", str(photo), "--channel", x, *AT))
    assert "over the limit" in line
    assert _media_files(tmp_path) == []
    line = refused(cli("post", "create", "--text", "queued", "--media", str(photo), "--channel", x, "--queue"))
    assert "has no posting schedule" in line
    assert _media_files(tmp_path) == []

    # a file another post uses stays, whatever happens to a later post with the same file
    ok(cli("post", "create", "--text", "kept", "--media", str(photo), "--channel", x, *AT))
    (kept,) = _media_files(tmp_path)
    refused(cli("post", "create", "--text", "queued", "--media", str(photo), "--channel", x, "--queue"))
    assert _media_files(tmp_path) == [kept]
    with Image.open(kept) as image:
        assert image.size == (640, 360)


def _objects(printed: str) -> list[dict[str, object]]:
    """What `events --json` prints: one JSON object after the other."""
    decoder, found, at = json.JSONDecoder(), [], 0
    while printed[at:].strip():
        at += len(printed[at:]) - len(printed[at:].lstrip())
        event, at = decoder.raw_decode(printed, at)
        found.append(event)
    return found


def _up_until(cli: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, done: Callable[[str], bool]) -> None:
    """`crosspost up` in this process until ``done(state of post 1's first publication)``, or 60 s."""
    from scheduler.cli import run

    stop = threading.Event()
    db = open_database(f"sqlite:///{tmp_path / 'data' / 'crosspost.db'}")

    def watch() -> None:
        deadline = time.monotonic() + 60
        while not stop.is_set() and time.monotonic() < deadline:
            with db.transaction() as session:
                state = session.connection().exec_driver_sql("SELECT state FROM publications ORDER BY id").scalar()
            if state is not None and done(str(state)):
                break
            time.sleep(0.2)
        stop.set()

    monkeypatch.setattr(run, "_stop_on_signals", lambda: stop)
    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        ok(cli("up"))
    finally:
        stop.set()
        watcher.join()
        db.dispose()


def test_an_error_while_rendering_reaches_a_person(cli: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # finding 3: whatever rendering raises (here what a 1x1 PNG raised on a863fdf), the publication
    # leaves `scheduled` for `needs_attention`, with the reason on the row and in the event log
    (x,) = _channels(cli, "x")
    photo = write_image(tmp_path / "photo.png", (640, 360))
    ok(cli("post", "create", "--text", "rendered later", "--media", str(photo), "--channel", x, *AT))

    def broken(*_: object, **__: object) -> list[renditions.Rendition]:
        raise ValueError("Coordinate 'right' is less than 'left'")

    monkeypatch.setattr(renditions, "adapt", broken)
    _up_until(cli, tmp_path, monkeypatch, lambda state: state != "scheduled")

    (publication,) = json.loads(ok(cli("post", "show", "1", "--json")))["publications"]
    assert publication["state"] == "needs_attention"
    assert "ValueError: Coordinate 'right' is less than 'left'" in publication["last_error"]
    events = _objects(ok(cli("events", "--json", "--post", "1")))
    held = [event for event in events if event.get("to_state") == "needs_attention"]
    assert len(held) == 1
    assert "the renditions could not be made" in held[0]["message"]
