"""Counting text the way each platform counts it."""

from __future__ import annotations

import functools
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


# No text is counted that is far over its platform's limit: more than this many characters for each
# one a platform takes (a thread's posts included). X's count runs twitter-text's web-address
# pattern, whose work grows faster than the text; the cap bounds it, and is far above any text
# that could fit (on X a web address counts 23 however long it is, so a text may be longer than it counts).
RAW_FACTOR = 4

# twitter-text's web-address pattern backtracks over every dot of a word for every place a web
# address could start in it: its work grows with the square of the dots in a word ("a." * 800, one
# word, took 46 s). Words where no web address can end (no top-level domain after any of their
# dots) are counted with the dots replaced by commas, which weigh the same and start nothing;
# the squares of the dots left, summed over the words, may not exceed this (about 0.1 s a count;
# a thread of 25 posts with a dozen web addresses of 4 dots each uses 300 x 16 = 4,800).
X_DOT_WORK = 5_000

_WORD = re.compile(r"[^ \t\n\r]+")  # web addresses never hold these (nor does any emoji)


class Uncountable(ValueError):
    """The text cannot be counted within bounded work (the message says why, for a person)."""


def raw_limit(spec: TextSpec) -> int:
    """The most characters ``check`` counts for ``spec``; a longer text is refused uncounted."""
    return spec.max_length * spec.max_parts * RAW_FACTOR


@functools.cache
def _dot_before_tld() -> re.Pattern[str]:
    """A dot followed by a top-level domain, exactly as twitter-text's domain pattern ends: every web
    address it finds has one, so a word without one holds no web address."""
    from twitter_text.regexp.valid_cctld import valid_cctld
    from twitter_text.regexp.valid_gtld import valid_gtld
    from twitter_text.regexp.valid_punycode import valid_punycode

    endings = "|".join(pattern.pattern for pattern in (valid_gtld, valid_cctld, valid_punycode))
    return re.compile(rf"\.(?={endings})", re.IGNORECASE)


def _x_countable(text: str) -> str:
    """``text`` as X counts it, with less work for twitter-text: in each word where no web address
    can end, the dots become commas (same weight, and a comma starts no domain, path or query
    differently). Raises Uncountable when the dots left would still cost too much."""
    if "." not in text:
        return text
    tld = _dot_before_tld()
    pieces: list[str] = []
    done = work = dots_left = 0
    for word in _WORD.finditer(text):
        start, end = word.span()
        dots = text.count(".", start, end)
        if not dots:
            continue
        # endpos: the word's end reads as the text's end, which the pattern treats as it treats a space
        if tld.search(text, start, end) is None:
            pieces += [text[done:start], text[start:end].replace(".", ",")]
            done = end
            continue
        work, dots_left = work + dots * dots, dots_left + dots
        if work > X_DOT_WORK:
            raise Uncountable(
                f"too many dots between spaces for X's web-address counting ({dots_left} or more in words "
                "that look like web addresses); put spaces between the names"
            )
    return "".join(pieces) + text[done:] if pieces else text


def count(text: str, counting: Counting) -> int:
    """``text``'s length as the platform counts it (X: weighted, web addresses 23). Raises Uncountable
    for a text X's counting cannot take in bounded time; keep texts within ``raw_limit`` first."""
    if counting is Counting.X_WEIGHTED:
        return int(x_weighted(_x_countable(text)).weightedLength)
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
    if len(text) > raw_limit(spec):  # before any counting: the work per text is bounded
        thread = f" ({spec.max_parts} posts as a thread)" if spec.max_parts > 1 else ""
        problem = (
            f"{spec.field} is {len(text):,} characters, far over the limit of {spec.max_length:,}{thread}; "
            f"a text over {raw_limit(spec):,} characters is not counted"
        )
        return TextCheck(length=len(text), limit=spec.max_length, valid=False, problems=(problem,))
    text = unicodedata.normalize("NFC", text)
    try:
        length = count(text, spec.counting)
    except Uncountable as error:
        return TextCheck(length=len(text), limit=spec.max_length, valid=False, problems=(f"{spec.field}: {error}",))
    problems: list[str] = []
    if spec.max_parts > 1 and length > spec.max_length * spec.max_parts:
        # no thread holds it (every part is shorter than a post): not split, which counts each word
        problem = (
            f"{spec.field} is {length} characters: it needs more than {spec.max_parts} posts as a thread, "
            f"over the limit of {spec.max_parts}"
        )
        return TextCheck(length=length, limit=spec.max_length, valid=False, problems=(problem,))
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
        problems.append(f"{spec.field} is {length} {_unit(spec)}, over the limit of {spec.max_length}")
    bad = sorted({char for char in text if char in spec.forbidden})
    if bad:
        problems.append(f"{spec.field} may not contain {' or '.join(repr(c) for c in bad)}")
    return TextCheck(length=length, limit=spec.max_length, valid=not problems, problems=tuple(problems))


def _unit(spec: TextSpec) -> str:
    return "bytes" if spec.counting is Counting.UTF8_BYTES else "characters"
