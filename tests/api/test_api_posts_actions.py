"""The editorial actions on posts through the running API: edit, submit, approve, request changes,
comments and review, shares, variants, preview, cancel and retry; and who may not."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx

from scheduler.store import Event, Share, SignOff
from tests.api.conftest import World


def _later(world: World, hours: int = 24) -> str:
    return (world.clock() + timedelta(hours=hours)).isoformat()


def _post(world: World, who: str = "carol", **fields: Any) -> dict[str, Any]:
    body = {"text": "The new detector is in place.", "channels": ["collab-x"], "at": _later(world), **fields}
    with world.client(who) as api:
        created = api.post("/posts", json=body)
    assert created.status_code == 201, created.text
    post: dict[str, Any] = created.json()
    return post


def _refused(answer: httpx.Response, status: int = 403) -> str:
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    detail: str = answer.json()["detail"]
    return detail


def _signoffs(world: World, post_id: int) -> int:
    with world.runtime.db.read() as session:
        return session.query(SignOff).filter(SignOff.post_id == post_id).count()


def test_sign_off_follows_the_policy_and_a_replayed_key_signs_once(world: World) -> None:
    post = _post(world)
    assert post["publications"][0]["state"] == "awaiting_signoff"
    with world.client("carol") as carol:
        own = carol.post(f"/posts/{post['id']}/approve")
        assert "four eyes" in _refused(own)
    with world.client("paula") as paula:
        assert "paula is not a member of collab" in _refused(paula.post(f"/posts/{post['id']}/approve"))
    with world.client("ed") as ed:
        key = {"Idempotency-Key": "approve-1"}
        first = ed.post(f"/posts/{post['id']}/approve", json={"note": "checked the numbers"}, headers=key)
        assert first.status_code == 200, first.text
        assert first.json() == {"post": post["id"], "signed": ["collab (base)"], "review": "approved", "waiting": []}
        again = ed.post(f"/posts/{post['id']}/approve", json={"note": "checked the numbers"}, headers=key)
        assert again.status_code == 200
        assert again.headers["idempotent-replayed"] == "true"
        assert again.json() == first.json()
        assert _signoffs(world, post["id"]) == 1
        # without the key it is a new request, and the service says there is nothing left to sign
        fresh = ed.post(f"/posts/{post['id']}/approve")
        assert fresh.status_code == 409
        assert "nothing awaiting sign-off" in fresh.json()["detail"]
        assert ed.get(f"/posts/{post['id']}").json()["publications"][0]["state"] == "scheduled"


def test_approving_what_the_policy_does_not_let_you_names_the_rule(world: World) -> None:
    post = _post(world, importance="major")
    with world.client("ed") as ed:
        detail = _refused(ed.post(f"/posts/{post['id']}/approve"))
        assert "collab's rule 'major: an approver'" in detail
        assert "ed is an editor of collab" in detail
    with world.client("apu") as apu:
        assert apu.post(f"/posts/{post['id']}/approve").json()["review"] == "approved"
    assert _signoffs(world, post["id"]) == 1


def test_a_draft_is_submitted_changes_are_requested_and_comments_kept(world: World) -> None:
    post = _post(world, draft=True)
    with world.client("paula") as paula:
        assert "paula is not a member of collab" in _refused(paula.post(f"/posts/{post['id']}/submit"))
    with world.client("carol") as carol:
        submitted = carol.post(f"/posts/{post['id']}/submit")
        assert submitted.status_code == 200, submitted.text
        assert submitted.json()["review"] == "submitted"
        assert submitted.json()["needs"] == {
            "collab-x": "collab's rule 'everything else: an editor': 1 editor or above (0 of 1 signed)"
        }
        assert carol.post(f"/posts/{post['id']}/submit").status_code == 409
    with world.client("ed") as ed:
        empty = ed.post(f"/posts/{post['id']}/request-changes", json={"text": ""})
        assert empty.status_code == 422
        assert empty.json()["field"] == "text"
        assert ed.post(f"/posts/{post['id']}/request-changes", json={}).json()["field"] == "text"
        asked = ed.post(f"/posts/{post['id']}/request-changes", json={"text": "Say which detector."})
        assert asked.status_code == 200, asked.text
        assert asked.json()["review"] == "changes_requested"
    with world.client("carol") as carol:
        assert "edit it instead" in _refused(carol.post(f"/posts/{post['id']}/request-changes", json={"text": "hmm"}))
        comment = carol.post(f"/posts/{post['id']}/comments", json={"text": "The inner tracker, done."})
        assert comment.status_code == 201, comment.text
        assert comment.json()["author"] == "carol"
        assert comment.json()["kind"] == "comment"
        listed = carol.get(f"/posts/{post['id']}/comments").json()
        assert [(c["author"], c["kind"], c["text"]) for c in listed] == [
            ("ed", "change_request", "Say which detector."),
            ("carol", "comment", "The inner tracker, done."),
        ]
        review = carol.get(f"/posts/{post['id']}/review").json()
        assert review["review"] == "changes_requested"
        assert review["deadlines"]["collab-x"] is None or "status" in review["deadlines"]["collab-x"]
        assert carol.post(f"/posts/{post['id']}/comments", json={"text": "x", "extra": 1}).status_code == 422
    with world.client("paula") as paula:
        assert "paula" in _refused(paula.post(f"/posts/{post['id']}/comments", json={"text": "ours?"}))
        _refused(paula.get(f"/posts/{post['id']}/comments"))
        _refused(paula.get(f"/posts/{post['id']}/review"))


def test_editing_changes_content_and_channels_and_needs_a_new_sign_off(world: World) -> None:
    post = _post(world)
    with world.client("ed") as ed:
        ed.post(f"/posts/{post['id']}/approve").raise_for_status()
    with world.client("carol") as carol:
        edited = carol.patch(
            f"/posts/{post['id']}",
            json={"text": "The new detector is in place and taking data.", "add_channels": ["collab-li"]},
        )
        assert edited.status_code == 200, edited.text
        view = edited.json()
        assert view["version"] == 2
        assert view["text"] == "The new detector is in place and taking data."
        assert {p["channel"]: p["state"] for p in view["publications"]} == {
            "collab-x": "awaiting_signoff",
            "collab-li": "awaiting_signoff",
        }
        assert carol.patch(f"/posts/{post['id']}", json={"media": []}).status_code == 422
        unknown = carol.patch(f"/posts/{post['id']}", json={"add_channels": ["nope"]})
        assert "nope" in unknown.json()["detail"]
        assert carol.patch("/posts/0", json={"text": "x"}).status_code == 422
        assert carol.patch(f"/posts/{2**31}", json={"text": "x"}).status_code == 422
    with world.client("paula") as paula:
        assert "edit post" in _refused(paula.patch(f"/posts/{post['id']}", json={"text": "ours now"}))
    with world.client("carol") as carol:
        assert carol.get(f"/posts/{post['id']}").json()["version"] == 2


def test_a_post_is_shared_adopted_and_withdrawn(world: World) -> None:
    post = _post(world)
    with world.client("ed") as ed:
        early = ed.post(f"/posts/{post['id']}/share", json={"org": "partner"})
        assert "only approved posts are shared" in _refused(early, 409)
        ed.post(f"/posts/{post['id']}/approve").raise_for_status()
    with world.client("carol") as carol:  # sharing takes an editor
        assert "rule 'roles'" in _refused(carol.post(f"/posts/{post['id']}/share", json={"org": "partner"}))
    with world.client("ed") as ed:
        shared = ed.post(f"/posts/{post['id']}/share", json={"org": "partner", "may_edit": False})
        assert shared.status_code == 201, shared.text
        share = shared.json()
        assert share == {
            "id": share["id"],
            "post": post["id"],
            "from": "collab",
            "to": "partner",
            "may_edit": False,
            "state": "offered",
            "copy": None,
        }
        assert shared.headers["location"] == f"/api/v1/shares/{share['id']}"
        assert [s["id"] for s in ed.get("/shares").json()] == [share["id"]]
    with world.client("pete") as pete:
        assert [s["id"] for s in pete.get("/shares").json()] == [share["id"]]
        assert "pete is not a member of collab" in _refused(pete.get("/shares", params={"org": "collab"}))
        assert "rule 'roles'" in _refused(pete.delete(f"/shares/{share['id']}"))
    with world.client("carol") as carol:  # collab's people cannot adopt for the partner
        refused = carol.post(f"/shares/{share['id']}/adopt", json={"channels": ["partner-x"], "at": _later(world)})
        assert "may not schedule on partner-x, which belongs to partner" in _refused(refused)
    with world.client("paula") as paula:
        changed = paula.post(
            f"/shares/{share['id']}/adopt",
            json={"channels": ["partner-x"], "at": _later(world), "text": "Our own words"},
        )
        assert "rule 'shared as is'" in _refused(changed)
        adopted = paula.post(f"/shares/{share['id']}/adopt", json={"channels": ["partner-x"], "at": _later(world)})
        assert adopted.status_code == 201, adopted.text
        copy = adopted.json()
        assert copy["text"] == post["text"]
        assert [p["channel"] for p in copy["publications"]] == ["partner-x"]
        assert paula.post(f"/shares/{share['id']}/adopt", json={"channels": ["partner-x"]}).status_code == 409
    with world.client("ed") as ed:
        withdrawn = ed.delete(f"/shares/{share['id']}")
        assert withdrawn.status_code == 200, withdrawn.text
        assert withdrawn.json()["state"] == "withdrawn"
        assert withdrawn.json()["cancelled"] == ["partner-x"]
        assert ed.delete(f"/shares/{share['id']}").status_code == 409
        assert ed.delete("/shares/999999").status_code == 404
    with world.client("paula") as paula:
        assert paula.get(f"/posts/{copy['id']}").json()["publications"][0]["state"] == "cancelled"
    with world.runtime.db.read() as session:
        assert session.query(Share).one().state == "withdrawn"


def test_a_language_variant_is_added_and_signed_on_its_own(world: World) -> None:
    post = _post(world)
    with world.client("carol") as carol:
        added = carol.post(
            f"/posts/{post['id']}/variants", json={"text": "Der neue Detektor ist eingebaut.", "language": "de"}
        )
        assert added.status_code == 201, added.text
        assert added.json()["used_on"] == []  # no German channel yet
        bad = carol.post(f"/posts/{post['id']}/variants", json={"text": "x", "language": "not a tag!"})
        assert bad.status_code == 422
        assert carol.post(f"/posts/{post['id']}/variants", json={"language": "de"}).json()["field"] == "text"
    with world.client("paula") as paula:
        _refused(paula.post(f"/posts/{post['id']}/variants", json={"text": "Hallo", "language": "de"}))
    assert any(v["language"] == "de" for v in _view(world, post["id"])["variants"])


def _view(world: World, post_id: int) -> dict[str, Any]:
    with world.client("carol") as api:
        view: dict[str, Any] = api.get(f"/posts/{post_id}").json()
    return view


def test_a_preview_shows_each_channel_and_serves_only_its_own_files(world: World) -> None:
    long = " ".join(f"Sentence {n} about the new detector and what it will measure." for n in range(1, 9))
    post = _post(world, text=long, channels=["collab-x", "collab-li"])
    with world.client("carol") as carol:
        answer = carol.get(f"/posts/{post['id']}/preview")
        assert answer.status_code == 200, answer.text
        previews = {p["channel"]: p for p in answer.json()}
        assert set(previews) == {"collab-x", "collab-li"}
        assert len(previews["collab-x"]["parts"]) == 2  # the X thread split, as it will be posted
        assert len(previews["collab-li"]["parts"]) == 1
        text_url = next(url for url in previews["collab-x"]["files"] if url.endswith("/text.txt"))
        served = carol.get(text_url.removeprefix("/api/v1"))
        assert served.status_code == 200
        assert served.text.startswith("Sentence 1")
        only_x = carol.get(f"/posts/{post['id']}/preview", params={"channel": "collab-x"}).json()
        assert [p["channel"] for p in only_x] == ["collab-x"]
        assert "not on nope" in carol.get(f"/posts/{post['id']}/preview", params={"channel": "nope"}).json()["detail"]
        base = f"/posts/{post['id']}/preview"
        for sneaky in (
            f"{base}/collab-x/%2e%2e%2f%2e%2e%2fcrosspost.db",
            f"{base}/%2e%2e/text.txt",
            f"{base}/collab-x/%2e%2e",
            f"{base}/./text.txt",
            f"{base}/collab-x/..%5c..%5csecret.key",
            f"/posts/{post['id']}/preview/..%2f..%2f..%2f/secret.key",
        ):
            leaked = carol.get(sneaky)
            assert leaked.status_code in (404, 422), sneaky
            assert b"SQLite" not in leaked.content
    with world.client("paula") as paula:
        _refused(paula.get(f"/posts/{post['id']}/preview"))
        _refused(paula.get(text_url.removeprefix("/api/v1")))


def test_cancel_and_retry_move_what_they_apply_to(world: World) -> None:
    post = _post(world, channels=["collab-x", "collab-li"])
    with world.client("paula") as paula:
        _refused(paula.post(f"/posts/{post['id']}/cancel"))
    with world.client("carol") as carol:
        nothing = carol.post(f"/posts/{post['id']}/retry")
        assert nothing.status_code == 409
        assert "nothing to retry" in nothing.json()["detail"]
        one = carol.post(f"/posts/{post['id']}/cancel", json={"channel": "collab-li"})
        assert one.status_code == 200, one.text
        assert one.json()["channels"] == ["collab-li"]
        states = {p["channel"]: p["state"] for p in one.json()["post"]["publications"]}
        assert states == {"collab-x": "awaiting_signoff", "collab-li": "cancelled"}
        everything = carol.post(f"/posts/{post['id']}/cancel")
        assert everything.json()["channels"] == ["collab-x"]
        again = carol.post(f"/posts/{post['id']}/retry")
        assert sorted(again.json()["channels"]) == ["collab-li", "collab-x"]
        # not signed off yet: back to waiting for it, never straight to the queue
        assert {p["state"] for p in again.json()["post"]["publications"]} == {"awaiting_signoff"}
        assert carol.post(f"/posts/{post['id']}/cancel", json={"channel": "partner-x"}).status_code == 422
    with world.runtime.db.read() as session:
        vias = [e.via or "" for e in session.query(Event).filter(Event.post_id == post["id"], Event.actor == "carol")]
        assert vias
        assert all(via.startswith("token:") for via in vias)
