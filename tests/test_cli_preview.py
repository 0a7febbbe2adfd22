"""`crosspost post preview`: exactly what each channel will receive, before it goes out, without
touching the publications; the same bytes the dry-run outbox then holds."""

from __future__ import annotations

import json
import os
from pathlib import Path

from scheduler.runtime import Runtime
from scheduler.settings import Settings
from scheduler.store import open_database
from scheduler.when import utcnow
from tests.conftest import Clock
from tests.helpers import Run, ok, publication_states, publish_due, write_image

PLATFORMS = ("x", "linkedin", "tiktok", "youtube")
LONG = " ".join(f"Sentence {n} about the new detector and what it will let us measure." for n in range(1, 9))


def _channels(cli: Run) -> None:
    for platform in PLATFORMS:
        ok(cli("channel", "add", "--platform", platform, "--name", f"cms-{platform}", "--dry-run"))


def test_a_preview_is_byte_for_byte_what_the_dry_run_outbox_then_publishes(cli: Run, tmp_path: Path) -> None:
    _channels(cli)
    image = write_image(tmp_path / "detector.png", (1600, 1200))
    created = cli(
        "post",
        "create",
        "--text",
        LONG,
        "--title",
        "The new detector",
        "--media",
        str(image),
        "--alt",
        "The detector",
        *[arg for p in PLATFORMS for arg in ("--channel", f"cms-{p}")],
        "--now",
    )
    assert created.returncode == 0, created.stderr
    # one line per channel: length against the limit, thread parts, media
    assert "cms-x (X): " in created.stdout
    assert "cms-x (X): 535/280, a thread of 2, 1 image" in created.stdout
    out = tmp_path / "preview"
    shown = cli("post", "preview", "1", "--out", str(out), "--json")
    assert shown.returncode == 0, shown.stderr
    previews = {p["channel"]: p for p in json.loads(shown.stdout)}
    assert set(previews) == {f"cms-{p}" for p in PLATFORMS}
    assert len(previews["cms-x"]["parts"]) == 2  # the X thread split, as it will be posted
    assert (out / "index.html").is_file()
    page = (out / "index.html").read_text()
    assert all(f"cms-{p}" in page for p in PLATFORMS)
    assert "aspect-ratio:" in page
    # nothing moved: the preview touches no publication
    settings = Settings(data_dir=tmp_path / "data", secret_key=os.environ["CROSSPOST_SECRET_KEY"])
    runtime = Runtime(settings=settings, db=open_database(settings.database_url), clock=Clock(utcnow()))
    assert set(publication_states(runtime, 1).values()) == {"scheduled"}
    publish_due(runtime)
    assert set(publication_states(runtime, 1).values()) == {"published"}
    for channel in previews:
        [published] = list((settings.outbox / channel).iterdir())
        sent = {f.name: f.read_bytes() for f in published.iterdir() if f.name != "receipt.json"}
        seen = {f.name: f.read_bytes() for f in (out / channel).iterdir()}
        assert sent == seen, channel
        assert any(name.endswith(".jpg") for name in seen) or channel == "cms-youtube"
    runtime.db.dispose()


def test_a_preview_of_one_channel_and_its_refusals(cli: Run, tmp_path: Path) -> None:
    _channels(cli)
    ok(
        cli(
            "post",
            "create",
            "--text",
            "hello",
            "--channel",
            "cms-x",
            "--channel",
            "cms-linkedin",
            "--at",
            "2030-01-01T10:00Z",
        )
    )
    one = cli("post", "preview", "1", "--channel", "cms-linkedin", "--out", str(tmp_path / "p"))
    assert one.returncode == 0, one.stderr
    assert sorted(p.name for p in (tmp_path / "p").iterdir()) == ["cms-linkedin", "index.html"]
    assert json.loads((tmp_path / "p" / "cms-linkedin" / "request.json").read_text())["method"] == "POST"
    missing = cli("post", "preview", "1", "--channel", "cms-tiktok")
    assert missing.returncode == 2
    assert missing.stderr == "error: post 1 is not on cms-tiktok; its channels: cms-linkedin, cms-x\n"
    nothing = cli("post", "preview", "99")
    assert nothing.returncode == 1
    assert nothing.stderr == "error: no post with id 99\n"
