"""What the review of the web app found, kept fixed: another organisation's own days, links that
run script, dates at the calendar's edges, a drag in another zone, and ids that are not one's own."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest

from scheduler import posts
from scheduler.accounts.passwords import set_password
from scheduler.calendar import campaigns
from scheduler.errors import InvalidInput
from scheduler.publishing.publications import resolve_by_hand
from tests.api.conftest import World
from tests.web.test_web_pages import PASSWORD, _csrf, _sign_in, _signed_in

SECRET_DAY = """BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//test//EN
BEGIN:VEVENT
UID:secret-launch@collab
DTSTART;VALUE=DATE:20270315
DTEND;VALUE=DATE:20270316
SUMMARY:Collab Secret Launch Day
RRULE:FREQ=YEARLY
END:VEVENT
END:VCALENDAR
"""


def test_another_organisations_own_days_stay_theirs(world: World) -> None:
    campaigns.import_ics(
        world.runtime.db, SECRET_DAY.encode(), source="launch.ics", now=world.clock(), org="collab", actor="alice"
    )
    with _signed_in(world, "alice") as alice:
        assert "Collab Secret Launch Day" in alice.get("/calendar", params={"start": "2027-03-01"}).text
    set_password(world.runtime.db, world.runtime.settings, "paula", PASSWORD, now=world.clock())
    with httpx.Client(base_url=world.url, timeout=30) as paula:
        _sign_in(paula, "paula")
        assert "Collab Secret Launch Day" not in paula.get("/calendar", params={"start": "2027-03-01"}).text
        observance = next(
            o for o in campaigns.all_observances(world.runtime.db) if o.name == "Collab Secret Launch Day"
        )
        composer = paula.get("/compose", params={"day": "2027-03-15", "observance": observance.id}).text
        assert "Collab Secret Launch Day" not in composer


def test_a_remote_url_that_is_not_http_is_refused_and_pages_allow_only_our_scripts(world: World) -> None:
    with pytest.raises(InvalidInput, match="must start with https:// or http://"):
        resolve_by_hand(
            world.runtime.db, 1, outcome="published", reason="seen", remote_url="javascript:alert(1)", now=world.clock()
        )
    with _signed_in(world, "alice") as alice:
        policy = alice.get("/board").headers["content-security-policy"]
        assert "script-src 'self'" in policy
        assert "unsafe-inline" not in policy.split("script-src")[1].split(";")[0]
        docs = alice.get("/docs")
        assert "/static/vendor/swagger-ui-5.35.0/swagger-ui-bundle.js" in docs.text  # no CDN
        assert alice.get("/static/vendor/swagger-ui-5.35.0/swagger-ui-bundle.js").status_code == 200


@pytest.mark.parametrize(
    "query",
    [
        {"view": "list", "start": "9999-12-30"},
        {"view": "month", "start": "9999-12-15"},
        {"view": "week", "start": "0001-01-01"},
        {"view": "month", "start": "0001-01-01"},
        {"view": "month", "start": "not-a-date"},
        {"zone": "Mars/Olympus"},
    ],
)
def test_the_calendar_at_its_edges_answers_without_an_error(world: World, query: dict[str, str]) -> None:
    with _signed_in(world, "alice") as alice:
        answer = alice.get("/calendar", params=query)
        assert answer.status_code in (200, 422), answer.text[:300]


def test_a_drag_keeps_the_time_of_day_the_viewer_saw_in_their_zone(world: World) -> None:
    due = datetime(2030, 6, 10, 20, 0, tzinfo=UTC)  # 08:00 on 11 June in Auckland
    world.clock.now = datetime(2030, 6, 1, 9, 0, tzinfo=UTC)
    post_id = posts.create_post(
        world.runtime.db,
        world.runtime.settings,
        text="Across the date line",
        channels=["collab-x"],
        at=due.isoformat(),
        actor="alice",
        now=world.clock(),
    )
    publication = posts.show_post(world.runtime.db, post_id)["publications"][0]
    with _signed_in(world, "alice") as alice:
        token = _csrf(alice.get("/calendar", params={"zone": "Pacific/Auckland"}).text)
        moved = alice.post(
            "/calendar/move",
            data={"publication": publication["id"], "day": "2030-06-12", "csrf": token, "zone": "Pacific/Auckland"},
        )
        assert moved.status_code == 200
        assert 'role="alert"' not in moved.text
    after = posts.show_post(world.runtime.db, post_id)["publications"][0]
    assert datetime.fromisoformat(after["due_at"]) == due + timedelta(days=1)  # 08:00 on 12 June in Auckland


def test_moving_someone_elses_post_tells_nothing_about_it(world: World) -> None:
    due = world.clock() + timedelta(days=2)
    post_id = posts.create_post(
        world.runtime.db,
        world.runtime.settings,
        text="collab only",
        channels=["collab-x"],
        at=due.isoformat(),
        actor="alice",
        now=world.clock(),
    )
    publication = posts.show_post(world.runtime.db, post_id)["publications"][0]
    set_password(world.runtime.db, world.runtime.settings, "paula", PASSWORD, now=world.clock())
    with httpx.Client(base_url=world.url, timeout=30) as paula:
        _sign_in(paula, "paula")
        token = _csrf(paula.get("/calendar").text)
        answer = paula.post(
            "/calendar/move", data={"publication": publication["id"], "day": "2030-01-01", "csrf": token}
        )
        assert answer.status_code == 403
        assert "collab only" not in answer.text
        assert "Europe" not in answer.text
    assert posts.show_post(world.runtime.db, post_id)["publications"][0]["due_at"] == publication["due_at"]
