"""`post create --focus X,Y`, repeatable in the order of --media, through the command's entry point."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.helpers import Run, ok, refused, write_image


@pytest.fixture
def media(cli: Run, tmp_path: Path) -> list[str]:
    ok(cli("channel", "add", "--platform", "x", "--name", "cms-x", "--dry-run"))
    return [str(write_image(tmp_path / name)) for name in ("hall.png", "magnet.png", "tracks.png")]


CREATE = ["post", "create", "--text", "New result", "--channel", "cms-x", "--at", "2027-03-08 10:00", "--tz", "UTC"]


def test_each_focus_goes_to_its_file_in_order_and_auto_keeps_the_automatic_one(cli: Run, media: list[str]) -> None:
    hall, magnet, tracks = media
    args = [*CREATE, "--media", hall, "--media", magnet, "--media", tracks]
    post = json.loads(ok(cli(*args, "--focus", "auto", "--focus", "0.9,0.2", "--json")))
    assert [m.get("focus") for m in post["media"]] == [None, [0.9, 0.2], None]  # the last: none given
    assert "media: magnet.png (image/png, " in (shown := ok(cli("post", "show", str(post["id"]))))
    assert "focus=0.9,0.2" in shown
    assert "hall.png" in shown
    assert shown.count("focus=") == 1


@pytest.mark.parametrize(
    ("focus", "message"),
    [
        (["0.5"], "--focus '0.5': write it as X,Y with numbers between 0 and 1"),
        (["left,top"], "--focus 'left,top': write it as X,Y"),
        (["1.2,0.5"], "--focus '1.2,0.5': X and Y must each be between 0 and 1"),
        (["0.5,0.5", "0.5,0.5"], "2 --focus points for 1 --media files"),
    ],
)
def test_a_focus_that_is_not_a_point_in_the_image_is_refused(
    cli: Run, media: list[str], focus: list[str], message: str
) -> None:
    args = [*CREATE, "--media", media[0]]
    for point in focus:
        args += ["--focus", point]
    assert message in refused(cli(*args))
    assert json.loads(ok(cli("post", "list", "--json"))) == []
