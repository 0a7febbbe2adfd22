"""Small hardening found by review, through the running API: refusals name the right rule and
leak nothing of other organisations; a platform's failure is a 502, never a bare 500."""

from __future__ import annotations

from scheduler.editorial.authorization import MINIMUM_ROLE, Action
from tests.api.conftest import World


def test_notification_targets_have_their_own_action(world: World) -> None:
    assert MINIMUM_ROLE[Action.MANAGE_NOTIFICATIONS] == "admin"
    with world.client("carol") as carol:
        refused = carol.post("/organisations/collab/notification-targets", json={"url": "discord://1234/abcd"})
    assert refused.status_code == 403
    assert "rule 'roles': to manage notification targets (of collab) in collab" in refused.json()["detail"]
