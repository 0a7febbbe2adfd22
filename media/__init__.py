"""Per-channel specs and adaptation of text and media."""

from media.specs import SPECS, ChannelSpec, Counting, MediaRules, TextSpec
from media.text import TextCheck, check, count

__all__ = ["SPECS", "ChannelSpec", "Counting", "MediaRules", "TextCheck", "TextSpec", "check", "count"]
