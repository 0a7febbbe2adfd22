"""`crosspost post ...`, `crosspost events` and `crosspost text check`."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Any

import typer

from media.fetch import fetch, is_url
from media.specs import SPECS
from media.text import check
from scheduler import posts
from scheduler.cli._output import print_json, print_table
from scheduler.errors import InvalidInput
from scheduler.runtime import build_runtime
from scheduler.settings import Settings

app = typer.Typer(help="Posts: one piece of content, published to several channels.", no_args_is_help=True)
text_app = typer.Typer(help="Text limits, counted the way each platform counts.", no_args_is_help=True)

JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON")]


def _publication_rows(view: dict[str, Any]) -> list[list[Any]]:
    return [
        [view["id"], p["id"], p["channel"], p["state"], p["due_local"] or p["due_at"], p["attempts"], p["remote_url"]]
        for p in view["publications"]
    ]


_HEADERS = ["post", "pub", "channel", "state", "due", "attempts", "remote"]


@app.command("create")
def create(
    channel: Annotated[list[str], typer.Option("--channel", "-c", help="Channel name (repeatable)")],
    text: Annotated[str, typer.Option(help="The post's text")] = "",
    at: Annotated[str | None, typer.Option(help="'YYYY-MM-DD HH:MM' with --tz, or an ISO instant with offset")] = None,
    tz: Annotated[str | None, typer.Option(help="IANA time zone of --at, e.g. Europe/Zurich")] = None,
    now: Annotated[bool, typer.Option("--now", help="Publish immediately")] = False,
    media: Annotated[list[str] | None, typer.Option(help="Image or video file or http(s) URL (repeatable)")] = None,
    alt: Annotated[list[str] | None, typer.Option(help="Alt text for the media, in the same order")] = None,
    title: Annotated[str | None, typer.Option(help="Title (YouTube, TikTok photo posts)")] = None,
    link: Annotated[str | None, typer.Option(help="A link to add to the post")] = None,
    language: Annotated[str | None, typer.Option(help="Language code, e.g. en")] = None,
    author: Annotated[str | None, typer.Option(help="Who wrote it")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Queue a post on one or more channels."""
    files = media or []
    alts = alt or []
    if len(alts) > len(files):
        raise InvalidInput(f"{len(alts)} --alt texts for {len(files)} --media files")
    runtime = build_runtime()
    paths = [_local(item, runtime.settings) for item in files]
    try:
        post_id = posts.create_post(
            runtime.db,
            runtime.settings,
            text=text,
            channels=channel,
            at=at,
            tz=tz,
            immediately=now,
            title=title,
            link=link,
            language=language,
            author=author,
            media=[posts.MediaInput(path, alts[i] if i < len(alts) else None) for i, path in enumerate(paths)],
            now=runtime.clock(),
        )
    finally:
        for path, item in zip(paths, files, strict=True):
            if is_url(item):
                path.unlink(missing_ok=True)  # the store keeps its own content-addressed copy
    view = posts.show_post(runtime.db, post_id)
    if as_json:
        print_json(view)
        return
    print(f"post {post_id} queued")
    print_table(_HEADERS, _publication_rows(view))


def _local(item: str, settings: Settings) -> Path:
    """A media argument as a local file: URLs are fetched first, with the safety checks of media.fetch."""
    if not is_url(item):
        return Path(item)
    return fetch(
        item,
        settings.data_dir / "downloads",
        max_bytes=settings.max_media_bytes,
        timeout=settings.media_fetch_timeout,
        allowed_hosts=settings.media_allowed_hosts,
    )


@app.command("list")
def list_(
    state: Annotated[str | None, typer.Option(help="Only posts with a publication in this state")] = None,
    limit: int = 50,
    as_json: JsonFlag = False,
) -> None:
    """List recent posts and their publications."""
    views = posts.list_posts(build_runtime().db, state=state, limit=limit)
    if as_json:
        print_json(views)
        return
    print_table(_HEADERS, [row for view in views for row in _publication_rows(view)])


