"""X (Twitter) API v2: POST /2/tweets (shared/reference/platforms.md §1)."""

from __future__ import annotations

from adapters.base import Adapter, Prepared
from scheduler.content import Content


class XAdapter(Adapter):
    platform = "x"
    supports_live = False

    def build(self, content: Content) -> Prepared:
        media = self.media_for(content)
        body: dict[str, object] = {"text": content.full_text}
        if media:
            # media ids are issued by the v2 upload endpoints at publish time
            body["media"] = {"media_ids": [f"<upload:{item.name}>" for item in media]}
        return Prepared(
            channel=self.channel.name,
            platform=self.platform,
            text=content.full_text,
            media=media,
            request={"method": "POST", "url": "https://api.x.com/2/tweets", "json": body},
        )
