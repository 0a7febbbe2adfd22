"""Channels through the running API: list, status, schedule, new tokens, signing in again by OAuth."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from scheduler.credentials import decrypt_credentials
from scheduler.store import Channel, Event
from tests.api.conftest import World


def test_members_list_their_organisations_channels_only(world: World) -> None:
    with world.client("carol") as carol:
        listed = carol.get("/channels")
        assert listed.status_code == 200, listed.text
        assert [c["name"] for c in listed.json()] == ["collab-li", "collab-x"]
        assert listed.json()[0] | {"options": None} == {
            "name": "collab-li",
            "org": "collab",
            "platform": "linkedin",
            "timezone": "UTC",
            "language": None,
            "dry_run": True,
            "status": "active",
            "has_credentials": False,
            "options": None,
        }
    with world.client("paula") as paula:
        assert [c["name"] for c in paula.get("/channels").json()] == ["partner-x"]


def test_channel_status_names_pause_blackouts_schedule_and_token_expiry(world: World) -> None:
    with world.client("alice") as alice:
        assert alice.put("/channels/collab-x/schedule", json={"slots": ["mon-fri 09:00"]}).status_code == 200
        start = world.clock().isoformat()
        end = (world.clock() + timedelta(hours=2)).isoformat()
        added = alice.post("/blackouts", json={"name": "closure", "start": start, "end": end, "channel": "collab-x"})
        assert added.status_code == 201, added.text
        tokens = {"access_token": "a", "refresh_token": "r", "expires_at": 2_000_000_000, "refresh_expires_at": 2.1e9}
        assert alice.put("/channels/collab-x/credentials", json={"credentials": tokens}).status_code == 200
        status = alice.get("/channels/collab-x").json()
    assert status["paused"] is False
    assert status["blackouts_now"] == ["closure"]
    assert "09:00" in status["schedule"]
    assert status["has_credentials"] is True
    assert status["refreshable"] is True
    assert status["token_expires_at"].startswith("2033-05-18")
    assert status["sign_in_ends_at"].startswith("2036-07-18")


def test_channel_status_is_refused_to_other_organisations_and_unknown_names_are_named(world: World) -> None:
    with world.client("paula") as paula:
        refused = paula.get("/channels/collab-x")
        assert refused.status_code == 403
        assert "paula is not a member of collab" in refused.json()["detail"]
        unknown = paula.get("/channels/nowhere")
        assert unknown.status_code == 404
        assert "'nowhere'" in unknown.json()["detail"]
        assert "collab" not in unknown.json()["detail"]  # no list of other organisations' channels


def test_only_admins_set_a_schedule_and_a_bad_one_is_refused(world: World) -> None:
    with world.client("carol") as carol:
        refused = carol.put("/channels/collab-x/schedule", json={"slots": ["mon 09:00"]})
        assert refused.status_code == 403
        assert "admin" in refused.json()["detail"]
    with world.client("pete") as pete:
        assert pete.put("/channels/collab-x/schedule", json={"slots": ["mon 09:00"]}).status_code == 403
    with world.client("alice") as alice:
        bad = alice.put("/channels/collab-x/schedule", json={"slots": ["someday 25:00"]})
        assert bad.status_code == 422
        extra = alice.put("/channels/collab-x/schedule", json={"slots": ["mon 09:00"], "surprise": 1})
        assert extra.status_code == 422
        assert extra.json()["field"] == "surprise"
        unknown = alice.put("/channels/ghost/schedule", json={"slots": ["mon 09:00"]})
        assert unknown.status_code == 404
        assert "'ghost'" in unknown.json()["detail"]
        ok = alice.put("/channels/collab-x/schedule", json={"slots": ["mon-fri 09:00,13:00"], "max_per_day": 2})
        assert ok.status_code == 200, ok.text
        assert ok.json()["document"]["max_per_day"] == 2


def test_new_credentials_are_stored_encrypted_by_an_admin_only(world: World) -> None:
    with world.client("ed") as ed:
        assert ed.put("/channels/collab-x/credentials", json={"credentials": {"access_token": "x"}}).status_code == 403
    with world.client("alice") as alice:
        answer = alice.put("/channels/collab-x/credentials", json={"credentials": {"access_token": "secret-1"}})
        assert answer.json() == {"channel": "collab-x", "status": "active", "released": 0}
    with world.runtime.db.read() as session:
        blob = session.query(Channel).filter_by(name="collab-x").one().credentials
    assert blob is not None
    assert b"secret-1" not in blob
    assert decrypt_credentials(blob, world.runtime.settings, "collab-x") == {"access_token": "secret-1"}


class TokenEndpoint:
    """A platform's OAuth token endpoint on loopback: answers a code with tokens, records the form."""

    def __init__(self) -> None:
        self.forms: list[dict[str, list[str]]] = []
        forms = self.forms

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"])).decode()
                forms.append(parse_qs(body))
                payload = json.dumps(
                    {"access_token": "fresh-access", "refresh_token": "fresh-refresh", "expires_in": 7200}
                ).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/2/oauth2/token"


