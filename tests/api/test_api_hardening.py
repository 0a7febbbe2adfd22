"""Small hardening found by review, through the running API: refusals name the right rule and
leak nothing of other organisations; a platform's failure is a 502, never a bare 500."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from adapters import oauth
from scheduler.editorial.authorization import MINIMUM_ROLE, Action
from scheduler.redaction import MASK
from scheduler.runtime import Runtime
from tests.api.conftest import Server, World


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


class _Down(BaseHTTPRequestHandler):
    """A platform's token endpoint having a bad day."""

    def log_message(self, *args: object) -> None:
        pass

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        self.send_response(500)
        self.send_header("Content-Length", "0")
        self.end_headers()


@pytest.fixture
def failing_platform() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Down)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/2/oauth2/token"
    server.shutdown()
    server.server_close()


def test_a_platform_error_a_route_lets_through_is_a_502_naming_it(api_runtime: Runtime, failing_platform: str) -> None:
    """No route lets one through today (the sign-in callback answers its own problem): a route that
    refreshes a token, added to the real app, stands for the next one that does."""
    closed = ThreadingHTTPServer(("127.0.0.1", 0), _Down)
    closed.server_close()  # nothing listens there: the connection is refused
    settings = api_runtime.settings
    server = Server(api_runtime)

    @server.app.get("/platform-check/{case}")
    def refresh_a_token(case: str) -> dict[str, str]:
        url = failing_platform if case == "answers-500" else f"http://127.0.0.1:{closed.server_address[1]}/t"
        settings.x_token_url = url + "?access_token=s3cret-token"
        oauth.refresh("x", {"refresh_token": "r", "client_id": "app"}, settings)
        return {}

    with server, httpx.Client(base_url=server.url, timeout=30) as client:
        failed = client.get("/platform-check/answers-500")
        unreachable = client.get("/platform-check/down")
    assert failed.status_code == 502
    assert failed.headers["content-type"] == "application/problem+json"
    assert failed.json() == {
        "type": "about:blank",
        "title": "Platform error",
        "status": 502,
        "detail": "x token refresh: HTTP 500",
    }
    assert unreachable.status_code == 502
    assert "x token refresh: could not connect" in unreachable.json()["detail"]
    assert f"access_token={MASK}" in unreachable.json()["detail"]  # masked, the rest of the reason kept
    assert "s3cret-token" not in unreachable.text


def test_an_unknown_organisation_is_named_without_listing_the_others(world: World) -> None:
    with world.client("paula") as paula:
        answer = paula.get("/posts", params={"org": "nosuch"})
    assert answer.status_code in (404, 422), answer.text
    assert "nosuch" in answer.json()["detail"]
    assert "collab" not in answer.json()["detail"]
