"""LinkedIn Posts API: POST /rest/posts (shared/reference/platforms.md §2)."""

from __future__ import annotations

import re

from adapters.base import Adapter, Prepared
from scheduler.content import Content

# platforms.md §0.6 [LI5]: LinkedIn silently truncates "little text" at the first unescaped one.
_RESERVED = re.compile(r"([\\|{}@\[\]()<>#*_~])")


def escape_little_text(text: str) -> str:
    return _RESERVED.sub(r"\\\1", text)


class LinkedInAdapter(Adapter):
    platform = "linkedin"
    supports_live = False

    def build(self, content: Content) -> Prepared:
        media = self.media_for(content)
        author = str(self.channel.options.get("author", "urn:li:person:{id}"))
        body: dict[str, object] = {
            "author": author,
            "commentary": escape_little_text(content.full_text),
            "visibility": "PUBLIC",
            "distribution": {
                "feedDistribution": "MAIN_FEED",
                "targetEntities": [],
                "thirdPartyDistributionChannels": [],
            },
            "lifecycleState": "PUBLISHED",
            "isReshareDisabledByAuthor": False,
        }
        if len(media) == 1:
            body["content"] = {"media": {"id": f"<upload:{media[0].name}>", "altText": media[0].alt_text or ""}}
        elif media:
            images = [{"id": f"<upload:{item.name}>", "altText": item.alt_text or ""} for item in media]
            body["content"] = {"multiImage": {"images": images}}
        return Prepared(
            channel=self.channel.name,
            platform=self.platform,
            text=content.full_text,
            media=media,
            request={"method": "POST", "url": "https://api.linkedin.com/rest/posts", "json": body},
        )
