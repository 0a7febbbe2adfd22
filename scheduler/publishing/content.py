"""What a post says, as adapters receive it, and the check of that content against a channel's spec."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from media.specs import ChannelSpec
from media.text import check


@dataclass(frozen=True, kw_only=True)
class MediaItem:
    path: Path
    original_name: str
    kind: str  # "image" | "video"
    mime: str
    bytes: int
    sha256: str
    width: int | None = None
    height: int | None = None
    alt_text: str | None = None


@dataclass(frozen=True, kw_only=True)
class Content:
    text: str
    title: str | None = None
    link: str | None = None
    language: str | None = None
    media: tuple[MediaItem, ...] = ()
    post_id: int = 0
    version: int = 1

    @property
    def full_text(self) -> str:
        """The text as published: the link goes at the end unless the text already carries it."""
        if self.link and self.link not in self.text:
            return f"{self.text}\n\n{self.link}" if self.text else self.link
        return self.text

    @property
    def content_hash(self) -> str:
        return content_hash(self.text, self.title, self.link, self.language, [m.sha256 for m in self.media])


@dataclass(frozen=True, kw_only=True)
class ChannelInfo:
    id: int
    name: str
    platform: str
    timezone: str = "UTC"
    language: str | None = None
    dry_run: bool = False
    options: dict[str, Any] = field(default_factory=dict)
    credentials: dict[str, Any] | None = None
    status: str = "active"  # or needs_reconnect: its credentials were refused


def content_hash(text: str, title: str | None, link: str | None, language: str | None, media_hashes: list[str]) -> str:
    """The identity of one version of a post's content (what a sign-off or a publish refers to)."""
    canonical = json.dumps([text, title, link, language, media_hashes], ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def problems_for(spec: ChannelSpec, content: Content) -> list[str]:
    """Why ``content`` cannot go to a channel with ``spec``; empty when it fits."""
    problems = list(check(content.full_text, spec.text).problems)
    if content.title and spec.title:
        problems.extend(check(content.title, spec.title).problems)
    images = sum(1 for item in content.media if item.kind == "image")
    videos = sum(1 for item in content.media if item.kind == "video")
    rules = spec.media
    if images and videos and not rules.mix_images_and_videos:
        problems.append(f"{spec.label} does not take images and videos in the same post")
    if images > rules.max_images:
        problems.append(f"{spec.label} takes at most {rules.max_images} image(s), the post has {images}")
    if videos > rules.max_videos:
        problems.append(f"{spec.label} takes at most {rules.max_videos} video(s), the post has {videos}")
    if rules.requires_media and not content.media:
        problems.append(f"{spec.label} needs an image or a video; the post has none")
    for item in content.media:
        alt = item.alt_text or ""
        if rules.max_alt_text is not None and item.kind == "image" and len(alt) > rules.max_alt_text:
            problems.append(
                f"{spec.label} takes alt text of at most {rules.max_alt_text} characters; "
                f"{item.original_name}'s has {len(alt)}"
            )
    return problems
