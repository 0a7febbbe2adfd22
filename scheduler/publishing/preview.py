"""What each channel will get, before it goes out: a service for the CLI and, later, the web app.

``write_preview`` writes, per channel, the files the dry-run outbox would hold for the post
(``scheduler.publishing.outbox``): the request body, the text as counted and escaped, the media as sent.
It reads the publications and never changes their state. Media are the renditions the pipeline
makes (made now, into the content-addressed store, if the pipeline has not yet made them), so a
preview matches byte for byte what is published. ``contact_sheet`` puts every channel's text and
picture on one HTML page; ``summaries`` is the one line per channel that `post create` prints.
"""

from __future__ import annotations

import html
import json
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from PIL import Image
from sqlalchemy import select

from media.specs import SPECS
from media.text import check, split_thread
from scheduler.errors import InvalidInput, NotFound
from scheduler.publishing.content import ChannelInfo, Content, MediaItem
from scheduler.publishing.outbox import write_request
from scheduler.publishing.ports import Prepared, Publisher
from scheduler.publishing.publications import load
from scheduler.settings import Settings
from scheduler.store import Channel, Database, Publication

AdapterFactory = Callable[[ChannelInfo], Publisher]
# Renditions for a publication not yet rendered by the pipeline (media_prep.preview_renditions).
RenditionMaker = Callable[[int], tuple[MediaItem, ...] | None]


@dataclass(frozen=True)
class ChannelSummary:
    channel: str
    platform: str
    length: int
    limit: int
    parts: int
    images: int
    videos: int
    problems: tuple[str, ...] = ()

    def line(self) -> str:
        label = SPECS[self.platform].label if self.platform in SPECS else self.platform
        media = [
            f"{n} {kind}{'s' if n > 1 else ''}" for n, kind in ((self.images, "image"), (self.videos, "video")) if n
        ]
        parts = f", a thread of {self.parts}" if self.parts > 1 else ""
        verdict = f" - {'; '.join(self.problems)}" if self.problems else ""
        return f"{self.channel} ({label}): {self.length}/{self.limit}{parts}, {', '.join(media) or 'no media'}{verdict}"


def summarise(content: Content, channels: Sequence[tuple[str, str]]) -> list[ChannelSummary]:
    """(name, platform) per channel: the text counted as the platform counts it, thread parts, media."""
    rows = []
    for name, platform in channels:
        spec = SPECS[platform]
        checked = check(content.full_text, spec.text)
        parts = 1
        if checked.length > spec.text.max_length and spec.text.max_parts > 1 and checked.valid:
            parts = len(split_thread(content.full_text, spec.text))
        rows.append(
            ChannelSummary(
                channel=name,
                platform=platform,
                length=checked.length,
                limit=checked.limit,
                parts=parts,
                images=sum(1 for item in content.media if item.kind == "image"),
                videos=sum(1 for item in content.media if item.kind == "video"),
                problems=checked.problems,
            )
        )
    return rows


def post_summaries(db: Database, post_id: int, settings: Settings) -> list[ChannelSummary]:
    """The summary line of each of a post's channels, for the content that channel gets (its variant)."""
    with db.transaction() as session:
        ids = session.scalars(
            select(Publication.id)
            .join(Channel, Channel.id == Publication.channel_id)
            .where(Publication.post_id == post_id)
            .order_by(Channel.name)
        ).all()
    rows = []
    for publication_id in ids:
        with db.atomic_statements() as connection:
            loaded = load(connection, publication_id, settings)
        assert loaded is not None
        rows += summarise(loaded.content, [(loaded.channel.name, loaded.channel.platform)])
    return rows


@dataclass(frozen=True)
class ChannelPreview:
    channel: str
    platform: str
    state: str
    folder: Path
    text: str
    parts: tuple[str, ...]
    media: tuple[str, ...]
    notes: tuple[str, ...]


