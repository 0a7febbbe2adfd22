"""`crosspost up` and `crosspost web` as real processes: they serve the API, its docs, /healthz and
/metrics, stop cleanly on SIGTERM, and a port already taken is one line naming the setting."""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.helpers import Run

SECRET = "server-test-secret-of-at-least-32-characters"
LISTENING = re.compile(r"API on (http://127\.0\.0\.1:\d+)")


class Service:
    """`crosspost ARGS` as its own process, on a data directory, on a port the OS picks."""

    def __init__(self, tmp_path: Path, *args: str, **env: str) -> None:
        self.log = tmp_path / f"{args[0]}-{time.monotonic_ns()}.log"
        environment = {k: v for k, v in os.environ.items() if not k.startswith("CROSSPOST_")}
        environment |= {
            "CROSSPOST_DATA_DIR": str(tmp_path / "data"),
            "CROSSPOST_SECRET_KEY": SECRET,
            "CROSSPOST_WEB_PORT": "0",
            **env,
        }
        with self.log.open("wb") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "scheduler.cli", *args], stdout=out, stderr=subprocess.STDOUT, env=environment
            )
        self.url = ""

    def wait_listening(self, timeout: float = 30) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = LISTENING.search(self.log.read_text())
            if found:
                self.url = found.group(1)
                return self.url
            assert self.process.poll() is None, self.log.read_text()
            time.sleep(0.05)
        raise AssertionError(f"not listening after {timeout} s:\n{self.log.read_text()}")

    def stop(self, timeout: float = 15) -> int:
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout)

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


@pytest.fixture
def services(tmp_path: Path) -> Iterator[list[Service]]:
    started: list[Service] = []
    yield started
    for service in started:
        service.kill()


def _check_serves_the_api(url: str) -> None:
    with httpx.Client(base_url=url, timeout=10) as client:
        deadline = time.monotonic() + 30
        while True:  # `web --workers N` logs before its worker processes accept
            try:
                docs = client.get("/docs")
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline
                time.sleep(0.1)
        assert docs.status_code == 200
        assert docs.headers["content-type"].startswith("text/html")
        assert "/openapi.json" in docs.text
        document = client.get("/openapi.json").json()
        assert document["info"]["title"] == "crosspost"
        assert "/api/v1/posts" in document["paths"]
        assert client.get("/api/v1/posts").status_code == 401  # the API is there, and wants a token
        metrics = client.get("/metrics")
        assert metrics.status_code == 200
        assert metrics.headers["content-type"].startswith("text/plain")
        assert 'crosspost_publications{state="scheduled"} 0.0' in metrics.text.splitlines()


def test_up_serves_the_api_and_web_serves_it_too_against_the_same_database(
    tmp_path: Path, sqlite_template: Path, services: list[Service]
) -> None:
    (tmp_path / "data").mkdir(mode=0o700)
    shutil.copyfile(sqlite_template, tmp_path / "data" / "crosspost.db")  # migrated: the three start at once
    up, web, scaled = Service(tmp_path, "up"), Service(tmp_path, "web"), Service(tmp_path, "web", "--workers", "2")
    services += [up, web, scaled]
    up_url, web_url, scaled_url = up.wait_listening(), web.wait_listening(), scaled.wait_listening()
    assert len({up_url, web_url, scaled_url}) == 3
    assert f"its documentation at {up_url}/docs" in up.log.read_text()
    assert "with 2 worker processes" in scaled.log.read_text()
    for url in (up_url, web_url, scaled_url):
        _check_serves_the_api(url)
    healthy = httpx.get(f"{web_url}/healthz", timeout=10)  # up's beat, read from the database
    assert healthy.status_code == 200, healthy.text
    assert healthy.json()["checks"]["dispatcher"]["source"] == "workers"

    assert up.stop() == 0
    # `up` recorded its clean stop: no dispatcher runs now, and web's /healthz says so
    unhealthy = httpx.get(f"{web_url}/healthz", timeout=10)
    assert unhealthy.status_code == 503
    assert unhealthy.json()["failing"] == ["dispatcher"]
    assert unhealthy.json()["detail"].startswith("dispatcher: no dispatcher is running")
    assert web.stop() == 0
    assert scaled.stop() == 0
    for service in (up, web, scaled):
        assert "Traceback" not in service.log.read_text()


@pytest.fixture
def taken_port() -> Iterator[int]:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        yield taken.getsockname()[1]


def test_up_says_in_one_line_when_the_api_port_is_taken(
    cli: Run, taken_port: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CROSSPOST_WEB_PORT", str(taken_port))
    result = cli("up")
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1] == (
        f"error: cannot serve the API on 127.0.0.1:{taken_port}: Address already in use; "
        "stop what uses it or set CROSSPOST_WEB_PORT to another port"
    )


def test_web_names_the_option_that_chose_the_port(cli: Run, taken_port: int) -> None:
    result = cli("web", "--port", str(taken_port))
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1] == (
        f"error: cannot serve the API on 127.0.0.1:{taken_port}: Address already in use; "
        "stop what uses it or set --port to another port"
    )
    out_of_range = cli("web", "--port", "70000")
    assert out_of_range.returncode == 1
    assert out_of_range.stderr.strip().splitlines()[-1] == (
        "error: --port=70000: give a port from 1 to 65535 (0: any free port)"
    )