@pytest.fixture
def token_endpoint() -> Iterator[TokenEndpoint]:
    endpoint = TokenEndpoint()
    thread = threading.Thread(target=endpoint.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield endpoint
    endpoint.server.shutdown()
    endpoint.server.server_close()


def _callback(world: World, started: dict[str, Any], **query: str) -> httpx.Response:
    """What the browser does after the person allowed crosspost: follow the redirect, without a token."""
    path = urlsplit(started["redirect_uri"]).path
    with httpx.Client(base_url=world.url, timeout=30) as browser:
        return browser.get(path, params=query)


def test_signing_in_again_by_oauth_stores_the_new_tokens_as_the_admin_who_started_it(
    world: World, token_endpoint: TokenEndpoint
) -> None:
    world.runtime.settings.x_token_url = token_endpoint.url  # the platform's token endpoint, a setting
    with world.client("alice") as alice:
        started = alice.post("/channels/collab-x/reconnect", json={"client_id": "app-1", "client_secret": "shh"})
    assert started.status_code == 201, started.text
    body = started.json()
    assert body["redirect_uri"] == f"{world.url}/api/v1/channels/collab-x/oauth/callback"
    query = parse_qs(urlsplit(body["authorization_url"]).query)
    assert query["client_id"] == ["app-1"]
    assert query["redirect_uri"] == [body["redirect_uri"]]
    assert query["code_challenge_method"] == ["S256"]
    state = query["state"][0]

    wrong = _callback(world, body, state="not-the-state", code="c")
    assert wrong.status_code == 422
    assert wrong.json()["field"] == "state"

    done = _callback(world, body, state=state, code="the-code")
    assert done.status_code == 200, done.text
    assert done.json()["channel"] == "collab-x"
    [form] = token_endpoint.forms
    assert form["code"] == ["the-code"]
    assert form["redirect_uri"] == [body["redirect_uri"]]
    assert len(form["code_verifier"][0]) >= 43
    with world.runtime.db.read() as session:
        blob = session.query(Channel).filter_by(name="collab-x").one().credentials
        event = session.query(Event).filter_by(kind="channel.reconnected").one()
    stored = decrypt_credentials(blob, world.runtime.settings, "collab-x")
    assert stored is not None
    assert stored["access_token"] == "fresh-access"
    assert stored["client_secret"] == "shh"
    assert event.actor == "alice"
    assert event.via is not None
    assert event.via.startswith("token:")

    replayed = _callback(world, body, state=state, code="the-code")  # one use only
    assert replayed.status_code == 422
    assert len(token_endpoint.forms) == 1


def test_a_refused_or_cancelled_sign_in_changes_nothing(world: World, token_endpoint: TokenEndpoint) -> None:
    world.runtime.settings.x_token_url = token_endpoint.url
    with world.client("carol") as carol:
        assert carol.post("/channels/collab-x/reconnect", json={"client_id": "app-1"}).status_code == 403
    with world.client("pete") as pete:
        assert pete.post("/channels/collab-x/reconnect", json={"client_id": "app-1"}).status_code == 403
    with world.client("alice") as alice:
        assert alice.post("/channels/ghost/reconnect", json={"client_id": "app-1"}).status_code == 404
        body = alice.post("/channels/collab-x/reconnect", json={"client_id": "app-1"}).json()
    state = parse_qs(urlsplit(body["authorization_url"]).query)["state"][0]
    denied = _callback(world, body, state=state, error="access_denied", error_description="the user said no")
    assert denied.status_code == 422
    assert "the user said no" in denied.json()["detail"]
    assert token_endpoint.forms == []
    with world.runtime.db.read() as session:
        assert session.query(Channel).filter_by(name="collab-x").one().credentials is None
