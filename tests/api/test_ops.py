"""The calendar feed at its secret URL, /metrics values and /healthz checks, against the real server."""

from __future__ import annotations

from datetime import timedelta

import httpx
import icalendar
from sqlalchemy import update

from scheduler import posts
from scheduler.publishing import workers
from scheduler.store import Publication
from tests.api.conftest import World


def test_members_read_the_feed_url_admins_rotate_it_and_the_feed_holds_posts_and_days(world: World) -> None:
    due = (world.clock() + timedelta(days=3)).isoformat()
    posts.create_post(
        world.runtime.db,
        world.runtime.settings,
        text="Our detector sees a new particle today",
        channels=["collab-x"],
        at=due,
        actor="alice",
        now=world.clock(),
    )
    with world.client("carol") as carol, world.client("alice") as alice, world.client("pete") as pete:
        url = carol.get("/organisations/collab/feed").json()["url"]
        assert url == alice.get("/organisations/collab/feed").json()["url"]
        refused = carol.post("/organisations/collab/feed/rotate")
        assert refused.status_code == 403
        assert "rule 'roles'" in refused.json()["detail"]
        assert pete.get("/organisations/collab/feed").status_code == 403  # another organisation's admin
        secret = url.rsplit("/", 1)[1]
        feed = httpx.get(f"{world.url}/feeds/{secret}")
        assert feed.status_code == 200
        assert feed.headers["content-type"].startswith("text/calendar")
        events = icalendar.Calendar.from_ical(feed.content).walk("VEVENT")
        summaries = [str(event["summary"]) for event in events]
        assert "collab-x: Our detector sees a new particle today" in summaries
        assert len(summaries) > 1  # and the awareness days
        rotated = alice.post("/organisations/collab/feed/rotate").json()["url"]
        assert rotated != url
        assert httpx.get(f"{world.url}/feeds/{secret}").status_code == 404  # the old URL stops working
        assert httpx.get(f"{world.url}/feeds/{rotated.rsplit('/', 1)[1]}").status_code == 200


def test_metrics_count_publications_lateness_and_queue_depth(world: World) -> None:
    db, settings, now = world.runtime.db, world.runtime.settings, world.clock()
    for minutes in (0, 60):
        posts.create_post(
            db,
            settings,
            text="hello",
            channels=["collab-x"],
            at=(now + timedelta(minutes=minutes, seconds=10)).isoformat(),
            actor="alice",
            now=now,
        )
    with db.transaction() as session:  # the first went out 3 s late
        session.execute(
            update(Publication)
            .where(Publication.id == 1)
            .values(state="published", published_at=now + timedelta(seconds=13))
        )
    lines = httpx.get(f"{world.url}/metrics").text.splitlines()
    assert 'crosspost_publications{state="published"} 1.0' in lines
    assert 'crosspost_publications{state="awaiting_signoff"} 1.0' in lines  # the default policy: an editor signs
    assert "crosspost_queue_depth 0.0" in lines  # the other waits for its sign-off
    assert 'crosspost_publication_lateness_seconds_bucket{le="2.0"} 0.0' in lines
    assert 'crosspost_publication_lateness_seconds_bucket{le="5.0"} 1.0' in lines
    assert "crosspost_publication_lateness_seconds_count 1.0" in lines


def test_healthz_names_the_dispatcher_until_a_node_beats(world: World) -> None:
    answer = httpx.get(f"{world.url}/healthz")
    assert answer.status_code == 503
    assert answer.json()["failing"] == ["dispatcher"]
    workers.register(world.runtime.db, "node-1", now=world.clock())
    assert httpx.get(f"{world.url}/healthz").status_code == 200
    world.clock.advance(world.runtime.settings.worker_timeout + 1)
    stale = httpx.get(f"{world.url}/healthz").json()
    assert stale["failing"] == ["dispatcher"]
    assert "last beat 11 s ago" in stale["detail"]