def write_preview(
    db: Database,
    post_id: int,
    settings: Settings,
    adapters: AdapterFactory,
    out: Path,
    *,
    channels: Sequence[str] = (),
    renditions: RenditionMaker | None = None,
) -> list[ChannelPreview]:
    """Write ``out/<channel>/`` for each of the post's channels (or those named); returns what was written."""
    with db.transaction() as session:
        rows = session.execute(
            select(Publication.id, Publication.state, Publication.media_ready, Channel.name)
            .join(Channel, Channel.id == Publication.channel_id)
            .where(Publication.post_id == post_id)
            .order_by(Channel.name)
        ).all()
    if not rows:
        raise NotFound(f"no post with id {post_id}")
    unknown = sorted(set(channels) - {row.name for row in rows})
    if unknown:
        known = ", ".join(row.name for row in rows)
        raise InvalidInput(f"post {post_id} is not on {', '.join(unknown)}; its channels: {known}")
    previews = []
    for row in rows:
        if channels and row.name not in channels:
            continue
        with db.atomic_statements() as connection:
            loaded = load(connection, row.id, settings)
        assert loaded is not None
        content = loaded.content
        if content.media and not row.media_ready and renditions is not None:
            made = renditions(row.id)  # what the pipeline will send, made now (content-addressed)
            if made is not None:
                content = replace(content, media=made)
        prepared = adapters(loaded.channel).prepare(content)
        folder = out / row.name
        folder.mkdir(parents=True, exist_ok=True)
        for stale in folder.iterdir():
            stale.unlink()
        media = write_request(prepared, folder)
        previews.append(
            ChannelPreview(
                channel=row.name,
                platform=loaded.channel.platform,
                state=row.state,
                folder=folder,
                text=prepared.text,
                parts=_parts(prepared),
                media=tuple(media),
                notes=prepared.notes,
            )
        )
    return previews


def _parts(prepared: Prepared) -> tuple[str, ...]:
    thread = prepared.request.get("thread")
    return tuple(str(part) for part in thread) if isinstance(thread, list) else (prepared.text,)


def contact_sheet(post_id: int, previews: Sequence[ChannelPreview], out: Path) -> Path:
    """One HTML page: each channel's text (a thread part by part) beside its picture, at the aspect
    ratio of the rendition it gets. Self-contained but for the media files beside it."""
    cards = []
    for preview in previews:
        pictures = []
        for name in preview.media:
            path = preview.folder / name
            relative = f"{html.escape(preview.channel)}/{html.escape(name)}"
            if path.suffix.lower() in (".jpg", ".jpeg", ".png", ".webp", ".gif"):
                with Image.open(path) as image:
                    width, height = image.size
                size = f'width="{width}" height="{height}" style="aspect-ratio:{width}/{height}"'
                pictures.append(f'<img src="{relative}" alt="" {size}>')
            else:
                pictures.append(f'<a class="video" href="{relative}">{html.escape(name)}</a>')
        parts = "".join(f'<p class="part">{html.escape(part)}</p>' for part in preview.parts)
        notes = "".join(f"<li>{html.escape(note)}</li>" for note in preview.notes)
        label = SPECS[preview.platform].label if preview.platform in SPECS else preview.platform
        cards.append(
            f'<section class="card"><h2>{html.escape(preview.channel)} <small>{html.escape(label)} · '
            f"{html.escape(preview.state)}</small></h2>"
            f'<div class="body"><div class="text">{parts}<ul>{notes}</ul></div>'
            f'<div class="media">{"".join(pictures)}</div></div></section>'
        )
    page = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f"<title>Post {post_id}: what each channel gets</title>"
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        "<style>body{font:15px/1.45 system-ui,sans-serif;margin:1.5rem;color:#1b1b1b}"
        ".card{border:1px solid #ccc;border-radius:8px;padding:1rem;margin:0 0 1rem}"
        ".body{display:flex;gap:1rem;flex-wrap:wrap}.text{flex:1 1 22rem}.media{flex:1 1 22rem}"
        ".part{white-space:pre-wrap;border-left:3px solid #446;padding-left:.6rem}"
        "img{max-width:100%;height:auto;display:block;margin:0 0 .5rem;background:#eee}"
        "small{color:#555;font-weight:normal}</style></head><body>"
        f"<h1>Post {post_id}: what each channel gets</h1>{''.join(cards)}</body></html>\n"
    )
    path = out / "index.html"
    path.write_text(page)
    return path


def as_json(previews: Sequence[ChannelPreview]) -> str:
    return json.dumps([{**asdict(p), "folder": str(p.folder)} for p in previews], indent=2, ensure_ascii=False)
