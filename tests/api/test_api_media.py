"""Media through the running API: streamed uploads and their limits, metadata, renditions."""

from __future__ import annotations

import io
import socket
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from PIL import Image

from scheduler.api.media_refs import uploads_dir
from scheduler.publishing import media_prep
from tests.api.conftest import World

LIMIT = 200_000


@pytest.fixture
def small_world(world: World) -> World:
    """The world with a media size limit small enough to pass in a test."""
    world.runtime.settings.max_media_bytes = LIMIT
    return world


def _png(size: tuple[int, int] = (320, 200)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (30, 120, 200)).save(out, "PNG")
    return out.getvalue()


def _leftovers(world: World) -> list[str]:
    folder = uploads_dir(world.runtime)
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def _raw(world: World, head: str, body_parts: tuple[bytes, ...] = ()) -> tuple[int, bytes]:
    """Send a request's head (and only the given body parts) on a plain socket; the status and
    everything the server sent before it closed or went quiet."""
    parts = urlsplit(world.url)
    with socket.create_connection((parts.hostname, parts.port), timeout=10) as conn:
        conn.sendall(head.encode("latin-1"))
        for part in body_parts:
            conn.sendall(part)
        answer = b""
        while b"\r\n\r\n" not in answer or len(answer) < answer.index(b"\r\n\r\n") + 4 + _length(answer):
            chunk = conn.recv(65536)
            if not chunk:
                break
            answer += chunk
    return int(answer.split(b" ", 2)[1]), answer


def _length(answer: bytes) -> int:
    for line in answer.split(b"\r\n\r\n", 1)[0].split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value)
    return 0


def test_an_image_is_uploaded_checked_and_used_by_a_post(small_world: World) -> None:
    world = small_world
    image = _png()
    with world.client("carol") as api:
        answer = api.post("/media", files={"file": ("Detector hall.png", image, "image/png")})
        assert answer.status_code == 201, answer.text
        media = answer.json()
        assert media["kind"] == "image"
        assert media["mime"] == "image/png"
        assert (media["width"], media["height"], media["bytes"]) == (320, 200, len(image))
        assert media["name"] == "Detector hall.png"
        assert answer.headers["location"] == f"/api/v1/media/{media['id']}"
        assert api.get(f"/media/{media['id']}").json() == media
        assert api.get(f"/media/{'0' * 64}").status_code == 404
        at = (world.clock() + timedelta(days=1)).isoformat()
        created = api.post(
            "/posts",
            json={
                "text": "a picture",
                "channels": ["collab-x"],
                "at": at,
                "media": [{"id": media["id"], "alt_text": "Hall"}],
            },
        )
        assert created.status_code == 201, created.text
        assert [(m["name"], m["alt_text"]) for m in created.json()["media"]] == [("Detector hall.png", "Hall")]
    assert not any(name.startswith(".") for name in _leftovers(world))


def test_a_corrupt_image_is_refused_naming_the_problem_and_nothing_is_kept(small_world: World) -> None:
    world = small_world
    truncated = _png()[:400]
    with world.client("carol") as api:
        answer = api.post("/media", files={"file": ("broken.png", truncated, "image/png")})
        assert answer.status_code == 422
        assert answer.headers["content-type"] == "application/problem+json"
        problem = answer.json()
        assert problem["field"] == "file"
        assert problem["detail"].startswith("broken.png: ")
        text = api.post("/media", files={"file": ("notes.jpg", b"just some text, not a picture", "image/jpeg")})
        assert text.status_code == 422
        assert "notes.jpg" in text.json()["detail"]
    assert _leftovers(world) == []


def test_an_upload_announced_over_the_limit_is_refused_before_its_body_is_sent(small_world: World) -> None:
    world = small_world
    head = (
        "POST /api/v1/media HTTP/1.1\r\n"
        f"Host: {urlsplit(world.url).netloc}\r\n"
        f"Authorization: Bearer {world.tokens['carol']}\r\n"
        "Content-Type: multipart/form-data; boundary=xyz\r\n"
        f"Content-Length: {10**12}\r\n\r\n"
    )
    # only the head is sent: the answer comes without a single byte of the terabyte it announces
    status, answer = _raw(world, head)
    assert status == 413
    assert b"application/problem+json" in answer
    assert f"the limit is {LIMIT} bytes".encode() in answer
    assert _leftovers(world) == []


