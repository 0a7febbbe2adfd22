"""A focal point through the running server: the API's media reference and the web composer's
picker both store it with the post; one outside the image is refused naming the field."""

from __future__ import annotations

import io
import re
from datetime import timedelta

import httpx
from PIL import Image
from sqlalchemy import func, select

from scheduler import posts
from scheduler.accounts.passwords import set_password
from scheduler.store import Post, PostMedia
from tests.api.conftest import World

PASSWORD = "correct horse battery staple"


def _upload(api: httpx.Client, name: str, colour: tuple[int, int, int]) -> str:
    out = io.BytesIO()
    Image.new("RGB", (320, 200), colour).save(out, "PNG")
    answer = api.post("/media", files={"file": (name, out.getvalue(), "image/png")})
    assert answer.status_code == 201, answer.text
    return str(answer.json()["id"])


def _stored_focus(world: World, post_id: int) -> list[tuple[float | None, float | None]]:
    with world.runtime.db.read() as session:
        rows = session.execute(
            select(PostMedia.focus_x, PostMedia.focus_y)
            .where(PostMedia.post_id == post_id)
            .order_by(PostMedia.position)
        )
        return [(row.focus_x, row.focus_y) for row in rows]


def _posts(world: World) -> int:
    with world.runtime.db.read() as session:
        return int(session.scalar(select(func.count()).select_from(Post)) or 0)


def test_the_api_stores_a_focus_and_refuses_one_outside_the_image(world: World) -> None:
    at = (world.clock() + timedelta(days=1)).isoformat()
    with world.client("carol") as api:
        hall, magnet = _upload(api, "hall.png", (30, 120, 200)), _upload(api, "magnet.png", (200, 30, 30))
        created = api.post(
            "/posts",
            json={
                "text": "the new magnet",
                "channels": ["collab-x"],
                "at": at,
                "media": [{"id": hall, "focus": [0.8, 0.25]}, {"id": magnet, "alt_text": "The magnet"}],
            },
        )
        assert created.status_code == 201, created.text
        post = created.json()
        assert [m.get("focus") for m in post["media"]] == [[0.8, 0.25], None]
        assert _stored_focus(world, post["id"]) == [(0.8, 0.25), (None, None)]
        assert api.get(f"/posts/{post['id']}").json()["media"][0]["focus"] == [0.8, 0.25]

        for focus, field in (
            ([1.5, 0.5], "media.0.focus.0"),
            ([0.5, -0.01], "media.0.focus.1"),
            ([0.5], "media.0.focus.1"),
        ):
            refused = api.post(
                "/posts",
                json={
                    "text": "off the edge",
                    "channels": ["collab-x"],
                    "at": at,
                    "media": [{"id": hall, "focus": focus}],
                },
            )
            assert refused.status_code == 422, refused.text
            assert refused.json()["field"] == field
    assert _posts(world) == 1


def test_the_composer_sends_the_picked_point_and_none_for_a_file_left_alone(world: World) -> None:
    set_password(world.runtime.db, world.runtime.settings, "carol", PASSWORD, now=world.clock())
    with world.client("carol") as api:
        hall, magnet = _upload(api, "hall.png", (30, 120, 200)), _upload(api, "magnet.png", (200, 30, 30))
    with httpx.Client(base_url=world.url, timeout=30) as browser:
        assert (
            browser.post("/signin", data={"name": "carol", "password": PASSWORD, "next": "/compose"}).status_code == 303
        )
        found = re.search(r'name="csrf" value="([^"]+)"', browser.get("/compose").text)
        assert found
        form = {
            "csrf": found.group(1),
            "text": "from the composer",
            "channel": ["collab-x"],
            "when": "draft",
            "at_date": (world.clock() + timedelta(days=2)).date().isoformat(),
            "media_id": [hall, magnet],
            "media_alt": ["The hall", ""],
            "media_focus_x": ["0.9", ""],  # the picker leaves a file nobody clicked on empty
            "media_focus_y": ["0.1", ""],
        }
        answer = browser.post("/compose", data=form)
        assert answer.status_code == 303, answer.text
        post_id = int(answer.headers["location"].rsplit("/", 1)[1])
        assert _stored_focus(world, post_id) == [(0.9, 0.1), (None, None)]
        assert [m["alt_text"] for m in posts.show_post(world.runtime.db, post_id)["media"]] == ["The hall", None]

        off = browser.post("/compose", data={**form, "media_focus_x": ["1.5", ""]})
        assert off.status_code == 422
        assert 'role="alert"' in off.text
        assert "media focus.0: Input should be less than or equal to 1" in off.text
    assert _posts(world) == 1
