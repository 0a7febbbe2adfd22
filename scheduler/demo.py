"""`crosspost demo`: a fresh embedded install, an organisation with four dry-run channels, one post
written by a contributor and signed off by an editor, published for real through the whole
pipeline into the outbox, an awareness-day campaign for every year, then a table of what happened
and the commands that look at the demo's data."""

from __future__ import annotations

import math
import shutil
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from PIL import Image, ImageDraw, ImageFilter

from scheduler import posts
from scheduler.accounts.passwords import set_password
from scheduler.calendar import campaigns
from scheduler.cli._output import print_table
from scheduler.editorial import people, signoff
from scheduler.publishing.embedded import run_embedded
from scheduler.publishing.states import FINAL
from scheduler.runtime import build_runtime
from scheduler.settings import Settings

CAMPAIGN_DAY = "women-and-girls-in-science-day"
# the demo's people sign in to the web app with this (a demo on the operator's own machine, never a real install)
DEMO_PASSWORD = "crosspost-demo"  # noqa: S105
CHANNELS = [("demo-x", "x"), ("demo-linkedin", "linkedin"), ("demo-tiktok", "tiktok"), ("demo-youtube", "youtube")]

TEXT = (
    "First collisions of the new run (2026) are in! Our detector recorded them at 13:05 CET: "
    "thanks to the 3,000 people in 40 countries who made it happen. #ParticlePhysics #OpenScience"
)


def draw_sample_image(path: Path) -> Path:
    """A 1600x900 event display: rings and particle tracks, so crops and previews show something."""
    width, height = 1600, 900
    image = Image.new("RGB", (width, height), (12, 18, 38))
    draw = ImageDraw.Draw(image)
    centre = (width // 2, height // 2)
    for radius, colour in ((380, (40, 70, 140)), (300, (60, 110, 190)), (200, (90, 150, 220)), (90, (140, 190, 240))):
        draw.ellipse(
            [centre[0] - radius, centre[1] - radius, centre[0] + radius, centre[1] + radius], outline=colour, width=6
        )
    for index in range(24):
        angle = index * 2 * math.pi / 24 + (index % 5) * 0.07
        length = 260 + (index * 67) % 420
        end = (centre[0] + length * math.cos(angle), centre[1] + length * math.sin(angle))
        draw.line([centre, end], fill=(255, 200 - index * 5, 60 + index * 7), width=3)
    image = image.filter(ImageFilter.GaussianBlur(0.8))
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path, "PNG")
    return path


def run_demo(directory: Path, *, timeout: float) -> int:
    shutil.rmtree(directory, ignore_errors=True)
    # The demo is self-contained: its own data dir, always embedded, quick to dispatch.
    settings = Settings(
        data_dir=directory, database_url="", broker_url=None, outbox_dir=None, media_dir=None, dispatch_interval=0.2
    )
    runtime = build_runtime(settings)
    now = runtime.clock()
    # an organisation with its default policy: a contributor writes, an editor signs off
    people.add_org(runtime.db, name="demo", display_name="Demo collaboration", now=now)
    for user, role in (("ana", "contributor"), ("eve", "editor")):
        people.add_user(runtime.db, name=user, now=now)
        people.set_role(runtime.db, user=user, org="demo", role=role, now=now)
        set_password(runtime.db, settings, user, DEMO_PASSWORD, now=now)  # for the web app on the demo's data
    for name, platform in CHANNELS:
        posts.add_channel(
            runtime.db,
            settings,
            name=name,
            platform=platform,
            timezone="Europe/Zurich",
            dry_run=True,
            org="demo",
            now=now,
        )
    image = draw_sample_image(directory / "samples" / "event-display.png")
    due = (now + timedelta(seconds=6)).replace(microsecond=0) + timedelta(seconds=1)  # room for the renditions
    post_id = posts.create_post(
        runtime.db,
        settings,
        text=TEXT,
        title="First collisions of the new run",
        link="https://example.org/news/first-collisions",
        channels=[name for name, _ in CHANNELS],
        at=due.isoformat(),
        media=[posts.MediaInput(image, "Event display: coloured particle tracks fanning out from the collision point")],
        actor="ana",
        now=now,
    )
    print(f"demo: ana wrote post {post_id} for {len(CHANNELS)} dry-run channels, due {due:%H:%M:%S} UTC")
    signed = signoff.approve(runtime.db, post_id, actor="eve", now=runtime.clock())
    print(f"demo: eve (editor) signed it off for {', '.join(signed.signed)}; it is {signed.review}")
    campaign_id, _ = campaigns.add_campaign(
        runtime.db,
        settings,
        observance_id=CAMPAIGN_DAY,
        channels=["demo-x", "demo-linkedin"],  # TikTok and YouTube take no text-only post
        text="Today is the {ordinal} {name}. {hashtags}",
        org="demo",
        actor="ana",
        now=now,
    )
    upcoming = campaigns.campaign_view(runtime.db, campaign_id, now=now)["next"]
    print(
        f"demo: campaign {campaign_id} posts on {upcoming['date']} every year ({CAMPAIGN_DAY}); "
        f"its draft is written on {upcoming['draft_on'][:10]} for sign-off: {upcoming['text']!r}"
    )

    stop = threading.Event()
    loop = threading.Thread(target=run_embedded, args=(runtime, stop), daemon=True)
    loop.start()
    deadline = time.monotonic() + timeout
    view = posts.show_post(runtime.db, post_id)
    while time.monotonic() < deadline:
        view = posts.show_post(runtime.db, post_id)
        if all(p["state"] in FINAL for p in view["publications"]):
            break
        time.sleep(0.2)
    stop.set()
    loop.join()

    rows = []
    for publication in view["publications"]:
        late = "-"
        if publication["published_at"]:
            seconds = (
                runtime.clock().fromisoformat(publication["published_at"])
                - runtime.clock().fromisoformat(publication["due_at"])
            ).total_seconds()
            late = f"{seconds:.2f} s"
        outbox = settings.outbox / publication["channel"] / f"{publication['id']:08d}"
        rows.append([publication["channel"], publication["state"], late, outbox if outbox.exists() else "-"])
    print_table(["channel", "state", "late by", "outbox"], rows)
    published = sum(1 for p in view["publications"] if p["state"] == "published")
    print(f"{published} of {len(rows)} publications published; open the outbox folders to see what each channel gets")
    _how_to_go_on(directory, post_id)
    return 0 if published == len(rows) else 1


def _how_to_go_on(directory: Path, post_id: int) -> None:
    """The demo's data stays: say where, and the commands that look at it."""
    beside = Path(sys.executable).parent / "crosspost"  # the venv's own, when run from one
    command = str(beside) if beside.exists() else "crosspost"
    print()
    print(f"The demo's data is in {directory.resolve()}. To look at it:")
    print(f"  export CROSSPOST_DATA_DIR={directory.resolve()}")
    for args in (
        "post list",
        f"post show {post_id}",
        f"post signoffs --post {post_id}",
        "campaign list",
        "events",
        "report",
        "calendar list --year " + str(datetime.now(UTC).year + 1),
    ):
        print(f"  {command} {args}")
    print()
    print(
        f"The web app on the demo's data (sign in as eve, an editor, or ana, a contributor; password {DEMO_PASSWORD}):"
    )
    print(f"  CROSSPOST_DATA_DIR={directory.resolve()} {command} up   # then open http://127.0.0.1:8000")
