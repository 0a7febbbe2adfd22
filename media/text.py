"""Counting text the way each platform counts it."""

from __future__ import annotations

import re
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


_SENTENCE_END = re.compile(r"(?<=[.!?…])\s+")
# room for the " 12/25" numbering each part of a thread carries
_NUMBERING = 7


def split_thread(text: str, spec: TextSpec) -> list[str]:
    """``text`` as the parts of a thread, each within the limit: cut between sentences where it
    can, else between words, never inside a word (so never inside a URL, hashtag or mention).
    Every part carries "i/n". Raises ValueError when a single word does not fit."""
    text = unicodedata.normalize("NFC", text).strip()
    if count(text, spec.counting) <= spec.max_length:
        return [text]
    room = spec.max_length - _NUMBERING
    parts: list[str] = []
    current = ""
    for sentence in _SENTENCE_END.split(text):
        for piece in _pieces(sentence, room, spec):
            joined = f"{current} {piece}" if current else piece
            if count(joined, spec.counting) <= room:
                current = joined
            else:
                parts.append(current)
                current = piece
    parts.append(current)
    total = len(parts)
    return [f"{part} {index}/{total}" for index, part in enumerate(parts, start=1)]


def _pieces(sentence: str, room: int, spec: TextSpec) -> list[str]:
    """A sentence that fits, or its words packed into pieces that do."""
    if count(sentence, spec.counting) <= room:
        return [sentence]
    pieces, current = [], ""
    for word in sentence.split():
        if count(word, spec.counting) > room:
            raise ValueError(
                f"a word of {count(word, spec.counting)} characters does not fit in one post: {word[:40]}…"
            )
        joined = f"{current} {word}" if current else word
        if count(joined, spec.counting) <= room:
            current = joined
        else:
            pieces.append(current)
            current = word
    pieces.append(current)
    return pieces


def check(text: str, spec: TextSpec) -> TextCheck:
    text = unicodedata.normalize("NFC", text)
    length = count(text, spec.counting)
    problems: list[str] = []
    if length > spec.max_length and spec.max_parts > 1:
        try:
            parts = len(split_thread(text, spec))
        except ValueError as error:
            problems.append(str(error))
        else:
            if parts > spec.max_parts:
                problems.append(f"{spec.field} needs {parts} posts as a thread, over the limit of {spec.max_parts}")
        return TextCheck(length=length, limit=spec.max_length, valid=not problems, problems=tuple(problems))
    if length > spec.max_length:
        unit = {Counting.UTF8_BYTES: "bytes"}.get(spec.counting, "characters")
        problems.append(f"{spec.field} is {length} {unit}, over the limit of {spec.max_length}")
    bad = sorted({char for char in text if char in spec.forbidden})
    if bad:
        problems.append(f"{spec.field} may not contain {' or '.join(repr(c) for c in bad)}")
    return TextCheck(length=length, limit=spec.max_length, valid=not problems, problems=tuple(problems))
