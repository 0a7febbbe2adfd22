"""The web app over real HTTP (no browser): sign-in, the session cookie, CSRF, the calendar."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

import httpx

from scheduler import posts
from scheduler.accounts.passwords import set_password
from tests.api.conftest import World

PASSWORD = "correct horse battery staple"


@contextmanager
def _signed_in(world: World, who: str) -> Iterator[httpx.Client]:
    set_password(world.runtime.db, world.runtime.settings, who, PASSWORD, now=world.clock())
    with httpx.Client(base_url=world.url, timeout=30) as browser:
        yield _sign_in(browser, who)


def _sign_in(browser: httpx.Client, who: str) -> httpx.Client:
    answer = browser.post("/signin", data={"name": who, "password": PASSWORD, "next": "/calendar"})
    assert answer.status_code == 303, answer.text
    assert answer.headers["location"] == "/calendar"
    cookie = answer.headers["set-cookie"].lower()
    assert "httponly" in cookie
    assert "samesite=lax" in cookie
    return browser


def _csrf(page: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', page)
    assert found
    return found.group(1)


def test_a_page_sends_a_stranger_to_sign_in_and_back(world: World) -> None:
    with httpx.Client(base_url=world.url, timeout=30) as stranger:
        answer = stranger.get("/calendar?view=week")
        assert answer.status_code == 303
        assert answer.headers["location"] == "/signin?next=/calendar%3Fview%3Dweek"
        wrong = stranger.post("/signin", data={"name": "carol", "password": "not her password at all"})
        assert wrong.status_code == 401
        assert 'role="alert"' in wrong.text
        # another site's form cannot sign the browser in (login CSRF): a foreign Origin is refused
        foreign = stranger.post(
            "/signin", data={"name": "carol", "password": "x"}, headers={"Origin": "https://evil.example"}
        )
        assert foreign.status_code == 403
        # an open redirect is not possible: a next outside the site goes to the calendar
        assert stranger.get("/signin", params={"next": "//evil.example/"}).text.count('value="/calendar"') == 1


def test_the_calendar_shows_posts_days_and_who_is_signed_in(world: World) -> None:
    due = world.clock() + timedelta(days=2)
    post_id = posts.create_post(
        world.runtime.db,
        world.runtime.settings,
        text="Calendar entry",
        channels=["collab-x"],
        at=due.isoformat(),
        actor="alice",
        now=world.clock(),
    )
    with _signed_in(world, "alice") as browser:
        page = browser.get("/calendar", params={"view": "list", "start": world.clock().date().isoformat()})
        assert page.status_code == 200
        assert "The Collaboration · admin" in page.text
        assert f"/board?post={post_id}" in page.text
        assert "Calendar entry" in page.text
        month = browser.get("/calendar", params={"start": "2027-03-01"})
        assert "International Women" in month.text  # the awareness-day layer


def test_moving_a_post_without_the_csrf_token_is_refused_and_with_it_reschedules(world: World) -> None:
    due = world.clock() + timedelta(days=2)
    post_id = posts.create_post(
        world.runtime.db,
        world.runtime.settings,
        text="Move me",
        channels=["collab-x"],
        at=due.isoformat(),
        actor="alice",
        now=world.clock(),
    )
    publication = posts.show_post(world.runtime.db, post_id)["publications"][0]
    target = (due + timedelta(days=3)).date()
    with _signed_in(world, "alice") as browser:
        refused = browser.post("/calendar/move", data={"publication": publication["id"], "day": target.isoformat()})
        assert refused.status_code == 403
        assert posts.show_post(world.runtime.db, post_id)["publications"][0]["due_at"] == publication["due_at"]
        token = _csrf(browser.get("/calendar").text)
        moved = browser.post(
            "/calendar/move", data={"publication": publication["id"], "day": target.isoformat(), "csrf": token}
        )
        assert moved.status_code == 200
        assert 'role="alert"' not in moved.text
        after = posts.show_post(world.runtime.db, post_id)["publications"][0]
        assert after["due_at"].startswith(target.isoformat())


def test_channels_add_schedule_and_blackout_by_an_admin_and_not_by_a_contributor(world: World) -> None:
    with _signed_in(world, "alice") as browser:
        token = _csrf(browser.get("/channels").text)
        added = browser.post(
            "/channels/new/add",
            data={"csrf": token, "name": "collab-web", "platform": "linkedin", "org": "collab", "dry_run": "1"},
        )
        assert added.status_code == 303
        assert "Channel%20collab-web%20added" in added.headers["location"]
        saved = browser.post(
            "/channels/collab-web/schedule", data={"csrf": token, "slots": "mon-fri 09:00,13:00", "max_per_day": "2"}
        )
        assert "posting%20schedule%20saved" in saved.headers["location"]
        page = browser.get("/channels").text
        assert "collab-web" in page
        assert "09:00" in page
        gap = browser.post(
            "/channels/collab-web/blackout",
            data={
                "csrf": token,
                "name": "gap",
                "start": "2030-03-31T02:30",
                "end": "2030-03-31T05:00",
                "tz": "Europe/Zurich",
            },
        )
        assert "blackout%20not%20added" in gap.headers["location"]  # a wall time in the DST gap, named
    set_password(world.runtime.db, world.runtime.settings, "carol", PASSWORD, now=world.clock())
    with httpx.Client(base_url=world.url, timeout=30) as browser:
        _sign_in(browser, "carol")
        token = _csrf(browser.get("/channels").text)
        refused = browser.post("/channels/collab-x/schedule", data={"csrf": token, "slots": "mon 09:00"})
        assert "schedule%20not%20saved" in refused.headers["location"]
        assert "admin" in httpx.URL(refused.headers["location"]).params["done"]


def test_composer_counts_per_channel_and_a_variant_is_added_on_the_post_page(world: World) -> None:
    due = world.clock() + timedelta(days=3)
    post_id = posts.create_post(
        world.runtime.db,
        world.runtime.settings,
        text="Hello",
        channels=["collab-x", "collab-li"],
        at=due.isoformat(),
        actor="alice",
        now=world.clock(),
        draft=True,
    )
    with _signed_in(world, "alice") as browser:
        page = browser.get("/compose").text
        token = _csrf(page)
        counters = browser.post(
            "/compose/check",
            data={"text": "word " * 80, "channel": ["collab-x", "collab-li"]},
            headers={"X-CSRF-Token": token},
        )
        assert counters.status_code == 200
        assert 'role="tablist"' in counters.text
        assert "collab-x: 400/280 · thread of 2" in counters.text
        assert "collab-li: 400/3000" in counters.text
        added = browser.post(f"/posts/{post_id}/variants", data={"csrf": token, "language": "fr", "text": "Bonjour"})
        assert added.status_code == 303
        assert "Bonjour" in browser.get(f"/posts/{post_id}").text
        bad = browser.post(f"/posts/{post_id}/variants", data={"csrf": token, "language": "not a tag!", "text": "x"})
        assert bad.status_code == 422
        assert 'role="alert"' in bad.text
