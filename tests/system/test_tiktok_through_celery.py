"""Scheduled posts to TikTok go out through real Celery workers and a real dispatcher, against
TikTok's contract fake; the fake pulls the photos from crosspost's own media server."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from scheduler import posts
from scheduler.media_server import serve
from scheduler.runtime import Runtime
from tests.fakes.tiktok_api import TikTokFake
from tests.helpers import write_image
from tests.media.clips import make_clip
from tests.system.conftest import Processes, wait_until


def test_a_video_and_a_photo_post_reach_tiktok_through_celery(
    processes: Processes, system_runtime: Runtime, machine_redis_url: str, tmp_path: Path
) -> None:
    media_server = serve(system_runtime.settings.media_store, "127.0.0.1:0")
    media_base = f"http://127.0.0.1:{media_server.server_address[1]}"
    try:
        with TikTokFake(verified_prefixes=[f"{media_base}/media/"]) as tiktok:
            processes.env.update(
                {
                    "CROSSPOST_BROKER_URL": machine_redis_url,
                    "CROSSPOST_TIKTOK_API_URL": tiktok.url,
                    "CROSSPOST_PUBLIC_BASE_URL": media_base,
                }
            )
            posts.add_channel(
                system_runtime.db,
                system_runtime.settings,
                name="cms-tiktok",
                platform="tiktok",
                credentials=tiktok.state.account.credentials(),
                now=datetime.now(UTC),
            )
            due = (datetime.now(UTC) + timedelta(seconds=3)).isoformat()
            media = {
                "a video": [make_clip(tmp_path / "clip.mp4", seconds=2.0)],
                "two photos": [write_image(tmp_path / "a.png", (1200, 900)), write_image(tmp_path / "b.png")],
            }
            post_ids = {
                text: posts.create_post(
                    system_runtime.db,
                    system_runtime.settings,
                    text=text,
                    channels=["cms-tiktok"],
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

            wait_until(lambda: states() == ["published"] * 2, 90, f"both posts published ({processes.logs()})")
            by_text = {
                str(post.post_info["title" if post.kind == "video" else "description"]): post
                for post in tiktok.posts.values()
            }
            video, photos = by_text["a video"], by_text["two photos"]
            assert (video.kind, video.total_chunk_count, len(video.received)) == ("video", 1, video.video_size)
            assert (photos.kind, len(photos.photos)) == ("photo", 2)
            assert tiktok.state.fetched == photos.source_info["photo_images"]
            assert all(url.startswith(f"{media_base}/media/renditions/") for url in tiktok.state.fetched)
            assert tiktok.state.inits() == 2  # each once
            for text, post in by_text.items():
                [publication] = posts.show_post(system_runtime.db, post_ids[text])["publications"]
                assert publication["remote_url"] == f"https://www.tiktok.com/@cmsexperiment/video/{post.post_id}"
    finally:
        media_server.shutdown()
        media_server.server_close()
