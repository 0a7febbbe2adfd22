"""Disabling an account: someone who left can no longer act, through any token or session."""

from __future__ import annotations

from tests.api.conftest import World


def test_an_admin_disables_an_account_and_its_tokens_stop_working(world: World) -> None:
    with world.client("carol") as carol:
        assert carol.get("/me").status_code == 200
    with world.client("pete") as pete:  # a partner's admin: carol is not in the partner
        refused = pete.post("/users/carol/disable")
        assert refused.status_code == 403
    with world.client("carol") as carol:
        assert carol.post("/users/carol/disable").status_code == 403  # not oneself
    with world.client("alice") as alice:
        done = alice.post("/users/carol/disable")
        assert done.status_code == 200, done.text
        assert done.json() == {"name": "carol", "disabled": True, "changed": True}
        assert alice.post("/users/carol/disable").json()["changed"] is False
    with world.client("carol") as carol:
        answer = carol.get("/me")
        assert answer.status_code == 401
        assert "disabled" in answer.json()["detail"]
    with world.client("alice") as alice:
        assert alice.post("/users/carol/enable").json()["changed"] is True
    with world.client("carol") as carol:
        assert carol.get("/me").status_code == 200
