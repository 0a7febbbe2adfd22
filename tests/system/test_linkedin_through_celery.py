"""Scheduled posts to LinkedIn go out through real Celery workers and a real dispatcher, against its contract fake."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from scheduler import posts
from scheduler.runtime import Runtime
from tests.fakes.linkedin_api import LinkedInFake
from tests.helpers import write_image
from tests.media.clips import make_clip
from tests.system.conftest import Processes, wait_until


def test_text_one_image_three_images_and_a_video_reach_linkedin_through_celery(
    processes: Processes, system_runtime: Runtime, machine_redis_url: str, tmp_path: Path
) -> None:
    with LinkedInFake(part_size=32 * 1024) as li:
        processes.env.update({"CROSSPOST_BROKER_URL": machine_redis_url, "CROSSPOST_LINKEDIN_API_URL": li.url})
        page = li.state.account.organizations[0]  # a company page: its images are watched until AVAILABLE
        posts.add_channel(
            system_runtime.db,
            system_runtime.settings,
            name="cms-li",
            platform="linkedin",
            options={"author": page},
            credentials=li.state.account.credentials(),
            now=datetime.now(UTC),
        )
        due = (datetime.now(UTC) + timedelta(seconds=3)).isoformat()
        media = {
            "text only (with #reserved @characters_)": [],
            "one image": [write_image(tmp_path / "one.png")],
            "three images": [write_image(tmp_path / f"{n}.png", (500 + n, 400)) for n in range(3)],
            "a video": [make_clip(tmp_path / "clip.mp4", seconds=4.0)],
        }
        post_ids = {
            text: posts.create_post(
                system_runtime.db,
                system_runtime.settings,
                text=text,
                channels=["cms-li"],
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
        by_text = {post["text"]: post for post in li.posts.values()}
        assert sorted(by_text) == sorted(media)  # every text as written, reserved characters included
        assert {text: len(by_text[text]["media"]) for text in media} == {
            "text only (with #reserved @characters_)": 0,
            "one image": 1,
            "three images": 3,
            "a video": 1,
        }
        assert "multiImage" in by_text["three images"]["content"]
        [video] = by_text["a video"]["media"]
        assert li.state.videos[video].status == "AVAILABLE"
        assert len(li.state.videos[video].parts) > 1
        assert {post["author"] for post in li.posts.values()} == {page}
        assert li.state.creates() == 4  # each once
        for text, post_id in post_ids.items():
            [publication] = posts.show_post(system_runtime.db, post_id)["publications"]
            assert publication["remote_url"] == f"https://www.linkedin.com/feed/update/{by_text[text]['urn']}/"
