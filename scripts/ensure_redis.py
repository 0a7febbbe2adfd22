"""Find or start a Redis for the test suite; prints shell `export` lines for scripts/test.sh."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

PIDFILE = Path("var/test-redis/redis.pid")


def answers(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1.0) as conn:
            conn.sendall(b"PING\r\n")
            return conn.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start() -> int:
    if os.environ.get("CROSSPOST_TEST_REDIS_URL"):
        print(f"export CROSSPOST_TEST_REDIS_URL={os.environ['CROSSPOST_TEST_REDIS_URL']}")
        return 0
    if answers("127.0.0.1", 6379):
        print("export CROSSPOST_TEST_REDIS_URL=redis://127.0.0.1:6379/9")
        return 0
    server = shutil.which("redis-server")
    if server is None:
        print(
            "echo 'Redis is needed for the test suite and none answers on 127.0.0.1:6379. "
            "Install it (apt-get install redis-server, brew install redis) or set CROSSPOST_TEST_REDIS_URL.' >&2;"
            " exit 1"
        )
        return 1
    port = free_port()
    PIDFILE.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [
            server,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--daemonize",
            "yes",
            "--pidfile",
            str(PIDFILE.resolve()),
            "--dir",
            str(PIDFILE.parent.resolve()),
        ],
        check=True,
    )
    for _ in range(50):
        if answers("127.0.0.1", port):
            break
        time.sleep(0.1)
    print(f"echo 'started a private redis-server on port {port}' >&2")
    print(f"export CROSSPOST_TEST_REDIS_URL=redis://127.0.0.1:{port}/9")
    return 0


def stop() -> int:
    if PIDFILE.exists():
        with contextlib.suppress(OSError, ValueError):
            os.kill(int(PIDFILE.read_text().strip()), 15)
        PIDFILE.unlink(missing_ok=True)
    return 0


if __name__ == "__main__":
    sys.exit(start() if sys.argv[1:] == ["start"] else stop())
