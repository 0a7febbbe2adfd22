"""`crosspost demo` as `make demo` runs it: a fresh directory, nothing configured, no Redis."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from PIL import Image

from media.video import probe


def test_demo_publishes_to_four_dry_run_channels(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CROSSPOST_")}
    result = subprocess.run(
        [sys.executable, "-m", "scheduler.cli", "demo"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "4 of 4 publications published" in result.stdout
    # a contributor's post, signed off by an editor under the default policy, and a yearly campaign
    assert "eve (editor) signed it off for demo (base); it is approved" in result.stdout
    assert "campaign 1 posts on " in result.stdout
    assert "(women-and-girls-in-science-day)" in result.stdout
    # where the data is, and the commands that look at it, with that data
    data = (tmp_path / "var" / "demo").resolve()
    assert f"export CROSSPOST_DATA_DIR={data}" in result.stdout
    listed = subprocess.run(
        [sys.executable, "-m", "scheduler.cli", "post", "list", "--json"],
        capture_output=True,
        text=True,
        env={**env, "CROSSPOST_DATA_DIR": str(data)},
        timeout=60,
    )
    assert listed.returncode == 0, listed.stderr
    assert len(json.loads(listed.stdout)) == 1
    outbox = tmp_path / "var" / "demo" / "outbox"
    channels = sorted(path.name for path in outbox.iterdir())
    assert channels == ["demo-linkedin", "demo-tiktok", "demo-x", "demo-youtube"]
    expected = {
        # each channel gets its own rendition, made ahead of time, not the uploaded PNG
        "demo-x": [("01-event-display-x-image.jpg", (1600, 900))],
        "demo-linkedin": [("01-event-display-linkedin-image.jpg", (1200, 627))],
        "demo-tiktok": [("01-event-display-tiktok-image.jpg", (506, 900))],
        "demo-youtube": [
            ("01-event-display-youtube-video.mp4", None),
            ("02-event-display-youtube-thumbnail.jpg", (1280, 720)),
        ],
    }
    for channel in channels:
        (folder,) = (outbox / channel).iterdir()
        request = json.loads((folder / "request.json").read_text())
        assert request["media_files"] == [name for name, _ in expected[channel]]
        for name, size in expected[channel]:
            if size is not None:
                with Image.open(folder / name) as image:
                    assert (image.format, image.size) == ("JPEG", size)
        assert json.loads((folder / "receipt.json").read_text())["remote_id"].startswith("dryrun-")
    youtube = next((outbox / "demo-youtube").iterdir())
    assert probe(youtube / "01-event-display-youtube-video.mp4").codec == "h264"
    linkedin = json.loads(next((outbox / "demo-linkedin").iterdir()).joinpath("request.json").read_text())
    assert r"\#ParticlePhysics" in linkedin["json"]["commentary"]

    # the last lines: the one command that opens the web app on the demo's data, and its sign-in
    last = result.stdout.strip().splitlines()[-1]
    assert last.strip().startswith(f"CROSSPOST_DATA_DIR={data} ")
    assert " up " in last
    _web_app_on_the_demo(data, env, post_id=1, log=tmp_path / "up.log")


def _web_app_on_the_demo(data: Path, env: dict[str, str], *, post_id: int, log: Path) -> None:
    """Run that command (on a free port) and sign in as the demo's editor: the demo's post is there."""
    import socket
    import time

    import httpx

    with socket.socket() as probe_socket:
        probe_socket.bind(("127.0.0.1", 0))
        port = probe_socket.getsockname()[1]
    with log.open("wb") as output:
        server = subprocess.Popen(
            [sys.executable, "-m", "scheduler.cli", "up"],
            env={**env, "CROSSPOST_DATA_DIR": str(data), "CROSSPOST_WEB_PORT": str(port)},
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"{base}/healthz", timeout=2)
                break
            except httpx.TransportError:
                assert server.poll() is None, log.read_text()
                assert time.monotonic() < deadline, log.read_text()
                time.sleep(0.1)
        with httpx.Client(base_url=base, timeout=10) as browser:
            signed = browser.post("/signin", data={"name": "eve", "password": "crosspost-demo"})
            assert signed.status_code == 303, signed.text
            page = browser.get(f"/posts/{post_id}")
            assert page.status_code == 200
            assert "First collisions of the new run" in page.text
    finally:
        server.terminate()
        server.wait(timeout=30)
