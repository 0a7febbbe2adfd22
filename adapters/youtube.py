"""YouTube Data API v3: resumable videos.insert (shared/reference/platforms.md §4)."""

from __future__ import annotations

from dataclasses import replace

from adapters.base import Adapter, Prepared
from scheduler.content import Content

TITLE_LIMIT = 100  # platforms.md §4.3 [YT6]


def derive_title(content: Content) -> str:
    """The post's title, or its first line cut at a word boundary to fit YouTube's 100 characters."""
    if content.title:
        return content.title
    first_line = next((line.strip() for line in content.text.splitlines() if line.strip()), "")
    if len(first_line) <= TITLE_LIMIT:
        return first_line or "Untitled"
    cut = first_line[: TITLE_LIMIT - 1].rsplit(" ", 1)[0]
    return cut.rstrip(" ,;:") + "…"


class YouTubeAdapter(Adapter):
    platform = "youtube"
    supports_live = False

    def build(self, content: Content) -> Prepared:
        media = self.media_for(content)
        notes: list[str] = []
        if media and media[0].kind == "image":
            media = (replace(media[0], role="still-video-source"),)
            notes.append("the image is turned into a still video by the media pipeline before upload")
        title = derive_title(content).replace("<", "\u2039").replace(">", "\u203a")  # YouTube refuses < and >
        body = {
            "snippet": {"title": title, "description": content.full_text, "categoryId": "28"},
            "status": {"privacyStatus": str(self.channel.options.get("privacy_status", "public"))},
        }
        return Prepared(
            channel=self.channel.name,
            platform=self.platform,
            text=content.full_text,
            title=title,
            media=media,
            request={
                "method": "POST",
                "url": "https://www.googleapis.com/upload/youtube/v3/videos?uploadType=resumable&part=snippet,status",
                "json": body,
            },
            notes=tuple(notes),
        )
