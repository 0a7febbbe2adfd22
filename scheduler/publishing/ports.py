"""The port the publication pipeline calls: what an adapter returns and the outcomes it signals.

The core owns this contract; ``adapters/`` implements it. Outcome errors, and the state each one
leads to:

* AdapterError
  + Retryable(retry_after)   -- certainly not published; try again later       -> retry_wait
  + Permanent                -- certainly not published; retrying will not help -> failed
  + AuthExpired              -- the channel must be reconnected   -> retry_wait; the channel -> needs_reconnect
  + OutcomeUnknown           -- the request may or may not have landed         -> unknown, then lookup
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from scheduler.publishing.content import Content


class AdapterError(Exception):
    """Base of adapter outcomes; the message keeps the platform's own words for the user."""


class Retryable(AdapterError):
    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class Permanent(AdapterError):
    pass


class AuthExpired(AdapterError):
    pass


class OutcomeUnknown(AdapterError):
    pass


@dataclass(frozen=True, kw_only=True)
class PreparedMedia:
    source: Path
    name: str
    kind: str
    mime: str
    alt_text: str | None = None
    # "attachment", or "still-video-source" where a video-only platform gets an image
    role: str = "attachment"


@dataclass(frozen=True, kw_only=True)
class Prepared:
    """Exactly what will be sent to one channel; also the preview."""

    channel: str
    platform: str
    text: str
    media: tuple[PreparedMedia, ...] = ()
    title: str | None = None
    # The create call as the platform will see it: method, url, JSON body (no credentials).
    request: dict[str, Any] = field(default_factory=dict)
    notes: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True)
class Published:
    remote_id: str
    url: str | None = None


def _nowhere(_: dict[str, Any]) -> None:
    pass


@dataclass(frozen=True, kw_only=True)
class PublishContext:
    publication_id: int
    idempotency_key: str  # stable across every attempt of one publication
    attempt: int
    started_at: datetime
    # What an earlier attempt of this publication, for this same content, recorded before its
    # irreversible step (a TikTok publish_id, a YouTube upload session URI); None the first time.
    checkpoint: dict[str, Any] | None = None
    # Records a checkpoint in the database *now*, before the step it protects: a worker that dies
    # after it leaves the handle for the next attempt and for reconciliation.
    save_checkpoint: Callable[[dict[str, Any]], None] = field(default=_nowhere)


@dataclass(frozen=True)
class Limit:
    """A platform's documented rate limit for one account: ``count`` calls per ``seconds``."""

    name: str
    count: int
    seconds: float
    what: str  # for people: "posts per 15 minutes"


class RateLimiter(Protocol):
    """Shared by every worker: in Redis when there is a broker, in memory in the embedded mode."""

    def reserve(self, key: str, limit: Limit) -> float:
        """Count one call and return 0, or return the seconds until one is allowed (not counted)."""
        ...


class Publisher(Protocol):
    """What the pipeline needs of an adapter (``adapters.base.Adapter`` implements it)."""

    @property
    def lookup_proves_absence(self) -> bool:
        """``lookup`` answering None proves the post is not on the platform, at once."""
        ...

    @property
    def absence_settles_after(self) -> float | None:
        """Seconds after an attempt ended from which ``lookup`` answering None proves absence (the
        platform shows a post within that time, and any call still in flight has timed out);
        None when it never does and a person decides."""
        ...

    @property
    def rate_limits(self) -> tuple[Limit, ...]: ...

    def prepare(self, content: Content) -> Prepared: ...

    def publish(self, prepared: Prepared, ctx: PublishContext) -> Published: ...

    def lookup(self, prepared: Prepared, ctx: PublishContext) -> Published | None: ...

    def finish(self, prepared: Prepared, found: Published, ctx: PublishContext) -> Published:
        """After ``lookup`` found the post an interrupted attempt created: the steps ``publish``
        would have taken after its create call (a YouTube thumbnail, say). Must be safe to repeat."""
        ...

    def refreshed_credentials(self, *, force: bool = False) -> dict[str, Any] | None:
        """New credentials when the channel's token is about to expire, or at once with ``force``
        (the platform refused a token that had not expired), else None. AuthExpired when the
        platform refuses the refresh or there is nothing to refresh with."""
        ...
