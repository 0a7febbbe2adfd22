from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from scheduler import posts
from scheduler.errors import (
    ContentRejected,
    InvalidMedia,
    NonexistentLocalTime,
    StateConflict,
    TimeInPast,
    UnknownChannel,
)
from scheduler.runtime import Runtime
from tests.helpers import add_dry_run_channels, publication_states, table_counts, write_image


def test_create_post_schedules_one_publication_per_channel_in_utc(runtime: Runtime) -> None:
    channels = add_dry_run_channels(runtime, "x", "linkedin")
    post_id = posts.create_post(
        runtime.db, runtime.settings, text="hello", channels=channels, at="2027-03-08 10:00", now=runtime.clock()
    )
    view = posts.show_post(runtime.db, post_id)
    assert [p["channel"] for p in view["publications"]] == channels
    assert {p["due_at"] for p in view["publications"]} == {"2027-03-08T09:00:00+00:00"}
    assert {p["due_local"] for p in view["publications"]} == {"2027-03-08T10:00:00+01:00"}
    kinds = [event.kind for event in posts.read_events(runtime.db, post_id=post_id)]
    assert kinds == ["post.created", "publication.scheduled", "publication.scheduled"]


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"at": "2027-03-28 02:30", "tz": "Europe/Zurich"}, NonexistentLocalTime, "does not exist"),
        ({"at": "2020-01-01 10:00", "tz": "UTC"}, TimeInPast, "in the past"),
        ({"at": "2027-03-08 10:00", "channels": ["t-x", "nope"]}, UnknownChannel, "'nope'"),
        ({"at": "2027-03-08 10:00", "text": "é " * 4000}, ContentRejected, "t-x .*as a thread, over the limit of 25"),
    ],
)
def test_refused_posts_store_nothing(
    runtime: Runtime, kwargs: dict[str, object], error: type[Exception], match: str
) -> None:
    add_dry_run_channels(runtime, "x")
    before = table_counts(runtime.db)
    arguments: dict[str, object] = {"text": "hello", "channels": ["t-x"], **kwargs}
    with pytest.raises(error, match=match):
        posts.create_post(runtime.db, runtime.settings, now=runtime.clock(), **arguments)  # type: ignore[arg-type]
    assert table_counts(runtime.db) == before


def test_damaged_and_fake_images_are_refused_naming_the_file(runtime: Runtime, tmp_path: Path) -> None:
    add_dry_run_channels(runtime, "x")
    truncated = write_image(tmp_path / "photo.jpg", (800, 600), "JPEG")
    truncated.write_bytes(truncated.read_bytes()[:600])
    fake = tmp_path / "notes.jpg"
    fake.write_text("this is not a picture")
    before = table_counts(runtime.db)
    for bad, match in ((truncated, "photo.jpg: the image is damaged"), (fake, "notes.jpg: not an image")):
        with pytest.raises(InvalidMedia, match=match):
            posts.create_post(
                runtime.db,
                runtime.settings,
                text="x",
                channels=["t-x"],
                now=runtime.clock(),
                immediately=True,
                media=[posts.MediaInput(bad)],
            )
    assert table_counts(runtime.db) == before


def test_too_many_images_for_x_is_refused(runtime: Runtime, tmp_path: Path) -> None:
    add_dry_run_channels(runtime, "x", "linkedin")
    images = [posts.MediaInput(write_image(tmp_path / f"{i}.png")) for i in range(5)]
    with pytest.raises(ContentRejected, match="X takes at most 4 image"):
        posts.create_post(
            runtime.db,
            runtime.settings,
            text="five",
            channels=["t-x", "t-linkedin"],
            immediately=True,
            now=runtime.clock(),
            media=images,
        )


def test_wall_time_without_zone_uses_the_channels_shared_zone_or_asks(runtime: Runtime) -> None:
    add_dry_run_channels(runtime, "x", timezone="America/Chicago")
    post_id = posts.create_post(
        runtime.db, runtime.settings, text="hi", channels=["t-x"], at="2027-03-08 10:00", now=runtime.clock()
    )
    assert posts.show_post(runtime.db, post_id)["publications"][0]["due_at"] == "2027-03-08T16:00:00+00:00"
    add_dry_run_channels(runtime, "linkedin", timezone="Europe/Zurich")
    with pytest.raises(Exception, match="different time zones"):
        posts.create_post(
            runtime.db,
            runtime.settings,
            text="hi",
            channels=["t-x", "t-linkedin"],
            at="2027-03-08 10:00",
            now=runtime.clock(),
        )


def test_cancel_and_retry(runtime: Runtime) -> None:
    channels = add_dry_run_channels(runtime, "x", "linkedin")
    post_id = posts.create_post(
        runtime.db, runtime.settings, text="hi", channels=channels, at="2027-03-08 10:00", now=runtime.clock()
    )
    assert posts.cancel_post(runtime.db, post_id, channel="t-x", now=runtime.clock()) == ["t-x"]
    assert publication_states(runtime, post_id) == {"t-x": "cancelled", "t-linkedin": "scheduled"}
    with pytest.raises(StateConflict, match="t-x is cancelled"):
        posts.cancel_post(runtime.db, post_id, channel="t-x", now=runtime.clock())
    assert posts.retry_post(runtime.db, post_id, channel="t-x", now=runtime.clock()) == ["t-x"]
    assert publication_states(runtime, post_id)["t-x"] == "scheduled"


def test_edit_bumps_version_and_refuses_text_too_long(runtime: Runtime) -> None:
    channels = add_dry_run_channels(runtime, "x")
    post_id = posts.create_post(
        runtime.db, runtime.settings, text="v1", channels=channels, at="2027-03-08 10:00", now=runtime.clock()
    )
    assert posts.edit_post(runtime.db, runtime.settings, post_id, text="v2", now=runtime.clock()) == 2
    with pytest.raises(ContentRejected):
        posts.edit_post(runtime.db, runtime.settings, post_id, text="a" * 400, now=runtime.clock())
    view = posts.show_post(runtime.db, post_id)
    assert (view["text"], view["version"]) == ("v2", 2)


def test_the_event_log_is_append_only(runtime: Runtime) -> None:
    channels = add_dry_run_channels(runtime, "x")
    posts.create_post(runtime.db, runtime.settings, text="hi", channels=channels, immediately=True, now=runtime.clock())
    for statement in ("UPDATE events SET kind = 'forged'", "DELETE FROM events"):
        with pytest.raises(DBAPIError, match="append-only"), runtime.db.transaction() as session:
            session.execute(text(statement))
    assert all(event.kind != "forged" for event in posts.read_events(runtime.db))


def test_credentials_are_not_readable_without_the_secret(runtime: Runtime) -> None:
    posts.add_channel(
        runtime.db,
        runtime.settings,
        name="hook",
        platform="webhook",
        options={"url": "http://127.0.0.1:9/"},
        credentials={"token": "very-secret-token"},
        now=runtime.clock(),
    )
    with runtime.db.transaction() as session:
        stored = session.execute(text("SELECT credentials FROM channels WHERE name = 'hook'")).scalar_one()
    assert b"very-secret-token" not in bytes(stored)