def test_a_chunked_upload_is_counted_as_it_streams_and_stopped_at_the_limit(small_world: World) -> None:
    world = small_world
    head = (
        "POST /api/v1/media HTTP/1.1\r\n"
        f"Host: {urlsplit(world.url).netloc}\r\n"
        f"Authorization: Bearer {world.tokens['carol']}\r\n"
        "Content-Type: multipart/form-data; boundary=xyz\r\n"
        "Transfer-Encoding: chunked\r\n\r\n"
    )
    preamble = b'--xyz\r\nContent-Disposition: form-data; name="file"; filename="big.png"\r\n\r\n'
    chunk = b"\x00" * 50_000
    # about 1.5 times the limit, never finished: the server stops at the limit and says so
    body = (b"%x\r\n%s\r\n" % (len(preamble), preamble),) + (b"%x\r\n%s\r\n" % (len(chunk), chunk),) * 6
    status, answer = _raw(world, head, body)
    assert status == 413
    assert b"over the limit" in answer
    assert _leftovers(world) == []  # the partial file is gone


def test_what_is_not_a_multipart_file_is_refused(small_world: World) -> None:
    world = small_world
    with world.client("carol") as api:
        raw = api.post("/media", content=_png(), headers={"Content-Type": "image/png"})
        assert raw.status_code == 415
        no_file = api.post("/media", data={"caption": "hello"}, files={"other": ("x.png", b"x", "image/png")})
        assert no_file.status_code == 422
        assert no_file.json()["field"] == "caption"
        cut = api.post(
            "/media",
            content=b'--b\r\nContent-Disposition: form-data; name="file"; filename="a.png"\r\n\r\nabc',
            headers={"Content-Type": "multipart/form-data; boundary=b"},
        )
        assert cut.status_code == 400
        assert "closing boundary" in cut.json()["detail"]
    with world.client() as anonymous:
        assert anonymous.post("/media", files={"file": ("a.png", _png(), "image/png")}).status_code == 401
    assert _leftovers(world) == []


def test_renditions_are_listed_and_downloaded_by_who_may_see_the_post(small_world: World) -> None:
    world = small_world
    with world.client("carol") as api:
        media = api.post("/media", files={"file": ("hall.png", _png((800, 600)), "image/png")}).json()
        at = (world.clock() + timedelta(days=1)).isoformat()
        post = api.post(
            "/posts", json={"text": "renditions", "channels": ["collab-x"], "at": at, "media": [{"id": media["id"]}]}
        ).json()
        before = api.get(f"/posts/{post['id']}/renditions").json()
        assert [(p["channel"], p["media_ready"], p["renditions"]) for p in before] == [("collab-x", False, [])]
    # the media pipeline makes them ahead of time, as the dispatcher does
    publication_id = post["publications"][0]["id"]
    assert media_prep.render(
        world.runtime.db, publication_id, settings=world.runtime.settings, clock=world.runtime.clock
    )
    with world.client("carol") as api:
        (listed,) = api.get(f"/posts/{post['id']}/renditions").json()
        assert listed["media_ready"] is True
        (rendition,) = listed["renditions"]
        assert (rendition["kind"], rendition["mime"], rendition["width"], rendition["height"]) == (
            "image",
            "image/jpeg",
            800,
            450,
        )  # cropped to X's 16:9, never upscaled
        downloaded = api.get(rendition["url"].removeprefix("/api/v1"))
        assert downloaded.status_code == 200
        assert downloaded.headers["content-type"] == "image/jpeg"
        assert len(downloaded.content) == rendition["bytes"]
        assert api.get("/renditions/999999/file").status_code == 404
        # the preview links the very file the channel is sent
        (preview,) = api.get(f"/posts/{post['id']}/preview").json()
        (shown,) = preview["media"]
        from_preview = api.get(shown.removeprefix("/api/v1"))
        assert from_preview.headers["content-type"] == "image/jpeg"
        assert from_preview.content == downloaded.content
    with world.client("paula") as paula:
        assert paula.get(f"/posts/{post['id']}/renditions").status_code == 403
        assert paula.get(rendition["url"].removeprefix("/api/v1")).status_code == 403
