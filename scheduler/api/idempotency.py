"""``Idempotency-Key`` on every mutating request: the first answer is kept and replayed.

A client that lost the answer to ``POST /posts`` (a timeout, a dropped connection) sends the same
request with the same key and gets the same answer, never a second post. Keys belong to the
credentials that sent them (a hash of the token or session cookie), so one client cannot read
another's answers by guessing keys. A key reused with a *different* request is refused (422); a
key whose first request is still running answers 409. A 5xx answer is not kept, nor a 401, 403 or
429 (the request was not taken up): the request may be tried again with the same key. The body of a multipart upload is not hashed (it may be a gigabyte): its method,
path, length and type stand for it.
"""

from __future__ import annotations

import hashlib
from datetime import timedelta

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from scheduler.accounts.tokens import digest
from scheduler.api.problems import problem
from scheduler.runtime import Runtime
from scheduler.store import IdempotencyKey

HEADER = b"idempotency-key"
MUTATING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
MAX_KEY = 255
MAX_KEPT_BODY = 1024 * 1024  # a larger answer is not kept; its key is released
# answers to a request that was never taken up (not signed in, no CSRF token, throttled): the
# same key may be sent again once that is put right
NOT_KEPT = frozenset({401, 403, 429})
KEEP_FOR = timedelta(hours=24)  # what Stripe and the IETF draft suggest; older keys are swept
SESSION_COOKIE = b"crosspost_session"


def _principal_key(headers: dict[bytes, bytes]) -> str | None:
    authorization = headers.get(b"authorization", b"").decode("latin-1")
    if authorization.lower().startswith("bearer "):
        return "token:" + digest(authorization[7:].strip())[:40]
    for part in headers.get(b"cookie", b"").split(b";"):
        name, _, value = part.strip().partition(b"=")
        if name == SESSION_COOKIE and value:
            return "session:" + digest(value.decode("latin-1"))[:40]
    return None


class IdempotencyMiddleware:
    def __init__(self, app: ASGIApp, *, runtime: Runtime, prefix: str) -> None:
        self.app = app
        self.runtime = runtime
        self.prefix = prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in MUTATING or not scope["path"].startswith(self.prefix):
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        raw_key = headers.get(HEADER)
        principal = _principal_key(headers)
        if raw_key is None or principal is None:  # no key: not idempotent; no credentials: 401 follows
            await self.app(scope, receive, send)
            return
        try:
            key = raw_key.decode("ascii").strip()
        except UnicodeDecodeError:
            key = ""
        if not key or len(key) > MAX_KEY or not key.isprintable():
            await problem(
                422, f"Idempotency-Key must be 1 to {MAX_KEY} printable ASCII characters", field="Idempotency-Key"
            )(scope, receive, send)
            return
        content_type = headers.get(b"content-type", b"").decode("latin-1")
        fingerprint = hashlib.sha256(f"{scope['method']} {scope['path']}?{scope['query_string'].hex()}\n".encode())
        replay_receive = receive
        if content_type.startswith("multipart/"):
            fingerprint.update(headers.get(b"content-length", b"-") + b" " + content_type.encode())
        else:
            body = await _read_body(receive, MAX_KEPT_BODY)
            if body is None:
                await problem(413, f"a request body over {MAX_KEPT_BODY} bytes; only uploads may be larger")(
                    scope, receive, send
                )
                return
            fingerprint.update(body)
            replay_receive = _replaying(body, receive)
        request_hash = fingerprint.hexdigest()
        claimed, kept = await run_in_threadpool(self._claim, principal, key, request_hash)
        if not claimed:
            await self._answer_kept(kept, request_hash, scope, receive, send)
            return
        # the answer is held until it is kept: a client that repeats the request as soon as it has
        # the first answer must find it kept, not "still being answered"
        held: list[Message] = []
        size = 0
        streaming = False
        done = False

        async def holding_send(message: Message) -> None:
            nonlocal size, streaming, done
            if streaming:
                await send(message)
                return
            held.append(message)
            if message["type"] != "http.response.body":
                return
            size += len(message.get("body", b""))
            if size > MAX_KEPT_BODY:  # too large to keep: let it through and release the key
                streaming = True
                await run_in_threadpool(self._release, principal, key)
                for message_held in held:
                    await send(message_held)
                return
            if not message.get("more_body", False):
                start = held[0]
                body = b"".join(m.get("body", b"") for m in held if m["type"] == "http.response.body")
                kind = next(
                    (v.decode("latin-1") for n, v in start.get("headers", []) if n.lower() == b"content-type"), None
                )
                if start["status"] < 500 and start["status"] not in NOT_KEPT:
                    await run_in_threadpool(self._keep, principal, key, start["status"], kind, body)
                else:
                    await run_in_threadpool(self._release, principal, key)
                done = True
                for message_held in held:
                    await send(message_held)

        try:
            await self.app(scope, replay_receive, holding_send)
        finally:
            if not done and not streaming:  # the app failed before it answered
                await run_in_threadpool(self._release, principal, key)

    def _claim(self, principal: str, key: str, request_hash: str) -> tuple[bool, IdempotencyKey | None]:
        now = self.runtime.clock()
        try:
            with self.runtime.db.transaction() as session:
                session.execute(delete(IdempotencyKey).where(IdempotencyKey.created_at < now - KEEP_FOR))
                session.add(IdempotencyKey(principal=principal, key=key, request_hash=request_hash, created_at=now))
            return True, None
        except IntegrityError:
            with self.runtime.db.read() as session:
                kept = session.scalar(
                    select(IdempotencyKey).where(IdempotencyKey.principal == principal, IdempotencyKey.key == key)
                )
                if kept is not None:
                    session.expunge(kept)
                return False, kept

    async def _answer_kept(
        self, kept: IdempotencyKey | None, request_hash: str, scope: Scope, receive: Receive, send: Send
    ) -> None:
        if kept is None:  # released between our insert and our read: the first request failed
            await problem(409, "the first request with this Idempotency-Key failed; send it again")(
                scope, receive, send
            )
        elif kept.request_hash != request_hash:
            await problem(
                422,
                "this Idempotency-Key was used for a different request; use a new key for a new request",
                field="Idempotency-Key",
            )(scope, receive, send)
        elif kept.status_code is None:
            await problem(409, "a request with this Idempotency-Key is still being answered; try again shortly")(
                scope, receive, send
            )
        else:
            await send(
                {
                    "type": "http.response.start",
                    "status": kept.status_code,
                    "headers": [
                        (b"content-type", (kept.content_type or "application/json").encode("latin-1")),
                        (b"content-length", str(len(kept.body or b"")).encode()),
                        (b"idempotent-replayed", b"true"),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": kept.body or b""})

    def _keep(self, principal: str, key: str, status: int, content_type: str | None, body: bytes) -> None:
        with self.runtime.db.transaction() as session:
            kept = session.scalar(
                select(IdempotencyKey).where(IdempotencyKey.principal == principal, IdempotencyKey.key == key)
            )
            if kept is not None:
                kept.status_code, kept.content_type, kept.body = status, content_type, body

    def _release(self, principal: str, key: str) -> None:
        with self.runtime.db.transaction() as session:
            session.execute(
                delete(IdempotencyKey).where(IdempotencyKey.principal == principal, IdempotencyKey.key == key)
            )


async def _read_body(receive: Receive, limit: int) -> bytes | None:
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


def _replaying(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()  # http.disconnect, when the client goes

    return replay
