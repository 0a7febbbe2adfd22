"""A NUL character anywhere in a request is refused with 422 naming where, never a 500 (PostgreSQL
refuses NUL in text)."""

from __future__ import annotations

import httpx
import pytest

from tests.api.conftest import World


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "field"),
    [
        ("GET", "/posts", {"params": {"text": "a\x00b"}}, "query"),
        ("GET", "/tokens", {"params": {"user": "\x00"}}, "query"),
        ("POST", "/posts", {"json": {"text": "a\x00b", "channels": ["collab-x"], "now": True}}, "body"),
        ("GET", "/channels/collab%00x", {}, "path"),
    ],
)
def test_a_nul_character_is_refused_naming_where(
    world: World, method: str, path: str, kwargs: dict, field: str
) -> None:
    with world.client("alice") as api:
        answer = api.request(method, path, headers={"Idempotency-Key": "nul-1"} if method == "POST" else {}, **kwargs)
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["field"] == field


def test_a_nul_in_a_web_form_is_refused(world: World) -> None:
    with httpx.Client(base_url=world.url, timeout=30) as browser:
        answer = browser.post("/signin", data={"name": "ali\x00ce", "password": "x"})
    assert answer.status_code == 422
