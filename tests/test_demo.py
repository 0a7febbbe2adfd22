"""`crosspost demo` as `make demo` runs it: a fresh directory, nothing configured, no Redis."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path


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
    outbox = tmp_path / "var" / "demo" / "outbox"
    channels = sorted(path.name for path in outbox.iterdir())
    assert channels == ["demo-linkedin", "demo-tiktok", "demo-x", "demo-youtube"]
    for channel in channels:
        (folder,) = (outbox / channel).iterdir()
        request = json.loads((folder / "request.json").read_text())
        assert request["media_files"] == ["01-event-display.png"]
        assert (folder / "01-event-display.png").stat().st_size > 1000
        assert json.loads((folder / "receipt.json").read_text())["remote_id"].startswith("dryrun-")
    linkedin = json.loads(next((outbox / "demo-linkedin").iterdir()).joinpath("request.json").read_text())
    assert r"\#ParticlePhysics" in linkedin["json"]["commentary"]
