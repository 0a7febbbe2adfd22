"""TikTok Content Posting API v2 (shared/reference/platforms.md §3)."""

from __future__ import annotations

from adapters.base import Adapter, Prepared
from scheduler.content import Content


class TikTokAdapter(Adapter):
    platform = "tiktok"
    supports_live = False

    def build(self, content: Content) -> Prepared:
        media = self.media_for(content)
        privacy = str(self.channel.options.get("privacy_level", "PUBLIC_TO_EVERYONE"))
        if media and media[0].kind == "video":
            url = "https://open.tiktokapis.com/v2/post/publish/video/init/"
            body: dict[str, object] = {
                "post_info": {"title": content.full_text, "privacy_level": privacy},
                "source_info": {"source": "FILE_UPLOAD"},
            }
        else:
            url = "https://open.tiktokapis.com/v2/post/publish/content/init/"
            body = {
                "post_info": {
                    "title": content.title or "",
                    "description": content.full_text,
                    "privacy_level": privacy,
                },
                "source_info": {
                    "source": "PULL_FROM_URL",
                    "photo_images": [f"<public-url:{item.name}>" for item in media],
                    "photo_cover_index": 0,
                },
                "post_mode": "DIRECT_POST",
                "media_type": "PHOTO",
            }
        return Prepared(
            channel=self.channel.name,
            platform=self.platform,
            text=content.full_text,
            title=content.title,
            media=media,
            request={"method": "POST", "url": url, "json": body},
        )
