"""Documents people hand in (credentials JSON, policy TOML or JSON): how deep they may nest.

No imports beyond the standard library, so the command line can check a file before it loads
anything heavy."""

from __future__ import annotations

from typing import Any

MAX_NESTING = 8  # a credentials or policy document is a table of values, lists or small tables


def nesting(data: Any) -> int:
    """How deep lists and tables are nested in ``data``, counted without recursion (a hostile file
    may be very deep); counting stops just past MAX_NESTING."""
    deepest, stack = 0, [(data, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            deepest = max(deepest, depth)
            if deepest > MAX_NESTING:
                return deepest
            stack.extend((child, depth + 1) for child in (item.values() if isinstance(item, dict) else item))
    return deepest
