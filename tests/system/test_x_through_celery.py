"""Scheduled posts to X go out through real Celery workers and a real dispatcher, against X's contract fake."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from scheduler import posts
from scheduler.runtime import Runtime
from tests.fakes.x_api import XFake
from tests.helpers import write_image
from tests.media.clips import make_clip
from tests.system.conftest import Processes, wait_until


def test_text_one_image_four_images_and_a_video_reach_x_through_celery(
    processes: Processes, system_runtime: Runtime, machine_redis_url: str, tmp_path: Path
) -> None:
    with XFake() as x:
        processes.env.update(
            {"CROSSPOST_BROKER_URL": machine_redis_url, "CROSSPOST_X_API_URL": x.url, "CROSSPOST_X_UPLOAD_URL": x.url}
        )
        posts.add_channel(
            system_runtime.db,
            system_runtime.settings,
            name="cms-x",
            platform="x",
            credentials=x.state.keys.credentials(),
            now=datetime.now(UTC),
        )
        due = (datetime.now(UTC) + timedelta(seconds=3)).isoformat()
        media = {
            "text only": [],
            "one image": [write_image(tmp_path / "one.png")],
            "four images": [write_image(tmp_path / f"{n}.png", (500 + n, 400)) for n in range(4)],
            "a video": [make_clip(tmp_path / "clip.mp4", seconds=2.0)],
        }
        post_ids = {
            text: posts.create_post(
                system_runtime.db,
                system_runtime.settings,
                text=text,
                channels=["cms-x"],
                at=due,
                now=datetime.now(UTC),
                media=[posts.MediaInput(path) for path in files],
            )
            for text, files in media.items()
        }
        processes.start("worker", "--concurrency", "2", ready="ready.")
        processes.start("dispatcher")

        def states() -> list[str]:
            return [posts.show_post(system_runtime.db, p)["publications"][0]["state"] for p in post_ids.values()]

        wait_until(lambda: states() == ["published"] * 4, 90, f"four posts published ({processes.logs()})")
        by_text = {tweet["sent"]: tweet for tweet in x.tweets.values()}
        assert {text: len(by_text[text]["media_ids"]) for text in media} == {
            "text only": 0,
            "one image": 1,
            "four images": 4,
            "a video": 1,
        }
        assert x.state.creates() == 4  # each once
        for text, post_id in post_ids.items():
            [publication] = posts.show_post(system_runtime.db, post_id)["publications"]
            assert publication["remote_url"] == f"https://x.com/CMSExperiment/status/{by_text[text]['id']}"
