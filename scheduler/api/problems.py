"""Every error the API returns is ``application/problem+json`` (RFC 9457) naming the problem and,
where one input is at fault, the field."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from scheduler.accounts.tokens import Unauthenticated
from scheduler.errors import (
    ConfigurationError,
    CrosspostError,
    InvalidInput,
    NotFound,
    Refused,
    StateConflict,
)
from scheduler.publishing.ports import AdapterError
from scheduler.redaction import redact

MEDIA_TYPE = "application/problem+json"
log = logging.getLogger("crosspost.api")


class Problem(BaseModel):
    """RFC 9457 problem details; ``field`` names the input at fault, when one is."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str
    field: str | None = None


# The problem responses every operation may give, for the OpenAPI document.
PROBLEMS: dict[int | str, dict[str, Any]] = {
    code: {"model": Problem, "content": {MEDIA_TYPE: {}}, "description": title}
    for code, title in (
        (400, "A body that is not the JSON or form it claims to be"),
        (401, "Not signed in: no, an unknown, expired or revoked token"),
        (403, "Refused by a rule: a role, an organisation's channels, the approval policy"),
        (404, "Not found"),
        (409, "The action does not fit the current state"),
        (422, "Refused input: nothing was stored"),
    )
}


class ApiProblem(Exception):
    """Raised by the API layer itself (not the services): a status, a title and the detail."""

    def __init__(self, status: int, detail: str, *, title: str | None = None, field: str | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.title = title or _TITLES.get(status, "Error")
        self.field = field


_TITLES = {
    400: "Bad request",
    401: "Not signed in",
    403: "Refused",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    413: "Too large",
    415: "Unsupported media type",
    422: "Refused input",
    429: "Too many requests",
    500: "Internal error",
    502: "Platform error",
}


def problem(
    status: int,
    detail: str,
    *,
    title: str | None = None,
    field: str | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body = Problem(title=title or _TITLES.get(status, "Error"), status=status, detail=detail, field=field)
    return JSONResponse(body.model_dump(exclude_none=True), status_code=status, media_type=MEDIA_TYPE, headers=headers)


def status_of(error: CrosspostError) -> int:
    if isinstance(error, Refused):
        return 403
    if isinstance(error, InvalidInput):
        return 422
    if isinstance(error, NotFound):
        return 404
    if isinstance(error, StateConflict):
        return 409
    if isinstance(error, ConfigurationError):
        return 409  # the instance is not set up for this (a missing credential, say): not the caller's input
    return 422


def _field_of(location: tuple[Any, ...] | list[Any]) -> str | None:
    parts = [str(part) for part in location if part not in ("body", "query", "path", "header", "cookie")]
    return ".".join(parts) or (str(location[-1]) if location else None)


def install(app: FastAPI) -> None:
    @app.exception_handler(CrosspostError)
    async def crosspost_error(_: Request, error: CrosspostError) -> JSONResponse:
        return problem(status_of(error), str(error))

    @app.exception_handler(AdapterError)
    async def platform_error(request: Request, error: AdapterError) -> JSONResponse:
        # a platform failed or could not be reached: its fault, not the caller's and not ours
        detail = redact(str(error)) or type(error).__name__
        log.warning("a platform failed answering %s %s: %s", request.method, request.url.path, detail)
        return problem(502, detail, title="Platform error")

    @app.exception_handler(Unauthenticated)
    async def unauthenticated(_: Request, error: Unauthenticated) -> JSONResponse:
        return problem(401, str(error), headers={"WWW-Authenticate": 'Bearer realm="crosspost"'})

    @app.exception_handler(ApiProblem)
    async def api_problem(_: Request, error: ApiProblem) -> JSONResponse:
        return problem(error.status, error.detail, title=error.title, field=error.field)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_: Request, error: RequestValidationError) -> JSONResponse:
        errors = error.errors()
        first = errors[0] if errors else {}
        field = _field_of(first.get("loc", ()))
        detail = "; ".join(
            f"{_field_of(item.get('loc', ())) or 'request'}: {item.get('msg', 'invalid')}" for item in errors[:5]
        )
        return problem(422, detail or "invalid request", field=field)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, error: StarletteHTTPException) -> JSONResponse:
        return problem(error.status_code, str(error.detail), headers=getattr(error, "headers", None))

    @app.exception_handler(Exception)
    async def unexpected(request: Request, error: Exception) -> JSONResponse:
        log.exception("unexpected error answering %s %s", request.method, request.url.path)
        return problem(500, "an unexpected error; it is logged on the server")
