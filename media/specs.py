"""What each platform accepts, as data: one table that adapters, previews and validation all read.

Every number cites shared/reference/platforms.md (section, and the source tag used there).
Image and video renditions (formats, bytes, pixels, aspect, codecs) are added by the media issue;
this table holds what the publication pipeline needs: how text is counted, and media counts and kinds.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Counting(StrEnum):
    X_WEIGHTED = "x-weighted"  # twitter-text v3: URL = 23, CJK and emoji = 2, NFC
    UTF16 = "utf16"  # UTF-16 code units, as JavaScript and Java count
    UTF8_BYTES = "utf8-bytes"


@dataclass(frozen=True, kw_only=True)
class TextSpec:
    max_length: int
    counting: Counting
    forbidden: str = ""  # characters the platform refuses outright
    field: str = "text"  # what the platform calls the field, for messages


@dataclass(frozen=True, kw_only=True)
class MediaRules:
    max_images: int
    max_videos: int
    mix_images_and_videos: bool = False
    requires_media: bool = False
    # A video-only platform given only images: the media pipeline renders a still video.
    image_becomes_video: bool = False


@dataclass(frozen=True, kw_only=True)
class ChannelSpec:
    platform: str
    label: str
    text: TextSpec
    media: MediaRules
    title: TextSpec | None = None


SPECS: dict[str, ChannelSpec] = {
    "x": ChannelSpec(
        platform="x",
        label="X",
        # platforms.md §1.3 [X8][TT1]: 280 weighted, twitter-text config v3
        text=TextSpec(max_length=280, counting=Counting.X_WEIGHTED),
        # platforms.md §1.4 [X3]: up to 4 photos, or 1 GIF, or 1 video, no mixing
        media=MediaRules(max_images=4, max_videos=1),
    ),
    "linkedin": ChannelSpec(
        platform="linkedin",
        label="LinkedIn",
        # platforms.md §2.3 [LI13(2nd)]: 3,000 characters (UNCONFIRMED first-party); counted in
        # UTF-16 units, the stricter reading for emoji
        text=TextSpec(max_length=3000, counting=Counting.UTF16, field="commentary"),
        # platforms.md §2.4 [LI4]: 1 image or 2-20 multi-image; 1 video [PZ-LI]
        media=MediaRules(max_images=20, max_videos=1),
    ),
    "tiktok": ChannelSpec(
        platform="tiktok",
        label="TikTok",
        # platforms.md §3.3 [TK1]: video caption post_info.title <= 2,200 UTF-16 runes
        text=TextSpec(max_length=2200, counting=Counting.UTF16, field="caption"),
        # photo title <= 90 UTF-16 runes [TK1][TK3]
        title=TextSpec(max_length=90, counting=Counting.UTF16, field="photo title"),
        # platforms.md §3.4: 1-35 photos or 1 video, never mixed; a post needs media
        media=MediaRules(max_images=35, max_videos=1, requires_media=True),
    ),
    "youtube": ChannelSpec(
        platform="youtube",
        label="YouTube",
        # platforms.md §4.3 [YT6]: description <= 5,000 UTF-8 bytes, no '<' or '>'
        text=TextSpec(max_length=5000, counting=Counting.UTF8_BYTES, forbidden="<>", field="description"),
        # title <= 100 characters, no '<' or '>' [YT6]
        title=TextSpec(max_length=100, counting=Counting.UTF16, forbidden="<>", field="title"),
        # one video per upload; an image-only post becomes a still video (media pipeline)
        media=MediaRules(max_images=1, max_videos=1, requires_media=True, image_becomes_video=True),
    ),
    "webhook": ChannelSpec(
        platform="webhook",
        label="Webhook",
        # a JSON POST to a URL the team controls (e.g. an intranet news feed)
        text=TextSpec(max_length=100_000, counting=Counting.UTF16),
        media=MediaRules(max_images=20, max_videos=5, mix_images_and_videos=True),
    ),
}
