"""Notification preferences and chat targets through the running API: success and refusal paths."""

from __future__ import annotations

from sqlalchemy import select

from scheduler.store import NotificationPreference, NotificationTarget
from tests.api.conftest import World

CHAT = "json://127.0.0.1:9/hooks/s3cret"


def test_my_preferences_per_kind(world: World) -> None:
    with world.client("carol") as carol:
        shown = carol.get("/me/notifications")
        assert shown.status_code == 200
        assert set(shown.json()["preferences"].values()) == {"now"}
        assert "post.approved" in shown.json()["kinds"]

        changed = carol.put(
            "/me/notifications", json={"preferences": {"post.approved": "digest", "post.submitted": "off"}}
        )
        assert changed.status_code == 200, changed.text
        assert changed.json()["preferences"]["post.approved"] == "digest"
        assert changed.json()["preferences"]["post.submitted"] == "off"
        assert changed.json()["preferences"]["publication.failed"] == "now"

        # one unknown kind refuses the whole change: nothing of it is stored
        bad = carol.put("/me/notifications", json={"preferences": {"post.approved": "now", "post.liked": "now"}})
        assert bad.status_code == 422
        assert "unknown notification kind 'post.liked'" in bad.json()["detail"]
        assert carol.put("/me/notifications", json={"preferences": {"post.approved": "weekly"}}).status_code == 422
        assert carol.get("/me/notifications").json()["preferences"]["post.approved"] == "digest"
    with world.client() as anonymous:
        assert anonymous.get("/me/notifications").status_code == 401
    with world.runtime.db.transaction() as session:
        assert len(session.scalars(select(NotificationPreference)).all()) == 2


def test_an_organisation_s_chat_targets_are_its_admins(world: World) -> None:
    world.runtime.settings.webhook_allowed_hosts = frozenset({"127.0.0.1"})  # CHAT's host, loopback
    with world.client("alice") as alice, world.client("carol") as carol, world.client("pete") as pete:
        added = alice.post(
            "/organisations/collab/notification-targets", json={"url": CHAT, "kinds": ["channel.needs_reconnect"]}
        )
        assert added.status_code == 201, added.text
        target = added.json()
        assert target["url"] == "json://********"
        assert (target["org"], target["kinds"]) == ("collab", ["channel.needs_reconnect"])
        assert "s3cret" not in alice.get("/organisations/collab/notification-targets").text
        assert [t["id"] for t in alice.get("/organisations/collab/notification-targets").json()] == [target["id"]]

        # a contributor, and the admin of another organisation, may not see or change them
        assert carol.post("/organisations/collab/notification-targets", json={"url": CHAT}).status_code == 403
        assert carol.get("/organisations/collab/notification-targets").status_code == 403
        assert pete.delete(f"/organisations/collab/notification-targets/{target['id']}").status_code == 403
        assert pete.delete(f"/organisations/partner/notification-targets/{target['id']}").status_code == 404

        refused = alice.post("/organisations/collab/notification-targets", json={"url": "nosuch://a/b"})
        assert refused.status_code == 422
        assert "apprise does not understand the chat URL 'nosuch://********'" in refused.json()["detail"]
        assert alice.post("/organisations/nowhere/notification-targets", json={"url": CHAT}).status_code == 404

        assert alice.delete(f"/organisations/collab/notification-targets/{target['id']}").status_code == 204
        assert alice.get("/organisations/collab/notification-targets").json() == []


def test_a_personal_chat_target(world: World) -> None:
    world.runtime.settings.webhook_allowed_hosts = frozenset({"127.0.0.1"})  # CHAT's host, loopback
    with world.client("carol") as carol, world.client("ed") as ed:
        added = carol.post("/me/notification-targets", json={"url": CHAT, "kinds": ["post.approved"]})
        assert added.status_code == 201, added.text
        assert (added.json()["user"], added.json()["org"]) == ("carol", None)
        assert [t["id"] for t in carol.get("/me/notification-targets").json()] == [added.json()["id"]]
        assert ed.get("/me/notification-targets").json() == []
        assert ed.delete(f"/me/notification-targets/{added.json()['id']}").status_code == 404  # not ed's
        bad_kind = carol.post("/me/notification-targets", json={"url": CHAT, "kinds": ["post.liked"]})
        assert bad_kind.status_code == 422
        assert carol.delete(f"/me/notification-targets/{added.json()['id']}").status_code == 204
    with world.runtime.db.transaction() as session:
        assert session.scalars(select(NotificationTarget)).all() == []
