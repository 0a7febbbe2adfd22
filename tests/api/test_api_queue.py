"""The queue through the running API: slots, free slots, the global pause and blackouts."""

from __future__ import annotations

from datetime import datetime, timedelta

from tests.api.conftest import World


def _iso(moment: datetime) -> str:
    return moment.isoformat()


def test_a_channels_queue_and_free_slots_are_shown_to_its_organisation_only(world: World) -> None:
    with world.client("alice") as alice:
        every_day = alice.put("/channels/collab-x/schedule", json={"slots": ["mon-sun 09:00,15:00"]})
        assert every_day.status_code == 200, every_day.text
    with world.client("carol") as carol:
        queued = carol.post("/posts", json={"text": "queued", "channels": ["collab-x"], "queue": True})
        assert queued.status_code == 201, queued.text
        view = carol.get("/queue", params={"channel": "collab-x", "days": 3})
        assert view.status_code == 200, view.text
        queue = view.json()
        assert queue["channel"] == "collab-x"
        assert queue["paused"] is False
        taken = [slot for slot in queue["slots"] if slot["status"] == "taken"]
        assert [slot["posts"] for slot in taken] == [[queued.json()["id"]]]
        free = carol.get("/channels/collab-x/slots", params={"days": 3})
        assert free.status_code == 200, free.text
        assert taken[0]["at"] not in free.json()["slots"]
        assert len(free.json()["slots"]) == len(queue["slots"]) - 1
        assert carol.get("/queue", params={"channel": "collab-x", "days": 0}).status_code == 422
        assert carol.get("/queue", params={"channel": "collab-x", "days": 367}).status_code == 422
        assert carol.get("/queue").status_code == 422
        unknown = carol.get("/queue", params={"channel": "ghost"})
        assert unknown.status_code == 404
        assert "'ghost'" in unknown.json()["detail"]
        assert carol.get("/channels/ghost/slots").status_code == 404
        no_schedule = carol.get("/channels/collab-li/slots").json()
        assert no_schedule["schedule"] is None
        assert no_schedule["slots"] == []
    with world.client("paula") as paula:
        assert paula.get("/queue", params={"channel": "collab-x"}).status_code == 403
        assert paula.get("/channels/collab-x/slots").status_code == 403


def test_only_a_host_admin_pauses_and_resumes_everything(world: World) -> None:
    with world.client("carol") as carol:
        assert carol.post("/pause", json={"reason": "mine"}).status_code == 403
    with world.client("pete") as pete:  # an admin of a partner organisation
        refused = pete.post("/pause")
        assert refused.status_code == 403
        assert "host organisation" in refused.json()["detail"]
    with world.client("alice") as alice:
        assert alice.post("/resume").status_code == 409  # not paused
        paused = alice.post("/pause", json={"reason": "embargo"})
        assert paused.status_code == 200, paused.text
        assert paused.json() == {"paused": True, "moved": {}}
        assert alice.get("/channels/collab-x").json()["paused"] is True
        assert alice.post("/pause").status_code == 409
        assert alice.post("/pause", json={"reason": "x" * 501}).status_code == 422
        assert alice.post("/resume").json()["paused"] is False
        assert alice.get("/channels/collab-x").json()["paused"] is False


def test_blackouts_are_added_listed_and_removed_by_their_channels_admins(world: World) -> None:
    soon, later = world.clock() + timedelta(days=1), world.clock() + timedelta(days=2)
    window = {"start": _iso(soon), "end": _iso(later)}
    with world.client("carol") as carol:
        assert carol.post("/blackouts", json={"name": "mine", **window, "channel": "collab-x"}).status_code == 403
    with world.client("pete") as pete:
        assert pete.post("/blackouts", json={"name": "everywhere", **window}).status_code == 403
        assert pete.post("/blackouts", json={"name": "theirs", **window, "channel": "collab-x"}).status_code == 403
        own = pete.post("/blackouts", json={"name": "partner retreat", **window, "channel": "partner-x"})
        assert own.status_code == 201, own.text
    with world.client("alice") as alice:
        gap = alice.post(
            "/blackouts",
            json={"name": "gap", "start": "2027-03-28 02:30", "end": "2027-03-28 05:00", "tz": "Europe/Zurich"},
        )
        assert gap.status_code == 422
        assert "02:30" in gap.json()["detail"]
        past = alice.post("/blackouts", json={"name": "past", "start": "2020-01-01T00:00Z", "end": "2020-01-02T00:00Z"})
        assert past.status_code == 422
        assert "past" in past.json()["detail"]
        ghost = alice.post("/blackouts", json={"name": "ghost", **window, "channel": "ghost"})
        assert ghost.status_code == 404
        everywhere = alice.post("/blackouts", json={"name": "closure", **window})
        assert everywhere.status_code == 201, everywhere.text
        assert everywhere.json()["channel"] == "all"
        ours = alice.post("/blackouts", json={"name": "launch week", **window, "channel": "collab-li"})
        assert ours.status_code == 201
        assert {row["name"] for row in alice.get("/blackouts").json()} == {"closure", "launch week"}
    with world.client("paula") as paula:
        assert {row["name"] for row in paula.get("/blackouts").json()} == {"closure", "partner retreat"}
    with world.client("pete") as pete:
        assert pete.delete(f"/blackouts/{ours.json()['id']}").status_code == 403
        assert pete.delete(f"/blackouts/{everywhere.json()['id']}").status_code == 403
        assert pete.delete("/blackouts/99999").status_code == 404
        assert pete.delete(f"/blackouts/{own.json()['id']}").status_code == 204
    with world.client("alice") as alice:
        assert alice.delete(f"/blackouts/{ours.json()['id']}").status_code == 204
        assert [row["name"] for row in alice.get("/blackouts").json()] == ["closure"]
