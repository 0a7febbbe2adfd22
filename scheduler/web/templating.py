"""Jinja2 for the pages: autoescaped, with gettext ready for translation (English for now)."""

from __future__ import annotations

import gettext
from datetime import datetime
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape

TEMPLATES = Path(__file__).parent / "templates"

_env = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=select_autoescape(["html"]),
    extensions=["jinja2.ext.i18n"],
    trim_blocks=True,
    lstrip_blocks=True,
)
# Every string in the templates goes through gettext (``_()`` / ``{% trans %}``): a catalogue for
# another language is all a translation needs.
_env.install_gettext_translations(gettext.NullTranslations(), newstyle=True)  # type: ignore[attr-defined]


def _when(moment: datetime | str | None, fmt: str = "%a %d %b %Y, %H:%M") -> str:
    if moment is None:
        return ""
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    return moment.strftime(fmt)


_env.filters["when"] = _when


def render(request: Request, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    page = _env.get_template(template).render(request=request, **context)
    return HTMLResponse(page, status_code=status_code)
