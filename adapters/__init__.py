"""Platform adapters behind one interface (``adapters.base.Adapter``)."""

from __future__ import annotations

from adapters.base import Adapter, Prepared, PreparedMedia, PublishContext, Published
from adapters.dryrun import DryRunAdapter
from adapters.errors import AdapterError, AuthExpired, OutcomeUnknown, Permanent, Retryable
from adapters.linkedin import LinkedInAdapter
from adapters.tiktok import TikTokAdapter
from adapters.webhook import WebhookAdapter
from adapters.x import XAdapter
from adapters.youtube import YouTubeAdapter
from scheduler.errors import InvalidInput
from scheduler.publishing.content import ChannelInfo
from scheduler.settings import Settings

ADAPTERS: dict[str, type[Adapter]] = {
    cls.platform: cls for cls in (XAdapter, LinkedInAdapter, TikTokAdapter, YouTubeAdapter, WebhookAdapter)
}


class UnknownPlatform(InvalidInput):
    pass


def adapter_class(platform: str) -> type[Adapter]:
    try:
        return ADAPTERS[platform]
    except KeyError:
        raise UnknownPlatform(f"unknown platform {platform!r}; known: {', '.join(sorted(ADAPTERS))}") from None


def check_channel(platform: str, *, dry_run: bool, options: dict[str, object]) -> None:
    """Refuse a channel this build cannot serve, before anything is stored."""
    cls = adapter_class(platform)
    if not dry_run and not cls.supports_live:
        raise InvalidInput(
            f"live publishing to {platform} is not built yet; add the channel with --dry-run to see "
            "exactly what would be sent in the outbox"
        )
    problems = cls.option_problems(options)
    if problems:
        raise InvalidInput(f"{platform} channel: " + "; ".join(problems))


def get_adapter(channel: ChannelInfo, settings: Settings) -> Adapter:
    """The adapter for ``channel``: the dry-run outbox for dry-run channels, whatever the platform."""
    adapter = adapter_class(channel.platform)(channel, settings)
    return DryRunAdapter(adapter) if channel.dry_run else adapter


__all__ = [
    "ADAPTERS",
    "Adapter",
    "AdapterError",
    "AuthExpired",
    "DryRunAdapter",
    "OutcomeUnknown",
    "Permanent",
    "Prepared",
    "PreparedMedia",
    "PublishContext",
    "Published",
    "Retryable",
    "UnknownPlatform",
    "adapter_class",
    "check_channel",
    "get_adapter",
]
