"""`post list` and `events` for people: what, where, when, how late, who; filters that refuse
what does not exist; events as JSON Lines."""

from __future__ import annotations

import json
import os
from datetime import timedelta
from pathlib import Path

from scheduler.runtime import Runtime
from scheduler.settings import Settings
from scheduler.store import open_database
from scheduler.when import utcnow
from tests.conftest import Clock
from tests.helpers import Run, ok, publish_due, refused


def _world(cli: Run) -> None:
    for args in (
        ["org", "add", "cms"],
        ["user", "add", "ana"],
        ["user", "add", "eve"],
        ["user", "role", "ana", "--org", "cms", "--role", "contributor"],
        ["user", "role", "eve", "--org", "cms", "--role", "editor"],
        ["channel", "add", "--platform", "x", "--name", "cms-x", "--dry-run", "--org", "cms"],
        ["channel", "add", "--platform", "linkedin", "--name", "open-li", "--dry-run"],
    ):
        ok(cli(*args))
    soon = (utcnow() + timedelta(seconds=5)).isoformat()
    ok(cli("post", "create", "--as", "ana", "--text", "Higgs boson: ten years on", "--channel", "cms-x", "--at", soon))
    ok(cli("post", "approve", "1", "--as", "eve"))
    ok(cli("post", "create", "--text", "Open day in September", "--channel", "open-li", "--at", "2030-09-01T10:00Z"))


def _publish(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data", secret_key=os.environ["CROSSPOST_SECRET_KEY"])
    later = Clock(utcnow() + timedelta(seconds=10))  # when it is due
    runtime = Runtime(settings=settings, db=open_database(settings.database_url), clock=later)
    publish_due(runtime)
    runtime.db.dispose()


def test_post_list_shows_text_channels_states_times_lateness_and_signers(cli: Run, tmp_path: Path) -> None:
    _world(cli)
    _publish(tmp_path)
    table = ok(cli("post", "list"))
    assert "Higgs boson: ten years on" in table
    [line] = [row for row in table.splitlines() if row.startswith("1 ")]
    assert "cms-x" in line
    assert "published" in line
    assert " s  eve" in line  # lateness, then who signed
    views = json.loads(ok(cli("post", "list", "--json")))
    published = next(v for v in views if v["id"] == 1)
    assert published["signers"] == ["eve"]
    assert published["publications"][0]["late_s"] >= 0
    # filters
    assert [v["id"] for v in json.loads(ok(cli("post", "list", "--json", "--state", "published")))] == [1]
    assert [v["id"] for v in json.loads(ok(cli("post", "list", "--json", "--channel", "open-li")))] == [2]
    assert [v["id"] for v in json.loads(ok(cli("post", "list", "--json", "--org", "cms")))] == [1]
    assert [v["id"] for v in json.loads(ok(cli("post", "list", "--json", "--text", "open DAY")))] == [2]
    assert [v["id"] for v in json.loads(ok(cli("post", "list", "--json", "--from", "2030-01-01")))] == [2]
    assert [v["id"] for v in json.loads(ok(cli("post", "list", "--json", "--text", "100%")))] == []


def test_post_list_refuses_filters_that_match_nothing_that_exists(cli: Run) -> None:
    _world(cli)
    assert refused(cli("post", "list", "--state", "awaiting")) == (
        "error: unknown state 'awaiting' (did you mean 'awaiting_signoff'?); states: "
        "awaiting_signoff, scheduled, queued, publishing, published, retry_wait, failed, unknown, "
        "needs_attention, cancelled"
    )
    assert refused(cli("post", "list", "--channel", "nope")) == "error: no channel named 'nope'"
    assert refused(cli("post", "list", "--org", "nope")) == "error: no organisation named 'nope'"


def test_events_say_who_did_what_on_which_channel_and_json_is_json_lines(cli: Run) -> None:
    _world(cli)
    printed = ok(cli("events"))
    assert any("post.signed" in line and "by eve" in line for line in printed.splitlines())
    assert any("publication." in line and "on cms-x" in line for line in printed.splitlines())
    lines = ok(cli("events", "--json")).splitlines()
    events = [json.loads(line) for line in lines]  # each line is one JSON object
    assert len(events) == len(lines) > 3
    assert {"id", "at", "kind", "actor", "channel", "post_id", "message"} <= set(events[0])
    signed = next(e for e in events if e["kind"] == "post.signed")
    assert (signed["actor"], signed["post_id"]) == ("eve", 1)
