"""Mounting the web app on the API's FastAPI application: pages, static files, redirects."""

from __future__ import annotations

import importlib
import pkgutil
from pathlib import Path

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from scheduler.web import pages
from scheduler.web.templating import render
from scheduler.web.viewer import CsrfRefused, SignInRequired, sign_in_url

STATIC = Path(__file__).parent / "static"


def _page_routers() -> list[APIRouter]:
    found = []
    for module in sorted(pkgutil.iter_modules(pages.__path__), key=lambda m: m.name):
        router = getattr(importlib.import_module(f"{pages.__name__}.{module.name}"), "router", None)
        if isinstance(router, APIRouter):
            found.append(router)
    return found


# Scripts only from crosspost itself (no inline script, no javascript: URL, nothing from elsewhere):
# text that slipped through escaping could still not run. Inline style attributes are allowed.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' blob: data:; "
    "media-src 'self' blob:; object-src 'none'; base-uri 'self'; frame-ancestors 'none'; form-action 'self'"
)
UNGUARDED = ("/docs", "/api/", "/openapi.json")  # Swagger UI starts with an inline script


class SecurityHeaders:
    """The pages' Content-Security-Policy and friends, on every answer outside the API and its docs.
    A plain ASGI middleware: an error inside still reaches the 500 handler as problem+json."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(UNGUARDED):
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers.setdefault("Content-Security-Policy", CSP)
                headers.setdefault("X-Content-Type-Options", "nosniff")
                headers.setdefault("Referrer-Policy", "same-origin")
            await send(message)

        await self.app(scope, receive, with_headers)


def install(app: FastAPI) -> None:
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    app.add_middleware(SecurityHeaders)

    for router in _page_routers():
        app.include_router(router, include_in_schema=False)

    @app.get("/", include_in_schema=False)
    def home() -> Response:
        return RedirectResponse("/calendar", status_code=303)

    @app.exception_handler(SignInRequired)
    async def to_sign_in(_: Request, error: SignInRequired) -> Response:
        return RedirectResponse(sign_in_url(error.next_path), status_code=303)

    @app.exception_handler(CsrfRefused)
    async def csrf_refused(request: Request, _: CsrfRefused) -> HTMLResponse:
        return render(
            request,
            "message.html",
            status_code=403,
            viewer=None,
            title="Refused",
            message="This form was not sent from a page of this site (its security token is missing or old). "
            "Reload the page and try again.",
        )
