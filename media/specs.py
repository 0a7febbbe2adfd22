"""What each platform accepts, as data: one table that adapters, previews and validation all read.

Every number cites shared/reference/platforms.md (section, and the source tag used there);
numbers that document marks UNCONFIRMED are marked so here too, and the safer reading is taken.
`crosspost media specs` prints this table.
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
    max_parts: int = 1  # > 1: a longer text becomes a thread of up to this many parts (media.text.split_thread)


@dataclass(frozen=True, kw_only=True)
class MediaRules:
    max_images: int
    max_videos: int
    mix_images_and_videos: bool = False
    requires_media: bool = False
    # A video-only platform given only images: the media pipeline renders a still video.
    image_becomes_video: bool = False
    max_alt_text: int | None = None  # characters of an image's alt text; None: not limited here


@dataclass(frozen=True, kw_only=True)
class Frame:
    """One framing a platform shows well: an aspect ratio and the size to render it at."""

    width: int
    height: int

    @property
    def aspect(self) -> float:
        return self.width / self.height


@dataclass(frozen=True, kw_only=True)
class ImageSpec:
    inputs: tuple[str, ...]  # formats the platform accepts (Pillow names)
    output: str  # the format crosspost renders to: JPEG or WEBP
    max_bytes: int
    frames: tuple[Frame, ...]  # crop/pad targets; the closest to the source aspect is used
    fit_aspect: tuple[float, float]  # aspect range shown without cropping ("fit" mode)
    max_pixels: int | None = None
    max_side: int | None = None
    min_width: int = 1
    # where the subject should sit in the output, as (x, y) in 0..1: TikTok overlays its
    # caption at the bottom and its buttons on the right
    focus_target: tuple[float, float] = (0.5, 0.5)


@dataclass(frozen=True, kw_only=True)
class VideoSpec:
    containers: tuple[str, ...]
    codecs: tuple[str, ...]
    max_bytes: int
    duration: tuple[float, float]  # seconds, min and max
    fps: tuple[float, float]
    max_size: tuple[int, int] | None  # (width, height) bounding box
    aspect: tuple[float, float]
    frame: Frame  # recommended rendition
    min_side: int = 2
    # files under this are refused by the platform: a smaller encode is filled up to it
    # (constant bitrate, H.264 filler data), and a rendition still under it is a problem
    min_bytes: int = 0
    focus_target: tuple[float, float] = (0.5, 0.5)  # as ImageSpec.focus_target
    # a vertical source (taller than wide) is rendered whole in this frame instead of being
    # cropped to ``frame``; None: every source gets ``frame``
    vertical_frame: Frame | None = None
    # YouTube: a vertical or square video at most this long is shown as a Short
    shorts_max_duration: float | None = None


@dataclass(frozen=True, kw_only=True)
class ChannelSpec:
    platform: str
    label: str
    text: TextSpec
    media: MediaRules
    title: TextSpec | None = None
    image: ImageSpec | None = None
    thumbnail: ImageSpec | None = None
    video: VideoSpec | None = None


MB = 1024 * 1024


SPECS: dict[str, ChannelSpec] = {
    "x": ChannelSpec(
        platform="x",
        label="X",
        # platforms.md §1.3 [X8][TT1]: 280 weighted, twitter-text config v3
        text=TextSpec(max_length=280, counting=Counting.X_WEIGHTED, max_parts=25),
        # platforms.md §1.4 [X3]: up to 4 photos, or 1 GIF, or 1 video, no mixing; §1.5 [X2]: alt
        # text for images and GIFs (POST /2/media/metadata, alt_text.text maxLength 1000)
        media=MediaRules(max_images=4, max_videos=1, max_alt_text=1000),
        image=ImageSpec(
            inputs=("JPEG", "PNG", "GIF", "WEBP"),  # §1.4 [X3]
            output="JPEG",
            max_bytes=5 * MB,  # §1.4 [X3]: images <= 5 MB
            frames=(Frame(width=1600, height=900),),  # 16:9; 1600x900 UNCONFIRMED [AYR-X(2nd)]
            fit_aspect=(1 / 3, 3.0),  # shown uncropped in this range (video's 1:3-3:1 [X3]); UNCONFIRMED for photos
            max_side=8192,  # 4x4 to 8192x8192, UNCONFIRMED [AYR-X(2nd)]
        ),
        video=VideoSpec(
            containers=("mp4", "mov"),
            codecs=("h264",),  # H.264 High, AAC-LC, yuv420p, closed GOP [X3]
            max_bytes=512 * MB,  # §1.4 [X3]
            duration=(0.5, 140.0),  # §1.4 [X3]
            fps=(1.0, 60.0),  # <= 60 fps [X3]
            max_size=(1280, 1024),  # 32x32 - 1280x1024 [X3]
            aspect=(1 / 3, 3.0),  # 1:3 - 3:1 [X3]
            frame=Frame(width=1280, height=720),  # recommended landscape [X3]
            min_side=32,  # [X3]
        ),
    ),
    "linkedin": ChannelSpec(
        platform="linkedin",
        label="LinkedIn",
        # platforms.md §2.3 [LI13(2nd)]: 3,000 characters (UNCONFIRMED first-party); counted in
        # UTF-16 units, the stricter reading for emoji
        text=TextSpec(max_length=3000, counting=Counting.UTF16, field="commentary"),
        # platforms.md §2.4 [LI4]: 1 image or 2-20 multi-image; 1 video [PZ-LI]
        media=MediaRules(max_images=20, max_videos=1),
        image=ImageSpec(
            inputs=("JPEG", "PNG", "GIF"),  # §2.4 [LI2]
            output="JPEG",
            # bytes not documented; aggregators say 5-8 MB [AYR-LI(2nd)]: take the lower
            max_bytes=5 * MB,
            # 1.91:1, 1:1, 4:5 at 1200x627, 1080x1080, 1080x1350 (UNCONFIRMED first-party)
            frames=(Frame(width=1200, height=627), Frame(width=1080, height=1080), Frame(width=1080, height=1350)),
            fit_aspect=(1 / 2.4, 2.4),  # 1:2.4 - 2.4:1 (ad spec [LI11(2nd)])
            max_pixels=36_152_319,  # < 36,152,320 pixels [LI2]
        ),
        video=VideoSpec(
            containers=("mp4",),  # [LI3]
            codecs=("h264",),  # [LI11(2nd)], UNCONFIRMED for organic posts
            max_bytes=500 * MB,  # 75 KB - 500 MB [LI3]
            min_bytes=75 * 1024,  # §2.4 [LI3]: 75 KB - 500 MB; KB read as 1024 bytes, the safer reading
            duration=(3.0, 1800.0),  # 3 s - 30 min [LI3]
            fps=(10.0, 30.0),  # < 30 fps, ad spec [LI11(2nd)]
            max_size=(1920, 1920),
            aspect=(1 / 2.4, 2.4),  # [LI11(2nd)]
            frame=Frame(width=1920, height=1080),
        ),
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
        image=ImageSpec(
            inputs=("JPEG", "WEBP"),  # §3.4 [TK4]: JPEG and WebP only, no PNG
            output="JPEG",
            max_bytes=20 * MB,  # §3.4 [TK4]
            frames=(Frame(width=1080, height=1920),),  # 9:16 (UNCONFIRMED first-party) [LATE-TK(2nd)]
            fit_aspect=(9 / 16, 16 / 9),
            max_side=1920,  # "<= 1080p" [TK4]: 1080 on the short side
            focus_target=(0.45, 0.42),  # clear of the caption (bottom) and the buttons (right)
        ),
        video=VideoSpec(
            containers=("mp4", "webm", "mov"),  # §3.4 [TK4]
            codecs=("h264", "hevc", "vp8", "vp9"),
            max_bytes=4 * 1024 * MB,  # 4 GB [TK4]
            duration=(1.0, 600.0),  # <= 10 min via the API [TK4]; creator_info may say less
            fps=(23.0, 60.0),  # [TK4]
            max_size=(4096, 4096),  # 360 - 4096 px per side [TK4]
            aspect=(9 / 16, 16 / 9),
            frame=Frame(width=1080, height=1920),
            min_side=360,  # [TK4]
            focus_target=(0.45, 0.42),  # clear of the caption (bottom) and the buttons (right)
        ),
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
        thumbnail=ImageSpec(
            inputs=("JPEG", "PNG"),  # thumbnails.set takes JPEG/PNG [YT3]
            output="JPEG",
            max_bytes=2 * MB,  # 2 MB long-standing; the API took 50 MB from 2026-09-14 [YT5]: keep the safe one
            frames=(Frame(width=1280, height=720),),  # 1280x720, 16:9 [YT12(2nd)]
            fit_aspect=(16 / 9, 16 / 9),
            min_width=640,  # [YT12(2nd)]
        ),
        video=VideoSpec(
            containers=("mp4",),  # MP4, moov first [YT9]
            codecs=("h264",),  # H.264 High, AAC-LC [YT9]
            max_bytes=256 * 1024 * MB,  # 256 GB [YT8]
            duration=(1.0, 900.0),  # 15 min unverified; 12 h verified [YT10(2nd)]
            fps=(24.0, 60.0),  # [YT9]
            max_size=None,
            aspect=(9 / 16, 16 / 9),
            frame=Frame(width=1920, height=1080),  # [YT9]
            # Shorts, §4.4 [YT11(2nd)] (UNCONFIRMED first-party): vertical or square, up to
            # 3 min (since 2024-10-15), 1080x1920 9:16 recommended; YouTube classifies them
            # itself (no API flag), so a vertical clip is kept vertical, whole, to be one
            vertical_frame=Frame(width=1080, height=1920),
            shorts_max_duration=180.0,
        ),
    ),
    "webhook": ChannelSpec(
        platform="webhook",
        label="Webhook",
        # a JSON POST to a URL the team controls (e.g. an intranet news feed)
        text=TextSpec(max_length=100_000, counting=Counting.UTF16),
        media=MediaRules(max_images=20, max_videos=5, mix_images_and_videos=True),
    ),
}
