"""Publications through the running API: read, retry, cancel, and a person's word on one the
pipeline could not settle."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from scheduler.publishing import publications
from scheduler.store import Event
from tests.api.conftest import World


def _approved_post(world: World, *, channels: tuple[str, ...] = ("collab-x",), seconds: int = 60) -> dict[str, Any]:
    at = (world.clock() + timedelta(seconds=seconds)).isoformat()
    with world.client("carol") as carol:
        created = carol.post("/posts", json={"text": "Beam is back.", "channels": list(channels), "at": at})
        assert created.status_code == 201, created.text
    post: dict[str, Any] = created.json()
    with world.client("ed") as ed:
        ed.post(f"/posts/{post['id']}/approve").raise_for_status()
    return post


def _unknown(world: World) -> int:
    """A publication whose worker claimed it, called the platform (maybe) and died: the real
    pipeline's steps, up to the lease running out."""
    runtime = world.runtime
    _approved_post(world)
    world.clock.advance(60)
    (dispatch,) = publications.claim_due(runtime.db, now=world.clock(), settings=runtime.settings)
    claimed = publications.claim(
        runtime.db, dispatch.publication_id, dispatch.token, now=world.clock(), settings=runtime.settings
    )
    assert claimed is not None
    world.clock.advance(runtime.settings.publish_lease + 1)
    assert publications.expire_leases(runtime.db, now=world.clock(), settings=runtime.settings) == [
        dispatch.publication_id
    ]
    return dispatch.publication_id


def _events(world: World, publication_id: int) -> list[Event]:
    with world.runtime.db.read() as session:
        found = session.query(Event).filter(Event.publication_id == publication_id).order_by(Event.id).all()
        session.expunge_all()
        return found


def test_a_publication_is_read_by_who_may_see_its_post(world: World) -> None:
    post = _approved_post(world)
    publication_id = post["publications"][0]["id"]
    with world.client("carol") as carol:
        answer = carol.get(f"/publications/{publication_id}")
        assert answer.status_code == 200, answer.text
        view = answer.json()
        assert (view["id"], view["post"], view["channel"], view["state"]) == (
            publication_id,
            post["id"],
            "collab-x",
            "scheduled",
        )
        assert (view["attempts"], view["last_error"], view["late_s"], view["remote_url"]) == (0, None, None, None)
        assert carol.get("/publications/999999").status_code == 404
        assert carol.get("/publications/0").status_code == 422
    with world.client("paula") as paula:
        refused = paula.get(f"/publications/{publication_id}")
        assert refused.status_code == 403
        assert "paula is not a member of collab" in refused.json()["detail"]


def test_an_unknown_outcome_is_resolved_as_published_by_an_editor_with_a_reason(world: World) -> None:
    publication_id = _unknown(world)
    with world.client("carol") as carol:
        seen = carol.get(f"/publications/{publication_id}").json()
        assert seen["state"] == "unknown"
        # the author, a contributor, may not say what the platform has: that takes an editor
        body = {"outcome": "published", "reason": "I see it on the timeline"}
        refused = carol.post(f"/publications/{publication_id}/resolve", json=body)
        assert refused.status_code == 403
        assert "rule 'roles'" in refused.json()["detail"]
    with world.client("pete") as pete:  # an admin, of another organisation
        assert pete.post(f"/publications/{publication_id}/resolve", json=body).status_code == 403
    with world.client("ed") as ed:
        assert ed.post(f"/publications/{publication_id}/resolve", json={"outcome": "published"}).status_code == 422
        no_reason = ed.post(f"/publications/{publication_id}/resolve", json={"outcome": "published", "reason": ""})
        assert no_reason.json()["field"] == "reason"
        assert ed.post(f"/publications/{publication_id}/resolve", json={**body, "outcome": "maybe"}).status_code == 422
        resolved = ed.post(
            f"/publications/{publication_id}/resolve",
            json={**body, "remote_id": "1790000000000000001", "remote_url": "https://x.com/collab/status/1"},
        )
        assert resolved.status_code == 200, resolved.text
        view = resolved.json()
        assert view["state"] == "published"
        assert (view["remote_id"], view["remote_url"]) == ("1790000000000000001", "https://x.com/collab/status/1")
        assert view["late_s"] == world.runtime.settings.publish_lease + 1
        again = ed.post(f"/publications/{publication_id}/resolve", json=body)
        assert again.status_code == 409
        assert "only unknown or needs_attention" in again.json()["detail"]
    last = _events(world, publication_id)[-1]
    assert (last.from_state, last.to_state, last.actor) == ("unknown", "published", "ed")
    assert last.message == "resolved by hand: published: I see it on the timeline"
    assert last.via is not None
    assert last.via.startswith("token:")


def test_not_published_cancels_it_and_retry_sends_it_again(world: World) -> None:
    publication_id = _unknown(world)
    with world.client("ed") as ed:
        said = ed.post(
            f"/publications/{publication_id}/resolve",
            json={"outcome": "not_published", "reason": "not on the profile", "remote_id": "1"},
        )
        assert said.status_code == 422
        assert "no remote id" in said.json()["detail"]
        resolved = ed.post(
            f"/publications/{publication_id}/resolve", json={"outcome": "not_published", "reason": "not on the profile"}
        )
        assert resolved.status_code == 200, resolved.text
        assert resolved.json()["state"] == "cancelled"
        moves = [(e.from_state, e.to_state, e.actor) for e in _events(world, publication_id)[-2:]]
        assert moves == [("unknown", "needs_attention", "ed"), ("needs_attention", "cancelled", "ed")]
        retried = ed.post(f"/publications/{publication_id}/retry")
        assert retried.status_code == 200, retried.text
        assert retried.json()["state"] == "scheduled"  # signed already: straight back to the queue
        assert retried.json()["attempts"] == 0
        assert ed.post(f"/publications/{publication_id}/retry").status_code == 409
        scheduled = ed.post(f"/publications/{publication_id}/resolve", json={"outcome": "published", "reason": "x"})
        assert scheduled.status_code == 409


def test_a_publication_is_cancelled_alone_and_only_by_who_may(world: World) -> None:
    post = _approved_post(world, channels=("collab-x", "collab-li"))
    ids = {p["channel"]: p["id"] for p in post["publications"]}
    with world.client("paula") as paula:
        assert paula.post(f"/publications/{ids['collab-li']}/cancel").status_code == 403
        assert paula.post(f"/publications/{ids['collab-li']}/retry").status_code == 403
    with world.client("carol") as carol:
        cancelled = carol.post(f"/publications/{ids['collab-li']}/cancel")
        assert cancelled.status_code == 200, cancelled.text
        assert cancelled.json()["state"] == "cancelled"
        assert carol.get(f"/publications/{ids['collab-x']}").json()["state"] == "scheduled"
        assert carol.post(f"/publications/{ids['collab-li']}/cancel").status_code == 409
        assert carol.post("/publications/999999/cancel").status_code == 404
