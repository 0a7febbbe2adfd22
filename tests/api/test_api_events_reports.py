"""The event log and reports through the running API: what each caller may see of them."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

from tests.api.conftest import World


def _post(world: World, who: str, channel: str, text: str) -> int:
    with world.client(who) as api:
        made = api.post("/posts", json={"text": text, "channels": [channel], "at": _later(world)})
        assert made.status_code == 201, made.text
        post_id: int = made.json()["id"]
        return post_id


def _later(world: World) -> str:
    return (world.clock() + timedelta(days=1)).isoformat()


def test_events_show_the_callers_posts_and_channels_only_from_a_cursor(world: World) -> None:
    ours = _post(world, "carol", "collab-x", "ours")
    theirs = _post(world, "paula", "partner-x", "theirs")
    with world.client("carol") as carol:
        page = carol.get("/events", params={"limit": 500})
        assert page.status_code == 200, page.text
        events = page.json()["items"]
        assert page.json()["next_cursor"] is None
        assert {e["post_id"] for e in events if e["post_id"]} == {ours}
        assert {e["channel"] for e in events if e["channel"]} <= {"collab-x", "collab-li"}
        assert {"collab-x", "collab-li"} <= {e["channel"] for e in events if e["kind"] == "channel.added"}
        assert [e["id"] for e in events] == sorted(e["id"] for e in events)
        # one at a time, the cursor goes through the same events
        walked, cursor = [], None
        while True:
            params: dict[str, str | int] = {"limit": 1} | ({"after": cursor} if cursor else {})
            step = carol.get("/events", params=params).json()
            walked += [e["id"] for e in step["items"]]
            cursor = step["next_cursor"]
            if cursor is None:
                break
        assert walked == [e["id"] for e in events]
        posts_only = carol.get("/events", params={"kind": "post."}).json()["items"]
        assert posts_only
        assert all(e["kind"].startswith("post.") for e in posts_only)
        assert carol.get("/events", params={"kind": "post"}).json()["items"] == []  # no prefix without '.'
        assert {e["post_id"] for e in carol.get("/events", params={"post_id": ours}).json()["items"]} == {ours}
        assert carol.get("/events", params={"post_id": theirs}).json()["items"] == []
        assert carol.get("/events", params={"after": "abc"}).status_code == 422
        assert carol.get("/events", params={"limit": 0}).status_code == 422
        assert carol.get("/events", params={"limit": 501}).status_code == 422
        last = events[-1]["id"]
        assert carol.get("/events", params={"after": str(last)}).json() == {"items": [], "next_cursor": None}
    with world.client("paula") as paula:
        seen = paula.get("/events", params={"limit": 500}).json()["items"]
        assert {e["post_id"] for e in seen if e["post_id"]} == {theirs}
        assert {e["channel"] for e in seen if e["channel"]} == {"partner-x"}


def test_reports_cover_the_callers_organisation_and_refuse_anothers(world: World) -> None:
    ours = _post(world, "carol", "collab-x", "reported")
    _post(world, "paula", "partner-x", "not ours")
    with world.client("carol") as carol:
        report = carol.get("/reports")
        assert report.status_code == 200, report.text
        rows = report.json()["publications"]
        assert [(row["post"], row["channel"], row["org"]) for row in rows] == [(ours, "collab-x", "collab")]
        assert rows[0]["state"] in ("scheduled", "awaiting_signoff")
        assert report.json()["medians"] == []  # nothing published yet
        assert carol.get("/reports", params={"channel": "collab-x"}).json()["publications"] == rows
        window = {"start": (world.clock() + timedelta(days=2)).isoformat()}
        assert carol.get("/reports", params=window).json()["publications"] == []
        as_csv = carol.get("/reports.csv")
        assert as_csv.status_code == 200
        assert as_csv.headers["content-type"].startswith("text/csv")
        [line] = list(csv.DictReader(io.StringIO(as_csv.text)))
        assert line["post"] == str(ours)
        assert line["channel"] == "collab-x"
        gap = carol.get("/reports", params={"start": "2027-03-28 02:30", "tz": "Europe/Zurich"})
        assert gap.status_code == 422
        assert gap.json()["field"] == "start"
        assert carol.get("/reports", params={"start": "yesterday"}).status_code == 422
        assert carol.get("/reports.csv", params={"end": "2027-13-01"}).status_code == 422
        assert carol.get("/reports", params={"org": "partner"}).status_code == 403
        assert carol.get("/reports", params={"channel": "partner-x"}).status_code == 403
        assert carol.get("/reports.csv", params={"org": "partner"}).status_code == 403
        assert carol.get("/reports", params={"org": "nowhere"}).status_code == 404
        assert carol.get("/reports", params={"channel": "ghost"}).status_code == 404
    with world.client("paula") as paula:
        assert [row["channel"] for row in paula.get("/reports").json()["publications"]] == ["partner-x"]
        assert paula.get("/reports", params={"channel": "collab-x"}).status_code == 403
