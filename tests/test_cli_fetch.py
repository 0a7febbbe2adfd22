"""`post create --media URL` against slow and hostile servers (loopback, allowed through the
`media_allowed_hosts` setting: the address check stays in force) and against addresses that hide
a private IPv4 address inside IPv6 (issue 11, finding 8)."""

from __future__ import annotations

import contextlib
import io
import json
import subprocess
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from PIL import Image

from tests.helpers import Run, ok, refused

PNG = io.BytesIO()
Image.new("RGB", (640, 360), (0, 128, 255)).save(PNG, "PNG")
DRIBBLE_FOR = 8.0  # how long the slow routes keep a connection (the old code held it this long)
LOOPBACK = {"CROSSPOST_MEDIA_ALLOWED_HOSTS": '["127.0.0.1"]', "CROSSPOST_MEDIA_FETCH_TIMEOUT": "2"}


class _Hostile(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *_: object) -> None:
        pass

    def do_GET(self) -> None:
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            self._route()

    def _dribble(self, byte: bytes) -> None:
        ends = time.monotonic() + DRIBBLE_FOR
        while time.monotonic() < ends:
            self.wfile.write(byte)
            self.wfile.flush()
            time.sleep(0.05)

    def _route(self) -> None:
        if self.path == "/slow-body.png":  # a byte every 50 ms: never a whole 64 KiB chunk
            self.send_response(200)
            self.send_header("Content-Length", "100000")
            self.end_headers()
            self._dribble(b"\0")
        elif self.path == "/slow-headers.png":  # the headers never end
            self.wfile.write(b"HTTP/1.1 200 OK\r\nX-Slow: ")
            self._dribble(b"a")
        elif self.path == "/bad-length.png":
            self.send_response(200)
            self.send_header("Content-Length", "abc")
            self.end_headers()
            self.wfile.write(PNG.getvalue())
        elif self.path == "/to-nat64":
            self.send_response(302)
            self.send_header("Location", "http://[64:ff9b::a9fe:a9fe]/latest/meta-data/")
            self.send_header("Content-Length", "0")
            self.end_headers()
        else:  # any other path, "/photos/.." and 300-character names too: the image
            self.send_response(200)
            self.send_header("Content-Length", str(len(PNG.getvalue())))
            self.end_headers()
            self.wfile.write(PNG.getvalue())


class _Quiet(ThreadingHTTPServer):
    def handle_error(self, request: object, client_address: object) -> None:
        pass  # the client hanging up on a hostile answer is the point (the traceback would reach stderr)


@pytest.fixture
def hostile() -> Iterator[str]:
    server = _Quiet(("127.0.0.1", 0), _Hostile)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture
def channel(cli: Run) -> str:
    ok(cli("channel", "add", "--platform", "x", "--name", "cms-x", "--dry-run"))
    return "cms-x"


def _create(cli: Run, url: str, channel: str, **env: str) -> subprocess.CompletedProcess[str]:
    return cli("post", "create", "--text", "hi", "--channel", channel, "--now", "--media", url, "--json", **env)


def _left_behind(tmp_path: Path) -> list[Path]:
    return list((tmp_path / "data" / "downloads").rglob("*"))


def _no_posts(cli: Run) -> None:
    assert json.loads(ok(cli("post", "list", "--json"))) == []


@pytest.mark.parametrize("route", ["/slow-body.png", "/slow-headers.png"])
def test_one_deadline_for_the_whole_download(cli: Run, channel: str, hostile: str, tmp_path: Path, route: str) -> None:
    started = time.monotonic()
    line = refused(_create(cli, hostile + route, channel, **LOOPBACK))
    took = time.monotonic() - started
    assert "took too long" in line
    assert "over the limit of 2 s" in line
    assert took < 4.5, f"a 2 s limit held {took:.1f} s"
    assert _left_behind(tmp_path) == []
    _no_posts(cli)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://[::1", "not a valid URL"),
        ("http://example.org:99999/photo.png", "not a valid URL"),
        ("http://example.org:http/photo.png", "not a valid URL"),
        ("http://example.org:0/photo.png", "not a valid URL"),
        ("http://exa\x01mple.org/photo.png", "not a valid host name"),
    ],
)
def test_malformed_urls_are_one_line(cli: Run, channel: str, tmp_path: Path, url: str, message: str) -> None:
    assert message in refused(_create(cli, url, channel))
    assert _left_behind(tmp_path) == []
    _no_posts(cli)


def test_a_malformed_content_length_is_one_line(cli: Run, channel: str, hostile: str, tmp_path: Path) -> None:
    line = refused(_create(cli, hostile + "/bad-length.png", channel, **LOOPBACK))
    assert "invalid Content-Length ('abc')" in line
    assert _left_behind(tmp_path) == []
    _no_posts(cli)


@pytest.mark.parametrize(("path", "name"), [("/photos/..", "download"), ("/" + "p" * 300 + ".png", "p" * 56 + ".png")])
def test_names_that_cannot_be_file_names_are_made_safe(
    cli: Run, channel: str, hostile: str, tmp_path: Path, path: str, name: str
) -> None:
    post = json.loads(ok(_create(cli, hostile + path, channel, **LOOPBACK)))
    assert [item["name"] for item in post["media"]] == [name]
    assert _left_behind(tmp_path) == []  # the download's folder is gone once the store has its copy


@pytest.mark.parametrize(
    ("url", "carried"),
    [
        ("http://[64:ff9b::7f00:1]/photo.png", "127.0.0.1"),  # NAT64
        ("http://[64:ff9b::a9fe:a9fe]/latest/meta-data/", "169.254.169.254"),
        ("http://[2002:a00:1::1]/photo.png", "10.0.0.1"),  # 6to4
        ("http://[::127.0.0.1]/photo.png", "127.0.0.1"),  # IPv4-compatible
        ("http://[::a9fe:a9fe]/photo.png", "169.254.169.254"),
    ],
)
def test_ipv6_forms_of_private_ipv4_addresses_are_refused(
    cli: Run, channel: str, tmp_path: Path, url: str, carried: str
) -> None:
    line = refused(_create(cli, url, channel))
    assert f"which carries {carried}" in line
    assert "loopback, private or link-local" in line
    assert _left_behind(tmp_path) == []


def test_a_redirect_to_a_nat64_address_is_refused(cli: Run, channel: str, hostile: str) -> None:
    line = refused(_create(cli, hostile + "/to-nat64", channel, **LOOPBACK))
    assert "which carries 169.254.169.254" in line


def test_a_url_password_is_not_repeated_in_the_error(cli: Run, channel: str) -> None:
    line = refused(_create(cli, "http://ann:hunter2@[::1]:9/photo.png?token=s3cr3t", channel))
    assert "resolves to ::1" in line
    assert "hunter2" not in line
    assert "s3cr3t" not in line
