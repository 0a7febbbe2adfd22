"""A bug in a route answers 500 problem+json, logged on the server: never a dropped connection,
never a traceback to the caller."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from scheduler.runtime import Runtime
from tests.api.conftest import Server


@pytest.fixture
def broken_server(api_runtime: Runtime) -> Iterator[Server]:
    server = Server(api_runtime)

    @server.app.get("/api/v1/broken-for-the-test")
    def broken() -> None:
        raise RuntimeError("secret internal detail")

    @server.app.get("/broken-page-for-the-test")
    def broken_page() -> None:
        raise RuntimeError("secret internal detail")

    with server:
        yield server


@pytest.mark.parametrize("path", ["/api/v1/broken-for-the-test", "/broken-page-for-the-test"])
def test_an_unexpected_error_is_a_500_problem_not_a_dropped_connection(broken_server: Server, path: str) -> None:
    answer = httpx.get(broken_server.url + path, timeout=10)
    assert answer.status_code == 500
    assert answer.headers["content-type"] == "application/problem+json"
    assert "secret internal detail" not in answer.text
    assert answer.json()["detail"] == "an unexpected error; it is logged on the server"
