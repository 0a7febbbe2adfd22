"""Scheduled posts to YouTube go out through real Celery workers and a real dispatcher, against
YouTube's contract fake: the media worker renders (an image becomes a still video), the publish
worker uploads in resumable chunks and sets the thumbnail."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from adapters.youtube import CHUNK_UNIT
from scheduler import posts
from scheduler.runtime import Runtime
from tests.fakes.youtube_api import INSERT, YouTubeFake
from tests.helpers import write_image
from tests.media.clips import make_clip
from tests.system.conftest import Processes, wait_until


def test_a_video_and_an_image_as_a_still_video_reach_youtube_through_celery(
    processes: Processes, system_runtime: Runtime, machine_redis_url: str, tmp_path: Path
) -> None:
    with YouTubeFake() as yt:
        processes.env.update(
            {
                "CROSSPOST_BROKER_URL": machine_redis_url,
                "CROSSPOST_YOUTUBE_API_URL": yt.url,
                "CROSSPOST_YOUTUBE_UPLOAD_URL": yt.upload_url,
                # Celery's task time limits derive from the lease (0.6x soft); the crash tests'
                # 6 s would cut short rendering the 1920x1080 still video on a busy machine
                "CROSSPOST_PUBLISH_LEASE": "60",
            }
        )
        posts.add_channel(
            system_runtime.db,
            system_runtime.settings,
            name="cms-yt",
            platform="youtube",
            credentials=yt.state.account.credentials(),
            options={"chunk_size": str(CHUNK_UNIT)},
            now=datetime.now(UTC),
        )
        due = (datetime.now(UTC) + timedelta(seconds=3)).isoformat()
        media = {
            "A collision in slow motion": make_clip(tmp_path / "clip.mp4", seconds=2.0),
            "The detector hall, as a still": write_image(tmp_path / "hall.png", (1600, 900)),
        }
        post_ids = {
            text: posts.create_post(
                system_runtime.db,
                system_runtime.settings,
                text=text,
                channels=["cms-yt"],
                at=due,
                now=datetime.now(UTC),
                media=[posts.MediaInput(path)],
            )
            for text, path in media.items()
        }
        processes.start("worker", "--concurrency", "2", ready="ready.")
        processes.start("dispatcher")

        def states() -> list[str]:
            return [posts.show_post(system_runtime.db, p)["publications"][0]["state"] for p in post_ids.values()]

        try:
            wait_until(lambda: states() == ["published"] * 2, 120, "two videos published")
        except AssertionError as timed_out:
            shown = [posts.show_post(system_runtime.db, p)["publications"][0] for p in post_ids.values()]
            raise AssertionError(f"{timed_out}: {shown}\n{processes.logs()}") from None
        by_title = {video.snippet["title"]: video for video in yt.videos.values()}
        assert sorted(by_title) == sorted(media)
        assert sum(1 for call in yt.state.calls if (call.method, call.path) == ("POST", INSERT)) == 2  # each once
        for text, post_id in post_ids.items():
            video = by_title[text]
            assert video.data[4:8] == b"ftyp"  # an MP4, the still video too
            assert video.status["privacyStatus"] == "public"
            assert video.thumbnail is not None
            [publication] = posts.show_post(system_runtime.db, post_id)["publications"]
            assert publication["remote_url"] == f"https://www.youtube.com/watch?v={video.id}"
