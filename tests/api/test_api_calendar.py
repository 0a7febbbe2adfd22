"""The calendar and campaigns through the running API: awareness days, the posts calendar, .ics in
and out, campaigns added, edited and removed, and who may not."""

from __future__ import annotations

from datetime import timedelta

from scheduler.store import Campaign
from tests.api.conftest import World

OPEN_DAY_ICS = """BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//collab//outreach//EN
BEGIN:VEVENT
UID:open-day@collab
DTSTART;VALUE=DATE:20250704
DTEND;VALUE=DATE:20250705
RRULE:FREQ=YEARLY
SUMMARY:Collab Open Day
END:VEVENT
END:VCALENDAR
"""


def test_awareness_days_between_two_dates_with_kind_tone_and_hashtags(world: World) -> None:
    with world.client("paula") as paula:
        listed = paula.get("/calendar/observances", params={"start": "2027-02-01", "end": "2027-02-28"})
        assert listed.status_code == 200, listed.text
        days = {day["id"]: day for day in listed.json()}
        science = days["women-and-girls-in-science-day"]
        assert science["start"] == "2027-02-11"
        assert science["kind"] == "day"
        assert science["tone"] == "celebratory"
        assert science["hashtags"]
        backwards = paula.get("/calendar/observances", params={"start": "2027-03-01", "end": "2027-02-01"})
        assert backwards.status_code == 422
        assert backwards.json()["field"] == "end"
        assert paula.get("/calendar/observances", params={"start": "1066-10-14"}).status_code == 422
        assert paula.get("/calendar/observances", params={"start": "2027-02-30"}).status_code == 422
        ics = paula.get("/calendar/export.ics", params={"start": "2027-02-01", "end": "2027-02-28"})
        assert ics.status_code == 200
        assert ics.headers["content-type"].startswith("text/calendar")
        assert "BEGIN:VCALENDAR" in ics.text
        assert "SUMMARY:" in ics.text


def test_an_admin_imports_their_organisations_days_which_only_its_members_see(world: World) -> None:
    with world.client("carol") as carol:
        refused = carol.post("/calendar/import", json={"ics": OPEN_DAY_ICS})
        assert refused.status_code == 403
        assert "admin" in refused.json()["detail"]
    with world.client("pete") as pete:
        assert pete.post("/calendar/import", json={"ics": OPEN_DAY_ICS, "org": "collab"}).status_code == 403
    with world.client("alice") as alice:
        broken = alice.post("/calendar/import", json={"ics": "BEGIN:VCALENDAR\nnot a calendar"})
        assert broken.status_code == 422
        assert alice.post("/calendar/import", json={"ics": OPEN_DAY_ICS, "org": "nowhere"}).status_code == 404
        imported = alice.post("/calendar/import", json={"ics": OPEN_DAY_ICS, "source": "open-day.ics"})
        assert imported.status_code == 201, imported.text
        [day_id] = imported.json()["imported"]
        assert imported.json()["org"] == "collab"
    july = {"start": "2027-07-01", "end": "2027-07-31"}
    with world.client("carol") as carol:
        assert day_id in {day["id"] for day in carol.get("/calendar/observances", params=july).json()}
        assert "Collab Open Day" in carol.get("/calendar/export.ics", params=july).text
    with world.client("paula") as paula:
        assert day_id not in {day["id"] for day in paula.get("/calendar/observances", params=july).json()}
        assert "Collab Open Day" not in paula.get("/calendar/export.ics", params=july).text


