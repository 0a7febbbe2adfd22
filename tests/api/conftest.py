"""The API under test: a real uvicorn server on a loopback port, driven by a real HTTP client.

``world`` builds two organisations (the host ``collab`` and the partner ``partner``), their
people, channels and tokens through the service functions; ``api`` is an httpx client for it.
"""

from __future__ import annotations

import shutil
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import httpx
import pytest
import uvicorn

from scheduler import posts
from scheduler.accounts.tokens import create_token
from scheduler.api.app import create_app
from scheduler.editorial import people
from scheduler.runtime import Runtime
from scheduler.store import open_database
from scheduler.when import utcnow
from tests.conftest import Clock, make_settings


class Server:
    """uvicorn serving ``create_app(runtime)`` in a thread, on a port the OS picked."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.app = create_app(runtime)
        self.socket = socket.socket()
        self.socket.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.socket.getsockname()[1]}"
        config = uvicorn.Config(self.app, log_level="warning", lifespan="on")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.socket]}, daemon=True)

    def __enter__(self) -> Server:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the API server did not start")
            time.sleep(0.01)
        return self

    def __exit__(self, *_: object) -> None:
        self.server.should_exit = True
        self.thread.join(10)
        self.socket.close()


@dataclass
class World:
    runtime: Runtime
    clock: Clock
    url: str
    tokens: dict[str, str] = field(default_factory=dict)  # person -> their token

    def client(self, who: str | None = None, **kwargs: object) -> httpx.Client:
        headers = {"Authorization": f"Bearer {self.tokens[who]}"} if who else {}
        return httpx.Client(base_url=self.url + "/api/v1", headers=headers, timeout=30, **kwargs)  # type: ignore[arg-type]


# who is who: name -> (organisation, role)
PEOPLE = {
    "alice": ("collab", "admin"),
    "ed": ("collab", "editor"),
    "apu": ("collab", "approver"),
    "carol": ("collab", "contributor"),
    "paula": ("partner", "contributor"),
    "pete": ("partner", "admin"),
}


def build_world(runtime: Runtime) -> dict[str, str]:
    now = runtime.clock()
    people.add_org(runtime.db, name="collab", display_name="The Collaboration", now=now)
    people.add_org(runtime.db, name="partner", display_name="A Partner Experiment", kind="partner", now=now)
    for name, (org, role) in PEOPLE.items():
        people.add_user(runtime.db, name=name, email=f"{name}@example.org", now=now)
        people.set_role(runtime.db, user=name, org=org, role=role, now=now)
    for name, platform, org in (
        ("collab-x", "x", "collab"),
        ("collab-li", "linkedin", "collab"),
        ("partner-x", "x", "partner"),
    ):
        posts.add_channel(runtime.db, runtime.settings, name=name, platform=platform, dry_run=True, org=org, now=now)
    return {
        name: create_token(runtime.db, user=name, org=org, role=role, name=f"{name}'s token", now=now).token
        for name, (org, role) in PEOPLE.items()
    }


@pytest.fixture
def api_runtime(tmp_path: Path, sqlite_template: Path) -> Iterator[Runtime]:
    shutil.copyfile(sqlite_template, tmp_path / "crosspost.db")
    settings = make_settings(tmp_path / "data", f"sqlite:///{tmp_path / 'crosspost.db'}")
    db = open_database(settings.database_url)
    yield Runtime(settings=settings, db=db, clock=Clock(time_now()))
    db.dispose()


def time_now() -> datetime:
    return utcnow().replace(microsecond=0)


@pytest.fixture
def world(api_runtime: Runtime) -> Iterator[World]:
    tokens = build_world(api_runtime)
    with Server(api_runtime) as server:
        clock = api_runtime.clock
        assert isinstance(clock, Clock)
        yield World(runtime=api_runtime, clock=clock, url=server.url, tokens=tokens)
