"""The contract every platform adapter implements.

An adapter is built for one channel. ``prepare`` is pure (no network): it returns exactly what
will be sent, so it doubles as the preview and as what the dry-run outbox records. ``publish``
makes the platform call. ``lookup`` answers "did this publication already land?" and is what
reconciliation uses after an ``OutcomeUnknown`` or a worker that died mid-publish; it must never
create anything.
"""

from __future__ import annotations

from typing import Any, ClassVar

from adapters import oauth
from adapters.errors import Permanent
from media.specs import SPECS, ChannelSpec
from scheduler.credentials import expiring
from scheduler.errors import ContentRejected
from scheduler.publishing.content import ChannelInfo, Content, problems_for
from scheduler.publishing.ports import Limit, Prepared, PreparedMedia, PublishContext, Published
from scheduler.settings import Settings


class Adapter:
    platform: ClassVar[str]
    # False while the platform's real publish call is not built: such channels must be dry-run.
    supports_live: ClassVar[bool] = True
    # the platform's documented per-account limits on the create call (ports.Limit)
    rate_limits: ClassVar[tuple[Limit, ...]] = ()

    def __init__(self, channel: ChannelInfo, settings: Settings) -> None:
        self.channel = channel
        self.settings = settings

    @classmethod
    def option_problems(cls, options: dict[str, object]) -> list[str]:
        """What is wrong with a channel's options for this platform; empty when they are fine."""
        return []

    @property
    def spec(self) -> ChannelSpec:
        return SPECS[self.platform]

    @property
    def lookup_proves_absence(self) -> bool:
        """True when ``lookup`` returning None proves the post is not on the platform, so a
        publication in ``unknown`` may be tried again; otherwise a person decides."""
        return False

    def prepare(self, content: Content) -> Prepared:
        problems = problems_for(self.spec, content)
        if problems:
            raise ContentRejected(f"channel {self.channel.name!r} ({self.spec.label}): " + "; ".join(problems))
        return self.build(content)

    def build(self, content: Content) -> Prepared:
        """The platform-specific shape of the post; content already fits the spec."""
        raise NotImplementedError  # pragma: no cover

    def publish(self, prepared: Prepared, ctx: PublishContext) -> Published:
        raise Permanent(
            f"live publishing to {self.spec.label} is not available yet; "
            f"make channel {self.channel.name!r} a dry-run channel"
        )

    @property
    def absence_settles_after(self) -> float | None:
        return None

    def lookup(self, prepared: Prepared, ctx: PublishContext) -> Published | None:
        return None

    def finish(self, prepared: Prepared, found: Published, ctx: PublishContext) -> Published:
        return found

    def refreshed_credentials(self, *, force: bool = False) -> dict[str, Any] | None:
        credentials = self.channel.credentials
        if not credentials or not (force or expiring(credentials)):
            return None
        if force and not credentials.get("refresh_token"):
            return None  # nothing to refresh with: the refusal stands
        return oauth.refresh(self.platform, credentials, self.settings)

    def media_for(self, content: Content) -> tuple[PreparedMedia, ...]:
        return tuple(
            PreparedMedia(
                source=item.path,
                name=item.original_name,
                kind=item.kind,
                mime=item.mime,
                alt_text=item.alt_text,
            )
            for item in content.media
        )


__all__ = ["Adapter", "Prepared", "PreparedMedia", "PublishContext", "Published"]
