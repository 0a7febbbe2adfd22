"""Small hardening found by review, through the running API: refusals name the right rule and
leak nothing of other organisations; a platform's failure is a 502, never a bare 500."""

from __future__ import annotations

from datetime import timedelta

from scheduler.editorial.authorization import MINIMUM_ROLE, Action
from tests.api.conftest import World


def test_notification_targets_have_their_own_action(world: World) -> None:
    assert MINIMUM_ROLE[Action.MANAGE_NOTIFICATIONS] == "admin"
    with world.client("carol") as carol:
        refused = carol.post("/organisations/collab/notification-targets", json={"url": "discord://1234/abcd"})
    assert refused.status_code == 403
    assert "rule 'roles': to manage notification targets (of collab) in collab" in refused.json()["detail"]


def test_an_unknown_channel_names_only_the_channels_the_caller_may_use(world: World) -> None:
    at = (world.clock() + timedelta(days=1)).isoformat()
    campaign = {"observance": "international-day-of-light", "text": "Happy {name}!", "lead_days": 3}
    with world.client("paula") as paula, world.client("carol") as carol:
        for answer in (
            paula.post("/posts", json={"text": "hello", "channels": ["ghost"], "at": at}),
            paula.post("/campaigns", json=campaign | {"channels": ["ghost"]}),
        ):
            assert answer.status_code == 422, answer.text
            detail = answer.json()["detail"]
            assert "unknown channel 'ghost'; known channels: partner-x" in detail
            assert "collab-" not in detail  # the host's channels are not the partner's business
        mine = carol.post("/posts", json={"text": "hello", "channels": ["ghost"], "at": at}).json()["detail"]
        assert "known channels: collab-li, collab-x" in mine
        assert "partner-x" not in mine
