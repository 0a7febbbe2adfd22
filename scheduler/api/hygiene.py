"""Input no database takes: a NUL character. PostgreSQL refuses it in any text value ("A string
literal cannot contain NUL"), which would surface as a 500 from whichever query first met it; it
is refused up front, for every route of the API and the web app, with a 422 naming where it was.
"""

from __future__ import annotations

from urllib.parse import unquote_to_bytes

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from scheduler.api.problems import problem

NUL_JSON = b"\\u0000"
CHECKED_BODIES = ("application/json", "application/x-www-form-urlencoded")
MAX_CHECKED_BODY = 16 * 1024 * 1024  # larger JSON or form bodies are refused by their routes' limits anyway


class NulGuard:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        where = None
        if b"\x00" in unquote_to_bytes(scope.get("raw_path") or scope["path"].encode()):
            where = "path"
        elif b"\x00" in unquote_to_bytes(scope["query_string"]):
            where = "query"
        if where is not None:
            await problem(422, f"a NUL character in the {where} is not accepted", field=where)(scope, receive, send)
            return
        content_type = dict(scope["headers"]).get(b"content-type", b"").decode("latin-1").lower()
        if not content_type.startswith(CHECKED_BODIES):
            await self.app(scope, receive, send)
            return
        body = await read_body(receive, MAX_CHECKED_BODY)
        if body is None:
            await problem(413, f"a request body over {MAX_CHECKED_BODY} bytes")(scope, receive, send)
            return
        form = content_type.startswith("application/x-www-form-urlencoded")
        if b"\x00" in body or NUL_JSON in body.lower() or (form and b"\x00" in unquote_to_bytes(body)):
            await problem(422, "a NUL character in the request body is not accepted", field="body")(
                scope, receive, send
            )
            return
        await self.app(scope, replaying(body, receive), send)


async def read_body(receive: Receive, limit: int) -> bytes | None:
    """The whole request body, or None once it passes ``limit`` bytes."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        size += len(chunks[-1])
        if size > limit:
            return None
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def replaying(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that hands the app the body already read, then the client's own messages."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()  # http.disconnect, when the client goes

    return replay
