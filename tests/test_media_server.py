"""The public media URL serves stored files and nothing else."""

from __future__ import annotations

import http.client
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests

from scheduler.media_server import public_url, serve
from tests.system.conftest import free_port


@pytest.fixture
def base(tmp_path: Path) -> Iterator[str]:
    store = tmp_path / "media"
    (store / "renditions").mkdir(parents=True)
    (store / "renditions" / "ab12.jpg").write_bytes(b"\xff\xd8jpeg")
    (store / "ab").mkdir()
    (store / "ab" / "original.png").write_bytes(b"an upload")
    (store / "renditions" / "link.png").symlink_to(store / "ab" / "original.png")
    (tmp_path / "secret.key").write_bytes(b"do not serve")
    port = free_port()
    server = serve(store, f"127.0.0.1:{port}")
    yield f"http://127.0.0.1:{port}"
    server.shutdown()
    server.server_close()


def test_a_stored_file_is_served_with_its_type(base: str) -> None:
    response = requests.get(public_url(base, "renditions/ab12.jpg"), timeout=5)
    assert (response.status_code, response.content) == (200, b"\xff\xd8jpeg")
    assert response.headers["Content-Type"] == "image/jpeg"


@pytest.mark.parametrize(
    "path",
    [
        "/media/../secret.key",
        "/media/renditions/%2e%2e/%2e%2e/secret.key",
        "/media/",
        "/media/renditions/",
        "/media/ab/original.png",  # an original upload: not public
        "/x",
    ],
)
def test_nothing_outside_the_store_and_no_listing(base: str, path: str) -> None:
    assert requests.get(base + path, timeout=5).status_code == 404


def _raw_get(base: str, path: str, method: str = "GET") -> tuple[int, bytes]:
    """The path sent exactly as written (requests and urllib3 would remove the ``..``)."""
    parts = urlsplit(base)
    connection = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=5)
    try:
        connection.request(method, path)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


@pytest.mark.parametrize(
    ("path", "status"),
    [
        # the prefix was checked before the path was resolved: these served the original upload
        ("/media/renditions/../ab/original.png", 404),
        ("/media/renditions/%2e%2e/ab/original.png", 404),
        ("/media/renditions/..%2fab%2foriginal.png", 404),
        ("/media/renditions/./../../secret.key", 404),
        ("/media/renditions/link.png", 404),  # a link out of the renditions folder
        ("/media/renditions", 404),
        # these raised in the server thread
        ("/media/renditions/%00", 400),
        ("/media/renditions/ab12.jpg%00.png", 400),
        ("/media/renditions/%ff%fe.jpg", 400),
        ("/media/renditions/ab12.jpg%0a", 400),
        ("/media/renditions/..%5c..%5csecret.key", 400),
        ("/media/renditions/" + "a" * 5000 + ".jpg", 404),
    ],
)
def test_the_path_is_resolved_before_it_is_checked_and_bad_paths_never_raise(base: str, path: str, status: int) -> None:
    for method in ("GET", "HEAD"):
        answered, body = _raw_get(base, path, method)
        assert answered == status, (method, path)
        assert b"an upload" not in body
        assert b"do not serve" not in body
    # the server is still there, serving what it should
    assert _raw_get(base, "/media/renditions/ab12.jpg") == (200, b"\xff\xd8jpeg")
