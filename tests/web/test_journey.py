"""The comms team's journey in a real browser (Debian's Chromium, headless, driven by Playwright):
a contributor composes a post with an image for four dry-run channels, sees the four previews and
submits; the approver the policy names sees what changed and signs off; the post is on the
calendar and, once published, on the board; a partner's submission reaches the partner inbox.
Every page is checked with axe-core (no serious or critical violations) and photographed at
1280 px and at phone width (artifacts/screenshots/)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from scheduler import posts
from scheduler.accounts.passwords import set_password
from scheduler.demo import draw_sample_image
from tests.api.conftest import World
from tests.helpers import publish_due

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
AXE = Path(__file__).parent / "vendor" / "axe-4.14.1.min.js"
AXE_SOURCE = AXE.read_text(encoding="utf-8")
SHOTS = Path(os.environ.get("CROSSPOST_ARTIFACTS", Path(__file__).parents[2] / "artifacts")) / "screenshots"
PASSWORD = "a long enough pass phrase"
WIDTHS = {"desktop": 1280, "phone": 390}

if not Path(CHROMIUM).exists():
    pytest.skip(
        "Debian's chromium is not installed (make test installs it when run as root with apt-get)",
        allow_module_level=True,
    )

playwright_api = pytest.importorskip(
    "playwright.sync_api", reason="playwright is a test extra: pip install -e '.[test]'"
)


@pytest.fixture
def browser() -> Iterator[Any]:
    with playwright_api.sync_playwright() as driver:
        chromium = driver.chromium.launch(
            executable_path=CHROMIUM,
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        yield chromium
        chromium.close()


def _check_and_photograph(page: Any, name: str) -> None:
    """axe-core on the page (WCAG 2.1 A and AA rules): no serious or critical violation; then a
    screenshot at desktop and phone width."""
    # evaluated through the browser's debugging protocol, which the page's Content-Security-Policy
    # does not govern: the app itself runs under its CSP throughout the journey
    page.evaluate(AXE_SOURCE)
    violations = page.evaluate(
        """async () => {
            const tags = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'];
            const result = await axe.run(document, {runOnly: {type: 'tag', values: tags}});
            return result.violations.map(v => ({
                id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map(n => n.target.join(' ')).slice(0, 3),
            }));
        }"""
    )
    serious = [v for v in violations if v["impact"] in ("serious", "critical")]
    assert serious == [], f"{name}: {serious}"
    SHOTS.mkdir(parents=True, exist_ok=True)
    size = page.viewport_size
    for label, width in WIDTHS.items():
        page.set_viewport_size({"width": width, "height": 900})
        page.screenshot(path=str(SHOTS / f"{name}-{label}.png"), full_page=True)
    page.set_viewport_size(size)


def _sign_in(page: Any, world: World, who: str) -> None:
    page.goto(f"{world.url}/signin")
    page.get_by_label("User name").fill(who)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/calendar")


def test_compose_preview_submit_approve_publish_and_partner_inbox(world: World, browser: Any, tmp_path: Path) -> None:
    runtime = world.runtime
    for name, platform in (("collab-tt", "tiktok"), ("collab-yt", "youtube")):
        posts.add_channel(
            runtime.db, runtime.settings, name=name, platform=platform, dry_run=True, org="collab", now=world.clock()
        )
    for who in ("carol", "apu", "alice"):
        set_password(runtime.db, runtime.settings, who, PASSWORD, now=world.clock())
    image = tmp_path / "event-display.jpg"
    Image.open(draw_sample_image(tmp_path / "event-display.png")).convert("RGB").save(image, "JPEG", quality=90)
    due = world.clock() + timedelta(hours=26)  # after the major rule's 24 h sign-off deadline

    # a contributor composes for four channels with an image, and sees each channel's version
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    _sign_in(page, world, "carol")
    _check_and_photograph(page, "calendar")
    page.goto(f"{world.url}/compose")
    for channel in ("collab-x", "collab-li", "collab-tt", "collab-yt"):
        page.get_by_label(channel, exact=False).check()
    page.get_by_label("Text", exact=True).fill("First light for the new detector! " * 12)
    page.get_by_text("thread of").first.wait_for()  # X's counter: the text becomes a thread
    page.set_input_files("#upload", str(image))
    page.get_by_text("Uploaded event-display.jpg").wait_for()
    page.get_by_label("Alt text for event-display.jpg").fill("An event display: tracks from the collision point")
    page.select_option("#importance", "major")
    page.get_by_label("Title (YouTube, TikTok photo posts)").fill("First light")
    page.get_by_label("At a time").check()
    page.fill("#at_date", due.date().isoformat())
    page.fill("#at_time", due.strftime("%H:%M"))
    page.fill("#tz", "UTC")
    _check_and_photograph(page, "composer")
    page.get_by_label("Save as a draft and see the previews").check()
    page.get_by_role("button", name="Save").click()
    page.wait_for_load_state()
    refusal = page.locator("[role=alert]")
    assert refusal.count() == 0, refusal.first.inner_text()
    page.wait_for_url("**/posts/*")
    post_id = int(page.url.rsplit("/", 1)[1])
    previews = page.locator("section.preview")
    assert previews.count() == 4
    for channel in ("collab-x", "collab-li", "collab-tt", "collab-yt"):
        assert page.locator(f"#preview-{channel}").is_visible()
    assert page.locator("section.preview img").count() >= 3  # the renditions, each at its platform's ratio
    _check_and_photograph(page, "composer-previews")
    page.get_by_role("button", name="Submit for sign-off").click()
    page.get_by_text("Submitted for sign-off.").wait_for()
    # an edit after submitting: the approver will see what changed
    page.get_by_text("Edit the text").click()
    page.get_by_label("Text", exact=True).fill("First light for the new detector, after years of work! " * 8)
    page.get_by_role("button", name="Save the change").click()
    page.wait_for_url(f"**/posts/{post_id}")
    context.close()

    # the approver the policy names for a major post sees it, with the diff, and signs it off
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    _sign_in(page, world, "apu")
    page.goto(f"{world.url}/approvals")
    item = page.locator(f"#item-{post_id}")
    item.wait_for()
    # one line per rule that holds it, with its channels (not the same rule once per channel)
    assert page.get_by_text("collab-li, collab-tt, collab-x, collab-yt: collab's rule 'major").count() == 1
    assert page.locator("p.diff ins").count() >= 1
    assert page.locator("p.diff del").count() >= 1
    _check_and_photograph(page, "approvals")
    page.get_by_role("button", name="Sign off").first.click()
    page.get_by_text(f"Post {post_id} signed off.").wait_for()
    page.goto(f"{world.url}/calendar?view=list&start={world.clock().date().isoformat()}&zone=UTC")
    assert page.locator(f"a[href='/board?post={post_id}']").count() == 4
    context.close()

    # it goes out (the dispatcher's and a worker's work, in this thread); the board shows it
    world.clock.advance(timedelta(hours=26, minutes=1).total_seconds())
    publish_due(runtime)
    publish_due(runtime)
    states = {p["channel"]: p["state"] for p in posts.show_post(runtime.db, post_id)["publications"]}
    assert set(states.values()) == {"published"}, states

    # a partner's submission reaches the host's partner inbox
    with world.client("paula") as api:
        submitted = api.post(
            "/posts",
            json={
                "text": "From our experiment",
                "channels": ["collab-x"],
                "at": (due + timedelta(days=1)).isoformat(),
                "submit_to": "collab",
            },
        )
        assert submitted.status_code == 201, submitted.text
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    _sign_in(page, world, "alice")
    page.goto(f"{world.url}/board")
    assert page.locator("td .state-published").count() >= 4
    _check_and_photograph(page, "board")
    page.goto(f"{world.url}/partners")
    assert page.get_by_text("From our experiment").is_visible()
    _check_and_photograph(page, "partners")
    today, tomorrow = world.clock().date(), (world.clock() + timedelta(days=1)).date()
    page.goto(f"{world.url}/reports?start={today.isoformat()}&end={tomorrow.isoformat()}")
    assert page.locator(".bar").count() == 4
    _check_and_photograph(page, "reports")
    page.goto(f"{world.url}/channels")
    _check_and_photograph(page, "channels")
    page.goto(f"{world.url}/calendar?start={world.clock().date().isoformat()}&zone=UTC")
    _check_and_photograph(page, "calendar-month")
    context.close()