def test_the_posts_calendar_shows_an_organisations_publications_per_channel(world: World) -> None:
    due = world.clock() + timedelta(days=2)
    with world.client("carol") as carol:
        made = carol.post(
            "/posts", json={"text": "On the calendar", "channels": ["collab-x", "collab-li"], "at": due.isoformat()}
        )
        assert made.status_code == 201, made.text
        post_id = made.json()["id"]
        window = {"start": world.clock().isoformat(), "end": (due + timedelta(days=1)).isoformat()}
        shown = carol.get("/calendar/posts", params=window)
        assert shown.status_code == 200, shown.text
        calendar = shown.json()
        assert calendar["org"] == "collab"
        assert sorted(calendar["channels"]) == ["collab-li", "collab-x"]
        [entry] = calendar["channels"]["collab-x"]
        assert entry["post"] == post_id
        assert entry["author"] == "carol"
        assert entry["text"] == "On the calendar"
        assert calendar["truncated"] is False
        before = {"start": world.clock().isoformat(), "end": (due - timedelta(hours=1)).isoformat()}
        assert carol.get("/calendar/posts", params=before).json()["channels"] == {}
        # a wall time in the spring DST gap does not exist: refused with the times around it
        gap = carol.get(
            "/calendar/posts", params={"start": "2027-03-28 02:30", "end": "2027-04-01 00:00", "tz": "Europe/Zurich"}
        )
        assert gap.status_code == 422
        assert gap.json()["field"] == "start"
        assert "02:30" in gap.json()["detail"]
        swapped = carol.get("/calendar/posts", params={"start": window["end"], "end": window["start"]})
        assert swapped.status_code == 422
        assert carol.get("/calendar/posts", params=window | {"tz": "Mars/Olympus"}).status_code == 422
        assert carol.get("/calendar/posts", params=window | {"org": "partner"}).status_code == 403
        assert carol.get("/calendar/posts", params=window | {"org": "nowhere"}).status_code == 404
    with world.client("paula") as paula:
        assert paula.get("/calendar/posts", params=window).json()["channels"] == {}
        assert paula.get("/calendar/posts", params=window | {"org": "collab"}).status_code == 403


def _campaign(**overrides: object) -> dict[str, object]:
    return {
        "observance": "international-day-of-light",
        "channels": ["collab-x"],
        "text": "Happy {name}! {hashtags}",
        "lead_days": 3,
    } | overrides


def test_campaigns_are_added_edited_and_removed_by_those_allowed(world: World) -> None:
    with world.client("paula") as paula:
        on_collab = paula.post("/campaigns", json=_campaign())
        assert on_collab.status_code == 403
    with world.client("carol") as carol:
        assert carol.post("/campaigns", json=_campaign(observance="no-such-day")).status_code in (404, 422)
        assert carol.post("/campaigns", json=_campaign(channels=["ghost"])).status_code == 422
        assert carol.post("/campaigns", json=_campaign(text="{nonsense}")).status_code == 422
        assert carol.post("/campaigns", json=_campaign(tz="Mars/Olympus")).status_code == 422
        added = carol.post("/campaigns", json=_campaign())
        assert added.status_code == 201, added.text
        campaign = added.json()
        assert added.headers["location"] == f"/api/v1/campaigns/{campaign['id']}"
        assert campaign["created_by"] == "carol"
        assert campaign["next"]["text"].startswith("Happy International Day of Light")
        assert [row["id"] for row in carol.get("/campaigns").json()] == [campaign["id"]]
        edited = carol.patch(f"/campaigns/{campaign['id']}", json={"at": "12:30", "channels": ["collab-li"]})
        assert edited.status_code == 200, edited.text
        assert edited.json()["channels"] == ["collab-li"]
        assert edited.json()["publish_time"] == "12:30"
        assert carol.patch(f"/campaigns/{campaign['id']}", json={}).status_code == 422  # nothing to change
    with world.client("paula") as paula:
        assert paula.get("/campaigns").json() == []
        assert paula.get(f"/campaigns/{campaign['id']}").status_code == 403
        assert paula.patch(f"/campaigns/{campaign['id']}", json={"text": "mine now"}).status_code == 403
        assert paula.delete(f"/campaigns/{campaign['id']}").status_code == 403
    with world.client("apu") as apu:
        assert apu.get("/campaigns/99999").status_code == 404
        assert apu.delete("/campaigns/99999").status_code == 404
        assert apu.delete(f"/campaigns/{campaign['id']}").status_code == 204
        assert apu.delete(f"/campaigns/{campaign['id']}").status_code == 404
    with world.runtime.db.read() as session:
        assert session.get(Campaign, campaign["id"]).active is False  # type: ignore[union-attr]
