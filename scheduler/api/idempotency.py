"""``Idempotency-Key`` on every mutating request: the first answer is kept and replayed.

A client that lost the answer to ``POST /posts`` (a timeout, a dropped connection) sends the same
request with the same key and gets the same answer, never a second post. Keys belong to the
credentials that sent them (a hash of the token or session cookie), so one client cannot read
another's answers by guessing keys. A key reused with a *different* request is refused (422); a
key whose first request is still running answers 409. A 5xx answer is not kept, nor a 401, 403 or
429 (the request was not taken up): the request may be tried again with the same key. The body of
a multipart upload is not hashed (it may be a gigabyte): its method, path, length and type stand
for it. Kept answers are encrypted (one may carry a secret shown once, a new token), and replayed
only while the credentials that sent the request still count.
"""

from __future__ import annotations

import hashlib
from datetime import timedelta

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from scheduler.accounts.sessions import SESSION_COOKIE
from scheduler.accounts.tokens import digest
from scheduler.api.hygiene import read_body, replaying
from scheduler.api.problems import problem
from scheduler.credentials import fernet
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


def _session_cookie(headers: dict[bytes, bytes]) -> str | None:
    for part in headers.get(b"cookie", b"").split(b";"):
        name, _, value = part.strip().partition(b"=")
        if name == SESSION_COOKIE.encode() and value:
            return value.decode("latin-1")
    return None


def _principal_key(headers: dict[bytes, bytes]) -> str | None:
    authorization = headers.get(b"authorization", b"").decode("latin-1")
    if authorization.lower().startswith("bearer "):
        return "token:" + digest(authorization[7:].strip())[:40]
    cookie = _session_cookie(headers)
    return None if cookie is None else "session:" + digest(cookie)[:40]


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
            body = await read_body(receive, MAX_KEPT_BODY)
            if body is None:
                await problem(413, f"a request body over {MAX_KEPT_BODY} bytes; only uploads may be larger")(
                    scope, receive, send
                )
                return
            fingerprint.update(body)
            replay_receive = replaying(body, receive)
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
            refusal = await run_in_threadpool(self._still_signed_in, dict(scope["headers"]))
            if refusal is not None:  # a revoked token or an ended session gets nothing back, not even a kept answer
                await problem(401, refusal, headers={"WWW-Authenticate": 'Bearer realm="crosspost"'})(
                    scope, receive, send
                )
                return
            body = fernet(self.runtime.settings).decrypt(kept.body) if kept.body else b""
            await send(
                {
                    "type": "http.response.start",
                    "status": kept.status_code,
                    "headers": [
                        (b"content-type", (kept.content_type or "application/json").encode("latin-1")),
                        (b"content-length", str(len(body)).encode()),
                        (b"idempotent-replayed", b"true"),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": body})

    def _still_signed_in(self, headers: dict[bytes, bytes]) -> str | None:
        """Why the credentials that sent the request no longer count (None: they do)."""
        from scheduler.accounts.sessions import authenticate_session
        from scheduler.accounts.tokens import Unauthenticated, authenticate

        now = self.runtime.clock()
        authorization = headers.get(b"authorization", b"").decode("latin-1")
        try:
            if authorization.lower().startswith("bearer "):
                authenticate(self.runtime.db, authorization[7:].strip(), now=now)
            else:
                authenticate_session(self.runtime.db, self.runtime.settings, _session_cookie(headers) or "", now=now)
        except Unauthenticated as refused:
            return str(refused)
        return None

    def _keep(self, principal: str, key: str, status: int, content_type: str | None, body: bytes) -> None:
        with self.runtime.db.transaction() as session:
            kept = session.scalar(
                select(IdempotencyKey).where(IdempotencyKey.principal == principal, IdempotencyKey.key == key)
            )
            if kept is not None:  # encrypted: an answer may carry a secret shown once (a new token)
                kept.status_code, kept.content_type = status, content_type
                kept.body = fernet(self.runtime.settings).encrypt(body)

    def _release(self, principal: str, key: str) -> None:
        with self.runtime.db.transaction() as session:
            session.execute(
                delete(IdempotencyKey).where(IdempotencyKey.principal == principal, IdempotencyKey.key == key)
            )
