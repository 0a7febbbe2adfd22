"""The FastAPI application: routers under /api/v1, problem+json errors, idempotent mutations."""

from __future__ import annotations

import importlib.metadata

from fastapi import FastAPI

from scheduler.api import problems
from scheduler.api.hygiene import NulGuard
from scheduler.api.idempotency import IdempotencyMiddleware
from scheduler.runtime import Runtime

API_PREFIX = "/api/v1"


def _version() -> str:
    try:
        return importlib.metadata.version("crosspost")
    except importlib.metadata.PackageNotFoundError:
        return "0"


def create_app(runtime: Runtime) -> FastAPI:
    from scheduler.api.routes import ROUTERS

    app = FastAPI(
        title="crosspost",
        version=_version(),
        summary="Queue one piece of content, publish it adapted to every channel, once, on time.",
        openapi_url="/openapi.json",
        docs_url=None,  # served below with Swagger UI from crosspost's own static files, not a CDN
        redoc_url=None,
        responses=problems.PROBLEMS,
    )
    app.state.runtime = runtime
    problems.install(app)
    app.add_middleware(IdempotencyMiddleware, runtime=runtime, prefix=API_PREFIX)
    app.add_middleware(NulGuard)  # added last: runs first, before a key is kept for a refused request
    for router in ROUTERS:
        app.include_router(router, prefix=API_PREFIX)
    from scheduler.api import ops

    app.include_router(ops.router)  # /healthz, /metrics, /feeds/<token>.ics, /media/: at the root, no token
    from scheduler.web.app import install as install_web

    install_web(app)  # the pages, beside the API they share their services with
    _self_hosted_docs(app)
    return app


SWAGGER = "/static/vendor/swagger-ui-5.35.0"


def _self_hosted_docs(app: FastAPI) -> None:
    """/docs with Swagger UI's script and styles pinned in the repository: the page works on a
    machine without internet, and no third party sees who reads the API documentation."""
    from fastapi.openapi.docs import get_swagger_ui_html
    from fastapi.responses import HTMLResponse

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url="/openapi.json",
            title="crosspost API",
            swagger_js_url=f"{SWAGGER}/swagger-ui-bundle.js",
            swagger_css_url=f"{SWAGGER}/swagger-ui.css",
            swagger_favicon_url=f"{SWAGGER}/favicon-32x32.png",
        )
