"""Webhooks through the HTTP API: subscribe (the secret once), list, change, test, the delivery
log, replay, remove; who may; what is refused."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack

import httpx
import pytest

from scheduler.notify.outbound import run_outbound
from tests.api.conftest import World
from tests.notify.receiver import Receiver


@pytest.fixture
def clients(world: World) -> Iterator[dict[str | None, httpx.Client]]:
    with ExitStack() as stack:
        yield {who: stack.enter_context(world.client(who)) for who in (None, "alice", "carol", "ed", "pete")}


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    running = Receiver()
    yield running
    running.close()


def test_an_admin_subscribes_tests_reads_the_log_replays_and_removes(
    world: World, clients: dict[str | None, httpx.Client], receiver: Receiver
) -> None:
    from scheduler.notify import webhooks

    world.runtime.settings.webhook_allowed_hosts = frozenset({"127.0.0.1"})
    alice = clients["alice"]
    made = alice.post(
        "/organisations/collab/webhooks",
        json={"url": receiver.url, "kinds": ["post.submitted", "post.approved"], "description": "intranet"},
    )
    assert made.status_code == 201, made.text
    hook = made.json()
    assert hook["secret"].startswith("whsec_")
    assert made.headers["Location"] == f"/api/v1/webhooks/{hook['id']}"
    receiver.secret = hook["secret"]
    listed = alice.get("/organisations/collab/webhooks").json()
    assert [h["id"] for h in listed] == [hook["id"]]
    assert "secret" not in listed[0]  # shown once
    assert listed[0]["kinds"] == ["post.submitted", "post.approved"]

    sent = alice.post(f"/webhooks/{hook['id']}/test")
    assert sent.status_code == 200, sent.text
    assert (sent.json()["state"], sent.json()["last_status"]) == ("delivered", 200)
    [ping] = receiver.delivered()
    assert ping.body["type"] == "webhook.test"

    created = clients["carol"].post(
        "/posts", json={"text": "Webhooks!", "channels": ["collab-x"], "at": "2099-01-01T10:00:00Z"}
    )
    assert created.status_code == 201, created.text
    run_outbound(world.runtime, world.clock())
    webhooks.settle(30)
    assert [a.body["type"] for a in receiver.delivered()] == ["webhook.test", "post.submitted"]
    assert receiver.bad_signatures == 0

    page = alice.get(f"/webhooks/{hook['id']}/deliveries", params={"limit": 1})
    assert page.status_code == 200, page.text
    [newest] = page.json()["items"]
    assert newest["kind"] == "post.submitted"
    older = alice.get(f"/webhooks/{hook['id']}/deliveries", params={"limit": 1, "cursor": page.json()["next_cursor"]})
    assert [d["kind"] for d in older.json()["items"]] == ["webhook.test"]
    assert older.json()["next_cursor"] is None

    replayed = alice.post(f"/webhooks/deliveries/{newest['id']}/replay")
    assert replayed.status_code == 200, replayed.text
    assert replayed.json()["state"] == "pending"
    run_outbound(world.runtime, world.clock())
    webhooks.settle(30)
    ids = [a.webhook_id for a in receiver.delivered()]
    assert ids[-1] == ids[-2] == newest["message_id"]  # the same webhook-id again

    changed = alice.patch(f"/webhooks/{hook['id']}", json={"kinds": ["*"], "active": False})
    assert changed.status_code == 200, changed.text
    assert changed.json()["active"] is False
    assert len(changed.json()["kinds"]) == len(webhooks.KINDS)

    assert alice.delete(f"/webhooks/{hook['id']}").status_code == 204
    assert alice.get(f"/webhooks/{hook['id']}").status_code == 404
    assert alice.get("/organisations/collab/webhooks").json() == []


def test_who_may_and_what_is_refused(world: World, clients: dict[str | None, httpx.Client], receiver: Receiver) -> None:
    alice = clients["alice"]
    body = {"url": receiver.url, "kinds": ["*"]}
    refused = alice.post("/organisations/collab/webhooks", json=body)  # loopback, not allowed
    assert refused.status_code == 422
    assert "loopback" in refused.json()["detail"]
    world.runtime.settings.webhook_allowed_hosts = frozenset({"127.0.0.1"})
    for who in ("carol", "ed", "pete"):  # a contributor, an editor, another organisation's admin
        answer = clients[who].post("/organisations/collab/webhooks", json=body)
        assert answer.status_code == 403, (who, answer.text)
    for bad in (
        {"url": receiver.url, "kinds": ["post.eaten"]},
        {"url": "ftp://example.org/x", "kinds": ["*"]},
        {"url": receiver.url, "kinds": ["*"], "secret": "mine"},
    ):
        assert alice.post("/organisations/collab/webhooks", json=bad).status_code == 422
    assert alice.post("/organisations/nowhere/webhooks", json=body).status_code == 404
    hook = alice.post("/organisations/collab/webhooks", json=body).json()
    pete = clients["pete"]
    assert pete.get(f"/webhooks/{hook['id']}/deliveries").status_code == 403
    assert pete.patch(f"/webhooks/{hook['id']}", json={"active": False}).status_code == 403
    assert pete.post(f"/webhooks/{hook['id']}/test").status_code == 403
    assert pete.delete(f"/webhooks/{hook['id']}").status_code == 403
    assert clients["ed"].get("/organisations/collab/webhooks").status_code == 403
    assert alice.post("/webhooks/deliveries/999999/replay").status_code == 404
    assert alice.get("/webhooks/999999/deliveries").status_code == 404
    assert clients[None].get("/organisations/collab/webhooks").status_code == 401
    assert receiver.arrivals == []