@app.command("show")
def show(post_id: int, as_json: JsonFlag = False) -> None:
    """Show one post, its publications and their last errors."""
    view = posts.show_post(build_runtime().db, post_id)
    if as_json:
        print_json(view)
        return
    print(f"post {view['id']} (version {view['version']}): {view['text']}")
    for item in view["media"]:
        print(f"  media: {item['name']} ({item['mime']}, {item['bytes']} bytes) alt={item['alt_text']!r}")
    print_table(_HEADERS, _publication_rows(view))
    for publication in view["publications"]:
        if publication["last_error"]:
            print(f"  {publication['channel']}: {publication['last_error']}")


@app.command("edit")
def edit(
    post_id: int,
    text: Annotated[str | None, typer.Option()] = None,
    title: Annotated[str | None, typer.Option()] = None,
    link: Annotated[str | None, typer.Option()] = None,
    at: Annotated[str | None, typer.Option(help="New due time")] = None,
    tz: Annotated[str | None, typer.Option()] = None,
) -> None:
    """Change a post's content or due time before it goes out."""
    runtime = build_runtime()
    version = posts.edit_post(
        runtime.db, runtime.settings, post_id, text=text, title=title, link=link, at=at, tz=tz, now=runtime.clock()
    )
    print(f"post {post_id} is now version {version}")


@app.command("cancel")
def cancel(post_id: int, channel: Annotated[str | None, typer.Option(help="Only this channel")] = None) -> None:
    """Cancel what has not been published yet."""
    runtime = build_runtime()
    names = posts.cancel_post(runtime.db, post_id, channel=channel, now=runtime.clock())
    print(f"post {post_id}: cancelled on {', '.join(names)}")


@app.command("retry")
def retry(post_id: int, channel: Annotated[str | None, typer.Option(help="Only this channel")] = None) -> None:
    """Send failed, cancelled or needs-attention publications again, now."""
    runtime = build_runtime()
    names = posts.retry_post(runtime.db, post_id, channel=channel, now=runtime.clock())
    print(f"post {post_id}: queued again on {', '.join(names)}")


def events(
    follow: Annotated[bool, typer.Option("--follow", "-f", help="Keep printing new events")] = False,
    after: Annotated[int, typer.Option(help="Only events after this id")] = 0,
    post: Annotated[int | None, typer.Option(help="Only this post's events")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Print the event log (every state change, in order)."""
    db = build_runtime().db
    last = after
    while True:
        for event in posts.read_events(db, after=last, post_id=post):
            last = event.id
            if as_json:
                print_json(
                    {
                        "id": event.id,
                        "at": event.at.isoformat(),
                        "kind": event.kind,
                        "post_id": event.post_id,
                        "publication_id": event.publication_id,
                        "from_state": event.from_state,
                        "to_state": event.to_state,
                        "message": event.message,
                    }
                )
            else:
                where = f"post {event.post_id}" + (f" pub {event.publication_id}" if event.publication_id else "")
                print(f"{event.id:>6} {event.at:%Y-%m-%d %H:%M:%S} {event.kind:<26} {where}  {event.message or ''}")
        if not follow:
            return
        time.sleep(1.0)


@text_app.command("check")
def text_check(
    text: str,
    channel: Annotated[str | None, typer.Option(help="Count as this channel's platform does")] = None,
    platform: Annotated[str | None, typer.Option(help="x, linkedin, tiktok, youtube or webhook")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Count TEXT the way a platform counts it, against its limit."""
    if (channel is None) == (platform is None):
        raise InvalidInput("give exactly one of --channel or --platform")
    if channel is not None:
        platform = posts.find_channel(build_runtime().db, channel).platform
    assert platform is not None
    if platform not in SPECS:
        raise InvalidInput(f"unknown platform {platform!r}; known: {', '.join(sorted(SPECS))}")
    result = check(text, SPECS[platform].text)
    if as_json:
        print_json({"length": result.length, "limit": result.limit, "valid": result.valid, "problems": result.problems})
    else:
        verdict = "fits" if result.valid else "; ".join(result.problems)
        print(f"{result.length}/{result.limit} on {SPECS[platform].label}: {verdict}")
