"""The `crosspost` command as a user runs it: a real process, a real SQLite file."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import write_image


@pytest.fixture
def run(tmp_path: Path):  # type: ignore[no-untyped-def]
    env = {
        **os.environ,
        "CROSSPOST_DATA_DIR": str(tmp_path / "data"),
        "CROSSPOST_SECRET_KEY": "cli-test-secret-of-at-least-32-characters",
    }
    env.pop("CROSSPOST_BROKER_URL", None)
    env.pop("CROSSPOST_DATABASE_URL", None)

    def crosspost(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "scheduler.cli", *args],
            capture_output=True,
            text=True,
            env=env,
            cwd=tmp_path,
            timeout=60,
        )

    return crosspost


def test_a_time_in_the_dst_gap_is_refused_and_nothing_is_stored(run) -> None:  # type: ignore[no-untyped-def]
    assert run("channel", "add", "--platform", "x", "--name", "cms-x", "--dry-run").returncode == 0
    refused = run(
        "post", "create", "--text", "hi", "--channel", "cms-x", "--at", "2027-03-28 02:30", "--tz", "Europe/Zurich"
    )
    assert refused.returncode != 0
    assert "daylight-saving gap" in refused.stderr
    assert "01:59 CET" in refused.stderr
    assert "03:00 CEST" in refused.stderr
    assert "Traceback" not in refused.stderr
    listed = run("post", "list", "--json")
    assert json.loads(listed.stdout) == []


def test_create_list_show_cancel_with_json(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    run("channel", "add", "--platform", "x", "--name", "cms-x", "--dry-run", "--timezone", "Europe/Zurich")
    run("channel", "add", "--platform", "linkedin", "--name", "cms-li", "--dry-run", "--timezone", "Europe/Zurich")
    image = write_image(tmp_path / "detector.png")
    created = run(
        "post",
        "create",
        "--text",
        "New result",
        "--channel",
        "cms-x",
        "--channel",
        "cms-li",
        "--at",
        "2027-03-08 10:00",
        "--tz",
        "Europe/Zurich",
        "--media",
        str(image),
        "--alt",
        "the detector",
        "--json",
    )
    assert created.returncode == 0, created.stderr
    post = json.loads(created.stdout)
    assert [p["channel"] for p in post["publications"]] == ["cms-x", "cms-li"]
    assert {p["due_at"] for p in post["publications"]} == {"2027-03-08T09:00:00+00:00"}
    assert post["media"][0]["alt_text"] == "the detector"
    shown = json.loads(run("post", "show", str(post["id"]), "--json").stdout)
    assert shown["id"] == post["id"]
    assert run("post", "cancel", str(post["id"])).returncode == 0
    states = {p["state"] for p in json.loads(run("post", "show", str(post["id"]), "--json").stdout)["publications"]}
    assert states == {"cancelled"}
    channels = json.loads(run("channel", "list", "--json").stdout)
    assert {c["name"] for c in channels} == {"cms-x", "cms-li"}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["post", "create", "--text", "hi", "--channel", "nope", "--now"], "unknown channel 'nope'"),
        (
            ["post", "create", "--text", "hi", "--channel", "cms-x", "--at", "2027-01-01 10:00", "--tz", "Mars/Base"],
            "unknown time zone 'Mars/Base'",
        ),
        (["post", "create", "--text", "x" * 300, "--channel", "cms-x", "--now"], "does not fit in one post"),
        (["post", "show", "999"], "no post with id 999"),
        (["channel", "add", "--platform", "myspace", "--name", "m"], "unknown platform 'myspace'"),
        (["channel", "add", "--platform", "x", "--name", "live-x"], "needs its tokens: --credentials FILE"),
        (["channel", "add", "--platform", "webhook", "--name", "hook"], "option url must be an http(s) URL"),
    ],
)
def test_bad_input_gets_one_clear_line(run, args: list[str], message: str) -> None:  # type: ignore[no-untyped-def]
    run("channel", "add", "--platform", "x", "--name", "cms-x", "--dry-run")
    result = run(*args)
    assert result.returncode != 0
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_text_check_counts_like_the_platform(run) -> None:  # type: ignore[no-untyped-def]
    result = run("text", "check", "--platform", "x", "--json", "hello 😀 https://example.org/a/very/long/path")
    assert json.loads(result.stdout) == {"length": 32, "limit": 280, "valid": True, "problems": []}
    run("channel", "add", "--platform", "youtube", "--name", "yt", "--dry-run")
    result = run("text", "check", "--channel", "yt", "--json", "é" * 2501)
    assert json.loads(result.stdout)["valid"] is False


def test_config_masks_secrets(run) -> None:  # type: ignore[no-untyped-def]
    result = run("config", "--json")
    shown = json.loads(result.stdout)
    assert shown["secret_key"] == "********"
    assert "cli-test-secret" not in result.stdout
    assert shown["database_url"].startswith("sqlite:///")


def _event_ids(printed: str) -> list[int]:
    """The ids of `events --json`: one JSON object per event, one after the other."""
    decoder, ids, at = json.JSONDecoder(), [], 0
    while printed[at:].strip():
        event, end = decoder.raw_decode(printed, at + len(printed[at:]) - len(printed[at:].lstrip()))
        ids.append(int(event["id"]))
        at = end
    return ids


def test_events_without_follow_say_where_they_stopped_and_how_to_page_on(cli) -> None:  # type: ignore[no-untyped-def]
    cli("channel", "add", "--platform", "x", "--name", "cms-x", "--dry-run")
    for text in ("one", "two", "three"):
        created = cli("post", "create", "--text", text, "--channel", "cms-x", "--at", "2030-01-01T10:00:00+00:00")
        assert created.returncode == 0, created.stderr
    everything = cli("events", "--json")
    assert everything.stderr == ""  # all of them fit in the default page: nothing to say
    ids = _event_ids(everything.stdout)
    assert len(ids) > 4

    paged: list[int] = []
    after = "0"
    while True:
        page = cli("events", "--json", "--limit", "2", "--after", after)
        assert page.returncode == 0, page.stderr
        got = _event_ids(page.stdout)  # stdout holds nothing but the events
        paged += got
        if not page.stderr:
            break
        assert page.stderr == f"showing the first 2 events; more with --after {got[-1]}\n"
        after = str(got[-1])
    assert paged == ids

    # a last page that is exactly full says nothing: there is no more
    assert cli("events", "--limit", "2", "--after", str(ids[-3])).stderr == ""
    # with --post, the hint keeps it
    first = _event_ids(cli("events", "--json", "--post", "1").stdout)[0]
    shown = cli("events", "--post", "1", "--limit", "1")
    assert shown.stderr == f"showing the first event; more with --after {first} --post 1\n"
