"""One module per noun, each with a ``router``; ``ROUTERS`` finds them all, so adding a module is
all it takes to serve it."""

from __future__ import annotations

import importlib
import pkgutil

from fastapi import APIRouter


def _routers() -> list[APIRouter]:
    found: list[APIRouter] = []
    for module in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        router = getattr(importlib.import_module(f"{__name__}.{module.name}"), "router", None)
        if isinstance(router, APIRouter):
            found.append(router)
    return found


ROUTERS = _routers()
