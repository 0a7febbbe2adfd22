"""The public media URL serves stored files and nothing else."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

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
