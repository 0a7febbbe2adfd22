"""Reading the files people name on the command line: one clear line for every way it can fail."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from scheduler.errors import InvalidInput

MAX_NESTING = 8  # a credentials or policy document is a table of values, lists or small tables


def read_text(path: Path, what: str, *, max_bytes: int = 1_000_000) -> str:
    """The file's text (UTF-8), or InvalidInput saying why it cannot be read."""
    try:
        with path.open("rb") as handle:
            data = handle.read(max_bytes + 1)
    except FileNotFoundError:
        raise InvalidInput(f"{what} {path} does not exist") from None
    except IsADirectoryError:
        raise InvalidInput(f"{what} {path} is a directory") from None
    except OSError as error:
        raise InvalidInput(f"{what} {path} cannot be read: {error.strerror or error}") from None
    if len(data) > max_bytes:
        raise InvalidInput(f"{what} {path} is over {max_bytes:,} bytes; it cannot be one")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as bad:
        raise InvalidInput(f"{what} {path} is not UTF-8 text (byte {bad.start + 1})") from None


def nesting(data: Any) -> int:
    """How deep lists and objects are nested in ``data``, counted without recursion (up to past MAX_NESTING)."""
    deepest, stack = 0, [(data, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            deepest = max(deepest, depth)
            if deepest > MAX_NESTING:
                return deepest
            stack.extend((child, depth + 1) for child in (item.values() if isinstance(item, dict) else item))
    return deepest


def json_object(path: Path, what: str) -> dict[str, Any]:
    """A JSON object from the file: refused if it is not one, is nested absurdly deep, or holds text
    that is not Unicode (a lone surrogate escape such as \\ud800 cannot be stored or printed)."""
    text = read_text(path, what)
    try:
        data = json.loads(text)
    except RecursionError:
        raise InvalidInput(f"{what} {path} is nested too deeply") from None
    except ValueError as error:
        raise InvalidInput(f"{what} {path} is not valid JSON: {error}") from None
    if not isinstance(data, dict):
        raise InvalidInput(f"{what} {path} must hold a JSON object")
    if nesting(data) > MAX_NESTING:
        raise InvalidInput(f"{what} {path} is nested more than {MAX_NESTING} levels deep")
    try:
        json.dumps(data, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidInput(f"{what} {path} holds a \\\\uD800-style escape that is not a Unicode character") from None
    return data
