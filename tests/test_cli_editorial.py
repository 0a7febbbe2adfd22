"""The editorial workflow and the queue through the `crosspost` command's entry point, against a real SQLite file."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from scheduler.editorial.overview import SIGNOFF_FIELDS
from tests.helpers import Run, ok, refused, write_image

BAD_POLICY = """\
[[rule]]
name = "major"
importance = ["major"]
roles = ["approver"]

[[rule]]
name = "videos"
format = ["video"]
roles = ["editor"]
requried = 1

[[rule]]
name = "everything else"
roles = ["editor"]
"""

OPEN_POLICY = """\
[[rule]]
name = "nothing to sign"
required = 0
"""


@pytest.fixture
def run(cli: Run) -> Run:
    return cli


def setup_orgs(run: Run, *members: tuple[str, str, str]) -> None:
    """Organisations, users and roles: (user, org, role); an org named 'lapp' is a partner."""
    for org in dict.fromkeys(org for _, org, _ in members):
        ok(run("org", "add", org, *(["--kind", "partner"] if org == "lapp" else [])))
    for user, org, role in members:
        ok(run("user", "add", user))
        assert ok(run("user", "role", user, "--org", org, "--role", role)) == f"{user} is now {role} of {org}\n"


def post_json(run: Run, post_id: int) -> dict[str, Any]:
    shown: dict[str, Any] = json.loads(ok(run("post", "show", str(post_id), "--json")))
    return shown


def test_editorial_flow_four_eyes_changes_and_the_signoff_record(run: Run) -> None:
    setup_orgs(run, ("ana", "cms", "contributor"), ("eve", "cms", "editor"), ("pia", "cms", "approver"))
    assert ok(run("channel", "add", "--platform", "x", "--name", "cms-x", "--dry-run", "--org", "cms")) == (
        "channel cms-x added (x, dry run, for cms)\n"
    )
    orgs = json.loads(ok(run("org", "list", "--json")))
    assert orgs == [
        {
            "name": "cms",
            "display_name": "cms",
            "kind": "host",
            "policy": "default",
            "members": {"ana": "contributor", "eve": "editor", "pia": "approver"},
            "channels": ["cms-x"],
        }
    ]

    created = ok(run("post", "create", "--as", "ana", "--text", "Higgs", "-c", "cms-x", "--at", "2031-05-05T10:00Z"))
    assert created.splitlines()[:3] == [
        "post 1 submitted for sign-off",
        "  cms-x (X): 5/280, no media",  # the text as X counts it, against its limit
        "  cms-x: cms's rule 'everything else: an editor': 1 editor or above (0 of 1 signed)",
    ]
    assert [p["state"] for p in post_json(run, 1)["publications"]] == ["awaiting_signoff"]

    four_eyes = refused(run("post", "approve", "1", "--as", "ana"))
    assert four_eyes == (
        "error: ana may not sign off post 1: "
        "cms's policy does not let people sign what they wrote or edited (four eyes)"
    )

    assert ok(run("post", "approve", "1", "--as", "eve", "--note", "checked")) == (
        "post 1: eve signed for cms (base)\npost 1 is approved: it will publish as scheduled\n"
    )
    shown = post_json(run, 1)
    assert shown["review"] == "approved"
    assert [p["state"] for p in shown["publications"]] == ["scheduled"]
    assert "  review: approved" in ok(run("post", "show", "1")).splitlines()
    review = json.loads(ok(run("post", "review", "1", "--json")))
    assert review["review"] == "approved"
    assert review["needs"] == {"cms-x": "cms's rule 'everything else: an editor': 1 editor or above (1 of 1 signed)"}

    record = ok(run("post", "signoffs", "--post", "1"))
    assert record.splitlines()[0] == ",".join(SIGNOFF_FIELDS)
    rows = list(csv.DictReader(io.StringIO(record)))
    assert [
        (r["post_id"], r["post_version"], r["variant"], r["content_hash"], r["org"], r["signer"], r["role"], r["kind"])
        for r in rows
    ] == [("1", "1", "base", shown["content_hash"], "cms", "eve", "editor", "signed")]
    assert rows[0]["rule"] == "everything else: an editor"
    assert rows[0]["note"] == "checked"

    # changes requested: held again until the author edits and resubmits, then a new sign-off
    assert ok(run("post", "request-changes", "1", "--as", "eve", "--text", "Name the detector")) == (
        "post 1: changes requested by eve; it is held until resubmitted\n"
    )
    assert ok(run("post", "comment", "1", "--as", "ana", "--text", "on it")) == "post 1: comment by ana added\n"
    assert ok(run("post", "edit", "1", "--as", "ana", "--text", "Higgs at CMS")) == (
        "post 1 is now version 2 (changes requested)\n  cms-x (X): 12/280, no media\n"
    )
    assert ok(run("post", "submit", "1", "--as", "ana")).splitlines()[0] == "post 1 is submitted for sign-off"
    review = json.loads(ok(run("post", "review", "1", "--json")))
    assert review["review"] == "submitted"
    assert [(c["author"], c["kind"], c["version"], c["text"]) for c in review["comments"]] == [
        ("eve", "change_request", 1, "Name the detector"),
        ("ana", "comment", 1, "on it"),
    ]
    ok(run("post", "approve", "1", "--as", "pia"))
    edited = post_json(run, 1)
    assert (edited["review"], edited["publications"][0]["state"]) == ("approved", "scheduled")
    rows = list(csv.DictReader(io.StringIO(ok(run("post", "signoffs", "--org", "cms")))))
    assert [(r["post_version"], r["signer"], r["content_hash"]) for r in rows] == [
        ("1", "eve", shown["content_hash"]),
        ("2", "pia", edited["content_hash"]),
    ]
    assert shown["content_hash"] != edited["content_hash"]


def test_signing_off_needs_a_named_person(run: Run) -> None:
    message = refused(run("post", "approve", "1"))
    assert message == (
        "error: signing off is done by a named person, never by the operator: give --as NAME or set CROSSPOST_USER"
    )
    # the person may come from CROSSPOST_USER: then the refusal is about the post, not the missing name
    assert refused(run("post", "approve", "1", CROSSPOST_USER="eve"), code=1) == ("error: no post with id 1")


def test_a_partner_submits_to_the_channel_owner_instead_of_scheduling_on_its_channel(run: Run) -> None:
    setup_orgs(run, ("paul", "lapp", "contributor"))
    ok(run("org", "add", "cms"))
    ok(run("channel", "add", "--platform", "x", "--name", "cms-x", "--dry-run", "--org", "cms"))
    args = ["post", "create", "--text", "From LAPP", "--channel", "cms-x", "--at", "2031-05-05 10:00", "--tz", "UTC"]

    message = refused(run(*args, "--as", "paul"))
    assert "rule 'channels belong to their organisation'" in message
    assert message.endswith("submit the post to cms's review queue with --submit-to cms")
    assert json.loads(ok(run("post", "list", "--json"))) == []

    draft = ok(run(*args, "--submit-to", "cms", "--draft", CROSSPOST_USER="paul"))
    assert draft.splitlines()[0] == "post 1 saved as a draft"
    assert refused(run("post", "approve", "1", "--as", "paul"), code=1) == (
        "error: post 1 is a draft; it can be signed off once submitted (crosspost post submit 1)"
    )
    assert ok(run("post", "submit", "1", "--as", "paul")).splitlines() == [
        "post 1 is submitted for sign-off",
        "  cms-x: cms's rule 'everything else: an editor': 1 editor or above (0 of 1 signed)",
    ]
    review = json.loads(ok(run("post", "review", "1", "--json")))
    assert (review["review"], review["org"]) == ("submitted", "lapp")
    assert [p["state"] for p in post_json(run, 1)["publications"]] == ["awaiting_signoff"]
    assert ok(run("post", "variant", "1", "--language", "fr", "--text", "De LAPP", "--as", "paul")).splitlines()[0] == (
        "post 1: variant for language fr, used on no channel yet"
    )


def test_a_bad_policy_is_refused_in_one_line_naming_the_rule_and_a_good_one_applies(run: Run, tmp_path: Path) -> None:
    setup_orgs(run, ("eve", "cms", "editor"))
    (tmp_path / "bad.toml").write_text(BAD_POLICY)
    (tmp_path / "open.toml").write_text(OPEN_POLICY)
    expected = (
        "error: bad.toml: rule 2 'videos': unknown key 'requried' (did you mean 'required'?); "
        "allowed keys: name, importance, format, roles, users, required, deadline_hours"
    )
    assert refused(run("policy", "check", "bad.toml")) == expected
    assert refused(run("policy", "set", "--org", "cms", "bad.toml")) == expected
    assert [r["name"] for r in json.loads(ok(run("policy", "show", "--org", "cms", "--json")))["rules"]] == [
        "major: an approver",
        "press releases and results: an approver",
        "everything else: an editor",
    ]
    assert refused(run("policy", "check", "missing.toml")) == "error: policy file missing.toml does not exist"

    assert ok(run("policy", "check", "open.toml")) == "ok: 1 rule\n"
    assert refused(run("policy", "set", "--org", "cms", "open.toml", "--as", "eve")) == (
        "error: rule 'roles': to change the approval policy in cms one must be an admin or above; "
        "eve is an editor of cms"
    )
    assert ok(run("policy", "set", "--org", "cms", "open.toml")) == "policy of cms set: 1 rule\n"
    toml = ok(run("policy", "show", "--org", "cms"))
    assert 'name = "nothing to sign"' in toml.splitlines()
    (tmp_path / "shown.toml").write_text(toml)
    assert ok(run("policy", "check", "shown.toml")) == "ok: 1 rule\n"
    assert json.loads(ok(run("org", "list", "--json")))[0]["policy"] == "custom"

    ok(run("channel", "add", "--platform", "x", "--name", "cms-x", "--dry-run", "--org", "cms"))
    created = ok(run("post", "create", "--as", "eve", "--text", "hi", "-c", "cms-x", "--at", "2031-05-05T10:00Z"))
    assert created.splitlines()[0] == "post 1 queued"
    assert [p["state"] for p in post_json(run, 1)["publications"]] == ["scheduled"]


def test_the_queue_gives_the_next_free_slot_and_a_higher_priority_goes_first(run: Run) -> None:
    zone = ZoneInfo("Europe/Zurich")
    ok(run("channel", "add", "--platform", "linkedin", "--name", "q-li", "--dry-run", "--timezone", "Europe/Zurich"))
    message = refused(run("post", "create", "--text", "one", "-c", "q-li", "--queue"))
    assert "channel q-li has no posting schedule" in message

    day = datetime.now(zone).date() + timedelta(days=3)  # the only slots in the next 7 days
    weekday = f"{day:%a}".lower()
    assert ok(run("queue", "set", "q-li", "--slot", f"{weekday} 10:00,15:00", "--min-spacing", "90m")) == (
        f"q-li: {day:%a} 10:00, 15:00 (Europe/Zurich); 90 min apart\n"
    )
    ten, three = (datetime.combine(day, time(hour), zone) for hour in (10, 15))

    assert ok(run("post", "create", "--text", "one", "-c", "q-li", "--queue")).splitlines()[0] == "post 1 queued"
    assert post_json(run, 1)["publications"][0]["due_at"] == ten.astimezone(UTC).isoformat()
    ok(run("post", "create", "--text", "two", "-c", "q-li", "--queue", "--priority", "high"))
    assert post_json(run, 2)["publications"][0]["due_at"] == ten.astimezone(UTC).isoformat()
    assert post_json(run, 1)["publications"][0]["due_at"] == three.astimezone(UTC).isoformat()

    shown = ok(run("queue", "show", "q-li")).splitlines()
    assert shown[0] == f"q-li: {day:%a} 10:00, 15:00 (Europe/Zurich); 90 min apart"
    assert shown[1].split() == ["slot", "holder"]
    assert [re.split(r"\s{2,}", line) for line in shown[3:]] == [
        [f"{ten:%a %Y-%m-%d %H:%M %Z}", "post 2 (high, scheduled)"],
        [f"{three:%a %Y-%m-%d %H:%M %Z}", "post 1 (normal, scheduled)"],
    ]
    view = json.loads(ok(run("queue", "show", "q-li", "--days", "14", "--json")))
    assert [slot["holder"] for slot in view["slots"]] == [
        "post 2 (high, scheduled)",
        "post 1 (normal, scheduled)",
        None,
        None,
    ]


def test_pause_and_resume(run: Run) -> None:
    assert ok(run("pause", "--reason", "embargo until the press conference")) == (
        "publishing paused: embargo until the press conference\n"
    )
    assert refused(run("pause"), code=1) == "error: publishing is already paused"
    assert ok(run("resume")) == "publishing resumed; no publication had to move\n"
    assert refused(run("resume"), code=1) == "error: publishing is not paused"


def test_blackouts_refuse_times_inside_them_until_removed(run: Run) -> None:
    ok(run("channel", "add", "--platform", "x", "--name", "cms-x", "--dry-run"))
    window = ["--from", "2031-12-24 00:00", "--to", "2032-01-02 00:00", "--tz", "Europe/Zurich"]
    added = ok(run("queue", "blackout", "add", "annual closure", *window))
    assert added == "blackout 1 'annual closure': 2031-12-23 23:00 UTC to 2032-01-01 23:00 UTC on every channel\n"
    assert json.loads(ok(run("queue", "blackout", "list", "--json"))) == [
        {
            "id": 1,
            "name": "annual closure",
            "starts_at": "2031-12-23T23:00:00+00:00",
            "ends_at": "2032-01-01T23:00:00+00:00",
            "channel": "all",
        }
    ]
    inside = ["post", "create", "--text", "hi", "-c", "cms-x", "--at", "2031-12-25T10:00Z"]
    assert "rule 'blackout': 'annual closure'" in refused(run(*inside))
    assert ok(run("queue", "blackout", "remove", "1")) == "blackout 1 removed\n"
    assert json.loads(ok(run("queue", "blackout", "list", "--json"))) == []
    assert ok(run(*inside)).splitlines()[0] == "post 1 queued"


def test_a_partner_adopts_a_shared_post_with_its_media_and_the_share_is_withdrawn(run: Run, tmp_path: Path) -> None:
    setup_orgs(run, ("ana", "cms", "contributor"), ("eve", "cms", "editor"), ("paul", "lapp", "contributor"))
    ok(run("channel", "add", "--platform", "x", "--name", "cms-x", "--dry-run", "--org", "cms"))
    ok(run("channel", "add", "--platform", "x", "--name", "lapp-x", "--dry-run", "--org", "lapp"))
    image = write_image(tmp_path / "detector.png")
    ok(
        run(
            "post",
            "create",
            "--as",
            "ana",
            "--text",
            "A new detector",
            "-c",
            "cms-x",
            "--at",
            "2031-05-05T10:00Z",
            "--media",
            str(image),
            "--alt",
            "the detector",
        )
    )
    assert refused(run("post", "share", "1", "--with", "lapp", "--as", "eve"), code=1) == (
        "error: post 1 is submitted; only approved posts are shared"
    )
    ok(run("post", "approve", "1", "--as", "eve"))
    assert ok(run("post", "share", "1", "--with", "lapp", "--as", "eve")) == (
        "post 1 shared with lapp as share 1 (text as is)\n"
    )

    adopt = ["post", "adopt", "1", "-c", "lapp-x", "--at", "2031-05-06T10:00Z", "--as", "paul"]
    assert "rule 'shared as is'" in refused(run(*adopt, "--text", "A detector"))
    adopted = ok(run(*adopt, "--text", "From CMS: A new detector"))
    assert adopted.splitlines()[0] == "share 1 of post 1 adopted: post 2 submitted for sign-off"
    copy = post_json(run, 2)
    original = post_json(run, 1)
    assert copy["text"] == "From CMS: A new detector"
    assert copy["media"] == original["media"]
    assert copy["media"][0]["name"] == "detector.png"
    assert copy["media"][0]["alt_text"] == "the detector"
    assert [(p["channel"], p["state"]) for p in copy["publications"]] == [("lapp-x", "awaiting_signoff")]
    assert json.loads(ok(run("post", "shares", "--org", "lapp", "--json"))) == [
        {"id": 1, "post": 1, "from": "cms", "to": "lapp", "may_edit": False, "state": "adopted", "copy": 2}
    ]

    assert ok(run("post", "unshare", "1", "--as", "eve")) == "share 1 withdrawn; the copy was cancelled on lapp-x\n"
    assert [p["state"] for p in post_json(run, 2)["publications"]] == ["cancelled"]
    assert [p["state"] for p in post_json(run, 1)["publications"]] == ["scheduled"]
