"""Real processes for the crash tests: Celery workers, dispatchers, `crosspost up`, a private Redis."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO

import pytest

from scheduler.runtime import Runtime
from scheduler.store import open_database
from tests.conftest import Clock, make_settings

pytestmark = pytest.mark.system


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_until(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


class PrivateRedis:
    """A redis-server of our own on a free port, that a test may kill and restart."""

    def __init__(self, directory: Path) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            pytest.skip("redis-server is not installed")
        self.binary = binary
        self.directory = directory
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                self.binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.directory),
            ],
            stdout=subprocess.DEVNULL,
        )
        wait_until(self._answers, 10, "redis-server to answer")

    def kill(self) -> None:
        assert self.process is not None
        self.process.kill()
        self.process.wait()

    def _answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as conn:
                conn.sendall(b"PING\r\n")
                return conn.recv(16).startswith(b"+PONG")
        except OSError:
            return False


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[PrivateRedis]:
    redis = PrivateRedis(tmp_path)
    redis.start()
    yield redis
    if redis.process and redis.process.poll() is None:
        redis.kill()


@pytest.fixture
def machine_redis_url() -> str:
    return os.environ.get("CROSSPOST_TEST_REDIS_URL", "redis://127.0.0.1:6379/9")


class Processes:
    """Starts crosspost processes with one shared environment; kills them all at the end."""

    def __init__(self, tmp_path: Path, env: dict[str, str]) -> None:
        self.tmp_path = tmp_path
        self.env = env
        self.running: list[tuple[subprocess.Popen[bytes], Path]] = []
        self.handles: list[IO[bytes]] = []

    def start(
        self, *args: str, ready: str | None = None, extra_env: dict[str, str] | None = None
    ) -> subprocess.Popen[bytes]:
        log = self.tmp_path / f"{args[0]}-{uuid.uuid4().hex[:6]}.log"
        handle = log.open("wb")
        self.handles.append(handle)
        process = subprocess.Popen(
            [sys.executable, "-m", "scheduler.cli", *args],
            env={**self.env, **(extra_env or {})},
            stdout=handle,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, so a kill takes the pool children too
        )
        self.running.append((process, log))
        if ready:
            wait_until(lambda: ready in log.read_text(errors="replace") or process.poll() is not None, 60, ready)
            assert process.poll() is None, log.read_text()
        return process

    def kill(self, process: subprocess.Popen[bytes]) -> None:
        """SIGKILL the whole process group: no shutdown handler, no ack, no cleanup runs."""
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()

    def stop_all(self) -> None:
        for process, _ in self.running:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process, _ in self.running:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        for handle in self.handles:
            handle.close()

    def logs(self) -> str:
        return "\n".join(f"--- {log.name}\n{log.read_text(errors='replace')[-3000:]}" for _, log in self.running)


@pytest.fixture
def system_env(tmp_path: Path) -> dict[str, str]:
    return {
        **os.environ,
        "CROSSPOST_DATA_DIR": str(tmp_path / "data"),
        "CROSSPOST_DATABASE_URL": f"sqlite:///{tmp_path / 'data' / 'crosspost.db'}",
        "CROSSPOST_SECRET_KEY": "system-test-secret-of-at-least-32-characters",
        "CROSSPOST_PUBLISH_QUEUE": f"publish-{uuid.uuid4().hex[:8]}",
        "CROSSPOST_MEDIA_QUEUE": f"media-{uuid.uuid4().hex[:8]}",
        "CROSSPOST_PUBLISH_LEASE": "6",
        "CROSSPOST_LOOKAHEAD": "5",
        "CROSSPOST_QUEUED_GRACE": "4",
        "CROSSPOST_DISPATCH_INTERVAL": "0.2",
        "CROSSPOST_RECONCILE_INTERVAL": "0.5",
        "CROSSPOST_RECONCILE_BACKOFF": "1",
        "CROSSPOST_HTTP_TIMEOUT": "30",
    }


@pytest.fixture
def processes(tmp_path: Path, system_env: dict[str, str]) -> Iterator[Processes]:
    manager = Processes(tmp_path, system_env)
    yield manager
    manager.stop_all()


@pytest.fixture
def system_runtime(system_env: dict[str, str], tmp_path: Path) -> Iterator[Runtime]:
    """The test's own view of the database the processes use (real clock)."""
    settings = make_settings(
        Path(system_env["CROSSPOST_DATA_DIR"]),
        system_env["CROSSPOST_DATABASE_URL"],
        secret_key="system-test-secret-of-at-least-32-characters",
    )
    db = open_database(settings.database_url)
    yield Runtime(settings=settings, db=db)
    db.dispose()


__all__ = ["Clock", "PrivateRedis", "Processes", "free_port", "wait_until"]
