"""Media given as a URL: real HTTP on loopback, and refusals that happen before any connection."""

from __future__ import annotations

import contextlib
import io
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from PIL import Image

from media.fetch import fetch
from scheduler.errors import InvalidMedia

PNG = io.BytesIO()
Image.new("RGB", (64, 64), (0, 128, 255)).save(PNG, "PNG")


class _Files(BaseHTTPRequestHandler):
    def log_message(self, *_: object) -> None:
        pass

    def do_GET(self) -> None:
        # the client hanging up on /endless and /slow is the point of those routes
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            self._route()

    def _route(self) -> None:
        if self.path == "/photo.png":
            self._send(200, PNG.getvalue())
        elif self.path == "/moved":
            self.send_response(302)
            self.send_header("Location", "/photo.png")
            self.send_header("Content-Length", "0")
            self.end_headers()
        elif self.path == "/to-metadata":
            self.send_response(302)
            self.send_header("Location", "http://169.254.169.254/latest/meta-data/")
            self.send_header("Content-Length", "0")
            self.end_headers()
        elif self.path == "/endless":
            self.send_response(200)
            self.end_headers()  # no length: streams until the client gives up
            for _ in range(2000):
                self.wfile.write(b"\0" * 65536)
        elif self.path == "/slow":
            self.send_response(200)
            self.send_header("Content-Length", "1000000")
            self.end_headers()
            for _ in range(100):
                self.wfile.write(b"\0" * 1000)
                time.sleep(0.05)
        else:
            self._send(404, b"no")

    def _send(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Files)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


ALLOW_LOOPBACK = frozenset({"127.0.0.1"})


def test_a_url_on_an_allowed_host_is_fetched_following_redirects(server: str, tmp_path: Path) -> None:
    path = fetch(f"{server}/moved", tmp_path, max_bytes=10**6, timeout=10, allowed_hosts=ALLOW_LOOPBACK)
    assert path.read_bytes() == PNG.getvalue()


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://127.0.0.1:9/x.png", "resolves to 127.0.0.1, a loopback, private or link-local address"),
        ("http://localhost:9/x.png", "a loopback, private or link-local address"),
        ("http://10.20.30.40/x.png", "resolves to 10.20.30.40"),
        ("http://169.254.169.254/latest/meta-data/", "resolves to 169.254.169.254"),
        ("http://[::1]:9/x.png", "resolves to ::1"),
        ("file:///etc/passwd", "only http and https"),
    ],
)
def test_private_network_destinations_are_refused_before_connecting(url: str, message: str, tmp_path: Path) -> None:
    with pytest.raises(InvalidMedia, match=message):
        fetch(url, tmp_path, max_bytes=10**6, timeout=5, allowed_hosts=frozenset())


def test_a_redirect_into_a_private_network_is_refused(server: str, tmp_path: Path) -> None:
    with pytest.raises(InvalidMedia, match=r"169\.254\.169\.254"):
        fetch(f"{server}/to-metadata", tmp_path, max_bytes=10**6, timeout=10, allowed_hosts=ALLOW_LOOPBACK)


def test_size_and_time_limits(server: str, tmp_path: Path) -> None:
    with pytest.raises(InvalidMedia, match="more than 1000000 bytes"):
        fetch(f"{server}/endless", tmp_path, max_bytes=10**6, timeout=30, allowed_hosts=ALLOW_LOOPBACK)
    with pytest.raises(InvalidMedia, match="took too long"):
        fetch(f"{server}/slow", tmp_path, max_bytes=10**7, timeout=1, allowed_hosts=ALLOW_LOOPBACK)
    with pytest.raises(InvalidMedia, match="answered 404"):
        fetch(f"{server}/missing.png", tmp_path, max_bytes=10**6, timeout=5, allowed_hosts=ALLOW_LOOPBACK)
    assert not [p for p in tmp_path.rglob("*") if p.is_file()]  # nothing half-written is left
