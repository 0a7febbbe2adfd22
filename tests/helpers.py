"""Small helpers shared by the tests."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PIL import Image
from sqlalchemy import func, select

from scheduler import posts
from scheduler.runtime import Runtime
from scheduler.store import Database, Event, Post, PostMedia, Publication


def table_counts(db: Database) -> dict[str, int]:
    with db.transaction() as session:
        return {
            model.__tablename__: session.scalar(select(func.count()).select_from(model)) or 0
            for model in (Post, PostMedia, Publication, Event)
        }


def add_dry_run_channels(runtime: Runtime, *platforms: str, timezone: str = "Europe/Zurich") -> list[str]:
    names = []
    for platform in platforms:
        name = f"t-{platform}"
        posts.add_channel(
            runtime.db,
            runtime.settings,
            name=name,
            platform=platform,
            timezone=timezone,
            dry_run=True,
            now=runtime.clock(),
        )
        names.append(name)
    return names


def add_webhook_channel(runtime: Runtime, name: str, options: dict[str, str]) -> str:
    posts.add_channel(runtime.db, runtime.settings, name=name, platform="webhook", options=options, now=runtime.clock())
    return name


def write_image(path: Path, size: tuple[int, int] = (640, 360), fmt: str = "PNG") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, (200, 30, 30)).save(path, fmt)
    return path


def publication_states(runtime: Runtime, post_id: int) -> dict[str, str]:
    return {p["channel"]: p["state"] for p in posts.show_post(runtime.db, post_id)["publications"]}


# A `crosspost` command line: run(*args, **extra_env) -> what it printed and its exit code.
Run = Callable[..., subprocess.CompletedProcess[str]]


def ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    return result.stdout


def refused(result: subprocess.CompletedProcess[str], code: int = 2) -> str:
    """The one line on stderr of a refused command."""
    assert result.returncode == code, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    return lines[0]


def publish_due(runtime: Runtime, adapters: Any = None) -> None:
    """What the dispatcher and a worker do, in this thread: make the renditions, claim what is
    due and publish it (through ``adapters``, by default the runtime's real ones)."""
    from scheduler.publishing import media_prep, publications

    for publication_id in media_prep.needing_media(runtime.db, now=runtime.clock(), settings=runtime.settings):
        media_prep.render(runtime.db, publication_id, settings=runtime.settings, clock=runtime.clock)
    for dispatch in publications.claim_due(runtime.db, now=runtime.clock(), settings=runtime.settings):
        publications.publish(
            runtime.db,
            dispatch.publication_id,
            dispatch.token,
            adapters or runtime.adapters,
            settings=runtime.settings,
            clock=runtime.clock,
            limiter=runtime.limiter,
        )


def reconcile_until_settled(runtime: Runtime, clock: Any, *, step: float = 5.0, limit: float = 3600.0) -> list[Any]:
    """What the dispatcher's sweep and the workers do after an attempt without an answer: look the
    publication up whenever it is due, as the (test) clock moves on, until it leaves ``unknown``.
    Returns the state after each lookup."""
    from scheduler.publishing import publications
    from scheduler.publishing.states import PublicationState

    seen: list[PublicationState] = []
    waited = 0.0
    while waited < limit:
        clock.advance(step)
        waited += step
        for publication_id in publications.due_for_reconcile(runtime.db, now=clock(), settings=runtime.settings):
            state = publications.reconcile(
                runtime.db, publication_id, runtime.adapters, settings=runtime.settings, clock=clock
            )
            assert state is not None
            seen.append(state)
            if state is not PublicationState.UNKNOWN:
                return seen
    return seen
