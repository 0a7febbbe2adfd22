"""A channel's sign-in by OAuth finished by another API process than the one that started it.

Two ``Server`` instances over one database are two processes' memories (``crosspost web
--workers 2``, or several hosts): the platform's redirect may reach either.
"""

from __future__ import annotations

import base64
import hashlib
import sqlite3
import threading
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.engine import make_url

from scheduler import posts
from scheduler.accounts import oauth_sign_ins
from scheduler.acting import Acting
from scheduler.credentials import decrypt_credentials
from scheduler.editorial import people
from scheduler.runtime import Runtime
from scheduler.settings import Settings
from scheduler.store import Channel, Database, Organisation, open_database
from tests.api.conftest import Server, World
from tests.api.test_api_channels import TokenEndpoint
from tests.conftest import Clock


@pytest.fixture
def endpoint() -> Iterator[TokenEndpoint]:
    served = TokenEndpoint()
    thread = threading.Thread(target=served.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield served
    served.server.shutdown()
    served.server.server_close()


@pytest.fixture
def other(world: World) -> Iterator[Server]:
    """Another API process over the same database: its own app, engine and memory."""
    db = open_database(world.runtime.settings.database_url)
    with Server(Runtime(settings=world.runtime.settings, db=db, clock=world.clock)) as server:
        yield server
    db.dispose()


def _start(world: World, secret: str = "the-app-secret") -> tuple[dict[str, Any], str]:
    with world.client("alice") as alice:
        started = alice.post("/channels/collab-x/reconnect", json={"client_id": "app-1", "client_secret": secret})
    assert started.status_code == 201, started.text
    body = started.json()
    return body, parse_qs(urlsplit(body["authorization_url"]).query)["state"][0]


def _redirect(base_url: str, channel: str, **query: str) -> httpx.Response:
    """The browser coming back from the platform, without a token, to the process at ``base_url``."""
    with httpx.Client(base_url=base_url, timeout=30) as browser:
        return browser.get(f"/api/v1/channels/{channel}/oauth/callback", params=query)


def _rows(world: World) -> list[tuple[Any, ...]]:
    """The table as stored, read past the models."""
    path = make_url(world.runtime.settings.database_url).database
    assert path is not None
    with sqlite3.connect(path) as connection:
        return connection.execute("SELECT * FROM oauth_sign_ins").fetchall()


def test_a_sign_in_started_on_one_process_is_finished_once_on_another(
    world: World, other: Server, endpoint: TokenEndpoint
) -> None:
    world.runtime.settings.x_token_url = endpoint.url
    body, state = _start(world)
    challenge = parse_qs(urlsplit(body["authorization_url"]).query)["code_challenge"][0]
    [row] = _rows(world)
    stored = b"".join(value if isinstance(value, bytes) else str(value).encode() for value in row)
    assert hashlib.sha256(state.encode()).hexdigest().encode() in stored  # keyed by the state's hash
    assert state.encode() not in stored
    assert b"the-app-secret" not in stored

    # another channel's callback neither finishes nor spends it
    assert _redirect(other.url, "collab-li", state=state, code="c").status_code == 422
    done = _redirect(other.url, "collab-x", state=state, code="the-code")
    assert done.status_code == 200, done.text
    [form] = endpoint.forms
    verifier = form["code_verifier"][0]
    # the verifier kept is the one the authorization URL's challenge was made from
    assert base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode() == challenge
    assert verifier.encode() not in stored
    with world.runtime.db.read() as session:
        blob = session.query(Channel).filter_by(name="collab-x").one().credentials
    credentials = decrypt_credentials(blob, world.runtime.settings, "collab-x")
    assert credentials is not None
    assert credentials["access_token"] == "fresh-access"
    assert credentials["client_secret"] == "the-app-secret"
    assert _rows(world) == []

    for process in (other.url, world.url):  # a replayed redirect, on either process
        replayed = _redirect(process, "collab-x", state=state, code="the-code")
        assert replayed.status_code == 422
        assert replayed.json()["detail"] == "no sign-in of collab-x waits for this state (it expired, or was finished)"
    assert len(endpoint.forms) == 1


def test_two_processes_racing_for_one_redirect_finish_it_once(
    world: World, other: Server, endpoint: TokenEndpoint
) -> None:
    world.runtime.settings.x_token_url = endpoint.url
    _, state = _start(world)
    statuses: list[int] = []
    barrier = threading.Barrier(2)

    def arrive(base_url: str) -> None:
        barrier.wait()
        statuses.append(_redirect(base_url, "collab-x", state=state, code="the-code").status_code)

    racers = [threading.Thread(target=arrive, args=(url,)) for url in (world.url, other.url)]
    for racer in racers:
        racer.start()
    for racer in racers:
        racer.join(30)
    assert sorted(statuses) == [200, 422]
    assert len(endpoint.forms) == 1


def test_a_sign_in_that_ran_out_is_refused_and_removed(world: World, other: Server, endpoint: TokenEndpoint) -> None:
    world.runtime.settings.x_token_url = endpoint.url
    _, first = _start(world)
    world.clock.advance(11 * 60)
    _, second = _start(world)  # starting one sweeps those that ran out
    assert len(_rows(world)) == 1
    refused = _redirect(other.url, "collab-x", state=first, code="c")
    assert refused.status_code == 422
    assert refused.json()["field"] == "state"

    world.clock.advance(11 * 60)
    late = _redirect(other.url, "collab-x", state=second, code="c")
    assert late.status_code == 422
    assert late.json()["detail"] == "no sign-in of collab-x waits for this state (it expired, or was finished)"
    assert _rows(world) == []
    assert endpoint.forms == []


def test_taking_a_sign_in_is_one_statement_on_either_database(db: Database, settings: Settings, clock: Clock) -> None:
    now = clock()
    people.add_org(db, name="collab", display_name="The Collaboration", now=now)
    people.add_user(db, name="alice", email="alice@example.org", now=now)
    people.set_role(db, user="alice", org="collab", role="admin", now=now)
    posts.add_channel(db, settings, name="collab-x", platform="x", dry_run=True, org="collab", now=now)
    with db.read() as session:
        org_id = session.scalars(select(Organisation.id).where(Organisation.name == "collab")).one()
    acting = Acting(via="token:7", org_id=org_id, max_role="editor", user="alice")
    oauth_sign_ins.keep(
        db,
        settings,
        channel="collab-x",
        user="alice",
        acting=acting,
        platform="x",
        state="the-state",
        verifier="the-verifier",
        redirect_uri="https://example.org/cb",
        client_id="app-1",
        client_secret=None,
        now=now,
    )
    assert oauth_sign_ins.take(db, settings, channel="collab-x", state="another", now=now) is None
    taken = oauth_sign_ins.take(db, settings, channel="collab-x", state="the-state", now=now)
    assert taken is not None
    assert (taken.user, taken.acting, taken.verifier, taken.client_secret) == ("alice", acting, "the-verifier", None)
    assert oauth_sign_ins.take(db, settings, channel="collab-x", state="the-state", now=now) is None
