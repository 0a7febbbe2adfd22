"""Counting text the way each platform counts it."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from media.specs import Counting, TextSpec

if TYPE_CHECKING:
    from twitter_text.parse_tweet import ParsedResult


@dataclass(frozen=True)
class TextCheck:
    length: int
    limit: int
    valid: bool
    problems: tuple[str, ...]


def x_weighted(text: str, config: dict[str, Any] | None = None) -> ParsedResult:
    """X's weighted length (twitter-text); ``config`` overrides the default v3 weighting."""
    # imported here: twitter-text compiles a large emoji pattern (~0.4 s) that only X counting needs
    from twitter_text import parse_tweet

    return parse_tweet(text, config) if config is not None else parse_tweet(text)


def count(text: str, counting: Counting) -> int:
    if counting is Counting.X_WEIGHTED:
        return int(x_weighted(text).weightedLength)
    if counting is Counting.UTF16:
        return len(text.encode("utf-16-le")) // 2
    return len(text.encode("utf-8"))


def check(text: str, spec: TextSpec) -> TextCheck:
    text = unicodedata.normalize("NFC", text)
    length = count(text, spec.counting)
    problems: list[str] = []
    if length > spec.max_length:
        unit = {Counting.UTF8_BYTES: "bytes"}.get(spec.counting, "characters")
        problems.append(f"{spec.field} is {length} {unit}, over the limit of {spec.max_length}")
    bad = sorted({char for char in text if char in spec.forbidden})
    if bad:
        problems.append(f"{spec.field} may not contain {' or '.join(repr(c) for c in bad)}")
    return TextCheck(length=length, limit=spec.max_length, valid=not problems, problems=tuple(problems))
