"""Campaigns with media, and `campaign edit`, through the command's entry point: checked when they
are added or changed as their next years' posts will be, so that what would fail next year is
refused today."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from sqlalchemy import select

from scheduler import posts
from scheduler.calendar import campaigns
from scheduler.runtime import Runtime
from scheduler.store import Publication, open_database
from tests.conftest import Clock, make_settings
from tests.helpers import Run, ok, refused, write_image
from tests.media.clips import make_clip

SECRET = "cli-test-secret-of-at-least-32-characters"  # the cli fixture's


def _files(root: Path) -> list[Path]:
    return sorted(p for p in (root / "data" / "media").rglob("*") if p.is_file())


def _runtime(root: Path, now: dt.datetime) -> Runtime:
    """The cli fixture's database, in this process, on a clock the test moves (the sweep's)."""
    settings = make_settings(root / "data", secret_key=SECRET)
    return Runtime(settings=settings, db=open_database(settings.database_url), clock=Clock(now))


@pytest.fixture
def cms(cli: Run) -> Run:
    for args in (
        ["org", "add", "cms"],
        ["user", "add", "ana"],
        ["user", "role", "ana", "--org", "cms", "--role", "contributor"],
        ["user", "add", "bob"],
        ["user", "role", "bob", "--org", "cms", "--role", "contributor"],
        ["channel", "add", "--platform", "tiktok", "--name", "cms-tt", "--dry-run", "--org", "cms"],
        ["channel", "add", "--platform", "x", "--name", "cms-x", "--dry-run", "--org", "cms"],
        ["channel", "add", "--platform", "linkedin", "--name", "cms-li", "--dry-run", "--org", "cms"],
    ):
        ok(cli(*args))
    return cli


ADD = ["campaign", "add", "--observance", "lgbtq-stem-day", "--org", "cms", "--as", "ana"]


def test_a_campaign_with_an_image_on_tiktok_is_accepted_and_its_yearly_post_carries_it(
    cms: Run, tmp_path: Path
) -> None:
    # without media TikTok cannot take it (text-only is refused: issue 12's finding)
    assert "cms-tt (TikTok)" in refused(cms(*ADD, "--channel", "cms-tt", "--text", "Today is {name}"))
    photo = write_image(tmp_path / "stem-day.png", (1200, 800))
    added = ok(
        cms(*ADD, "--channel", "cms-tt", "--text", "Today is {name}", "--media", str(photo), "--alt", "A rainbow")
    )
    assert "media: stem-day.png (image/png" in added
    assert "alt='A rainbow'" in added
    stored = _files(tmp_path)
    assert len(stored) == 1  # once, by content
    view = json.loads(ok(cms("campaign", "show", "1", "--json")))
    assert [m["name"] for m in view["media"]] == ["stem-day.png"]

    # the sweep, at the lead time: that year's post takes the campaign's file
    draft_on = dt.datetime.fromisoformat(view["next"]["draft_on"])
    runtime = _runtime(tmp_path, draft_on)
    try:
        [post_id] = campaigns.sweep(runtime.db, runtime.settings, now=draft_on)
        with runtime.db.read() as session:  # the pipeline renders it for TikTok before it is dispatched
            [ready] = session.scalars(select(Publication.media_ready).where(Publication.post_id == post_id))
        assert ready is False
    finally:
        runtime.db.dispose()
    post = json.loads(ok(cms("post", "show", str(post_id), "--json")))
    assert post["media"] == [
        {
            "name": "stem-day.png",
            "kind": "image",
            "mime": "image/png",
            "bytes": photo.stat().st_size,
            "alt_text": "A rainbow",
        }
    ]
    assert (post["format"], post["author"]) == ("awareness_day", "ana")
    assert _files(tmp_path) == stored  # the same file, not a copy per year


def test_a_video_too_long_for_a_channel_is_refused_at_add_and_nothing_is_stored(cms: Run, tmp_path: Path) -> None:
    talk = make_clip(tmp_path / "talk.mp4", size=(64, 36), fps=4, seconds=142, audio=False)
    error = refused(cms(*ADD, "--channel", "cms-li", "--channel", "cms-x", "--text", "{name}", "--media", str(talk)))
    assert "cms-x (X): talk.mp4 is 142.0 s, X takes at most 140 s" in error
    assert "cms-li" not in error  # LinkedIn takes 30 minutes
    assert _files(tmp_path) == []
    assert json.loads(ok(cms("campaign", "list", "--json"))) == []
    # a broken file is refused as `post create` refuses it
    fake = tmp_path / "fake.mp4"
    fake.write_bytes(b"not a video at all" * 10)
    assert "fake.mp4" in refused(cms(*ADD, "--channel", "cms-li", "--text", "{name}", "--media", str(fake)))
    ok(cms(*ADD, "--channel", "cms-li", "--text", "{name}", "--media", str(talk)))
    assert len(_files(tmp_path)) == 1


def _next_stem_days() -> tuple[dt.date, dt.date]:
    """The CLI runs on the real clock: the next two LGBTQ+ STEM Days (18 November, 10:00 Zurich)."""
    now = dt.datetime.now(dt.UTC)
    year = now.year if now < dt.datetime(now.year, 11, 18, 9, tzinfo=dt.UTC) else now.year + 1
    return dt.date(year, 11, 18), dt.date(year + 1, 11, 18)


def test_campaign_edit_refuses_a_change_that_would_fail_next_year_and_accepts_a_good_one(
    cms: Run, tmp_path: Path
) -> None:
    this_year, next_year = _next_stem_days()
    ok(cms(*ADD, "--channel", "cms-x", "--text", "Today is {name}"))
    before = json.loads(ok(cms("campaign", "show", "1", "--json")))
    # a closure next year on LinkedIn: this year's post would go out, next year's would be refused
    ok(
        cms(
            "queue",
            "blackout",
            "add",
            "closure",
            "--from",
            f"{next_year}T00:00Z",
            "--to",
            f"{next_year + dt.timedelta(days=1)}T00:00Z",
            "--channel",
            "cms-li",
        )
    )
    error = refused(cms("campaign", "edit", "1", "--channel", "cms-x", "--channel", "cms-li", "--as", "ana"))
    assert error.startswith(f"error: on {next_year}: rule 'blackout': 'closure'")
    assert "on cms-li" in error
    # TikTok needs media: a text-only campaign is refused there
    assert "cms-tt (TikTok)" in refused(cms("campaign", "edit", "1", "--channel", "cms-tt", "--as", "ana"))
    # someone else's campaign: only an editor may change it
    assert "rule 'roles': to edit a campaign (campaign 1) in cms one must be its author or an editor" in refused(
        cms("campaign", "edit", "1", "--text", "{name}", "--as", "bob")
    )
    assert "nothing to change" in refused(cms("campaign", "edit", "1", "--as", "ana"))
    assert json.loads(ok(cms("campaign", "show", "1", "--json"))) == before  # unchanged by any refusal

    photo = write_image(tmp_path / "flag.jpg", (1080, 1920), "JPEG")
    edited = ok(
        cms(
            "campaign",
            "edit",
            "1",
            "--channel",
            "cms-x",
            "--channel",
            "cms-tt",
            "--text",
            "The {ordinal} {name} {hashtags}",
            "--media",
            str(photo),
            "--at",
            "11:00",
            "--as",
            "ana",
        )
    )
    assert "campaign 1: lgbtq-stem-day on cms-x, cms-tt" in edited
    assert f"next: {this_year}, published {this_year}T10:00:00+00:00" in edited
    assert "media: flag.jpg (image/jpeg" in edited
    after = json.loads(ok(cms("campaign", "show", "1", "--json")))
    assert (after["channels"], after["publish_time"]) == (["cms-x", "cms-tt"], "11:00")
    # and the media cannot be taken away while TikTok is among its channels
    assert "cms-tt (TikTok)" in refused(cms("campaign", "edit", "1", "--no-media", "--as", "ana"))
    runtime = _runtime(tmp_path, dt.datetime.now(dt.UTC))
    try:
        [event] = [e for e in posts.read_events(runtime.db) if e.kind == "campaign.edited"]
    finally:
        runtime.db.dispose()
    assert (event.actor, event.data["changed"]) == ("ana", ["channels", "media", "publish_time", "text"])


OWN_DAY = """BEGIN:VCALENDAR\r
VERSION:2.0\r
PRODID:-//CMS//outreach//EN\r
BEGIN:VEVENT\r
UID:open-day@cms\r
DTSTART;VALUE=DATE:{start:%Y%m%d}\r
RRULE:FREQ=YEARLY\r
SUMMARY:CMS Open Day\r
END:VEVENT\r
END:VCALENDAR\r
"""


def test_a_text_that_fits_this_year_but_not_the_next_is_refused_on_edit(cms: Run, tmp_path: Path) -> None:
    """{ordinal} grows a character from the 9th to the 10th: the next two years are checked."""
    day = dt.date.today() + dt.timedelta(days=40)
    if (day.month, day.day) == (2, 29):
        day += dt.timedelta(days=1)
    ics = tmp_path / "cms.ics"
    ics.write_text(OWN_DAY.format(start=day.replace(year=day.year - 8)), newline="")  # the 9th edition is next
    ok(cms("calendar", "import", str(ics), "--org", "cms"))
    ok(
        cms(
            "campaign",
            "add",
            "--observance",
            "cms-cms-open-day",
            "--org",
            "cms",
            "--as",
            "ana",
            "--channel",
            "cms-li",
            "--text",
            "The {ordinal} {name}",
        )
    )
    filler = "x" * (3000 - len("The 9th CMS Open Day "))
    error = refused(cms("campaign", "edit", "1", "--text", "The {ordinal} {name} " + filler, "--as", "ana"))
    assert error.startswith(f"error: on {day.replace(year=day.year + 1)}: the post does not fit cms-li (LinkedIn)")
    assert json.loads(ok(cms("campaign", "show", "1", "--json")))["text"] == "The {ordinal} {name}"
    # one character less fits both years
    ok(cms("campaign", "edit", "1", "--text", "The {ordinal} {name} " + filler[1:], "--as", "ana"))


def test_a_campaigns_focus_is_kept_with_its_file(cms: Run, tmp_path: Path) -> None:
    from scheduler.store import CampaignMedia

    photo = write_image(tmp_path / "stem-day.png", (1200, 800))
    args = [*ADD, "--channel", "cms-tt", "--text", "Today is {name}", "--media", str(photo), "--focus", "0.9,0.1"]
    ok(cms(*args))
    assert "X and Y must each be between 0 and 1" in refused(cms(*args[:-1], "2,0"))
    runtime = _runtime(tmp_path, dt.datetime.now(dt.UTC))
    try:
        with runtime.db.read() as session:
            assert [(m.focus_x, m.focus_y) for m in session.scalars(select(CampaignMedia))] == [(0.9, 0.1)]
    finally:
        runtime.db.dispose()
