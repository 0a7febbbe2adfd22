"""A loopback HTTP receiver for webhook channels, real HTTP on 127.0.0.1.

It records every POST by its Idempotency-Key (so tests can count duplicates exactly), answers
``GET /lookup?idempotency_key=K`` the way the webhook adapter's reconciliation expects, and can
be told to fail (status plus headers), to hold requests until released, or to drop the connection
after reading the request. Runs in-process (``Sink``) or as its own process (``python -m
tests.fakes.sink PORT``) so that a test can kill the workers without killing the receiver.
"""

from __future__ import annotations

import contextlib
import json
import socket
import sys
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse


@dataclass
class Received:
    key: str
    body: dict[str, Any]
    at: float


@dataclass
class SinkState:
    received: list[Received] = field(default_factory=list)
    # next responses to give, as (status, headers, body); empty means 200
    script: list[tuple[int, dict[str, str], str]] = field(default_factory=list)
    hold: threading.Event | None = None  # when set, POSTs wait on it before answering
    hold_next: int | None = None  # with hold: only this many POSTs are held, later ones pass
    holding: threading.Event = field(default_factory=threading.Event)  # set while a POST is held
    # A held POST counts as landed (True), or never lands, as if the platform dropped it (False).
    record_on_hold: bool = True
    drop_connection: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock)

    def received_keys(self) -> list[str]:
        with self.lock:
            return [item.key for item in self.received]


class _Handler(BaseHTTPRequestHandler):
    state: SinkState
    protocol_version = "HTTP/1.1"  # keep-alive, as real platforms allow

    def setup(self) -> None:
        super().setup()
        # headers and body go out in two writes; without this, delayed ACKs stall each reply ~40 ms
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, *_: Any) -> None:
        pass

    def _answer(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        payload = body if isinstance(body, str) else json.dumps(body)
        data = payload.encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        # the client may have been killed while we held its request: that is what such a test is about
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            self.wfile.write(data)

    def do_GET(self) -> None:
        url = urlparse(self.path)
        if url.path == "/lookup":
            key = parse_qs(url.query).get("idempotency_key", [""])[0]
            if key in self.state.received_keys():
                self._answer(200, {"id": f"sink-{key}", "url": f"http://sink/{key}"})
            else:
                self._answer(404, {"error": "not found"})
        elif url.path == "/count":
            with self.state.lock:
                count = len(self.state.received)
            self._answer(200, {"count": count})
        elif url.path == "/stats":
            keys = self.state.received_keys()
            with self.state.lock:
                times = {item.key: item.at for item in self.state.received}
            self._answer(200, {"count": len(keys), "unique": len(set(keys)), "keys": keys, "times": times})
        else:
            self._answer(404, {"error": "no such path"})

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        body = json.loads(self.rfile.read(length) or b"{}")
        key = self.headers.get("Idempotency-Key", "")
        state = self.state
        with state.lock:
            scripted = state.script.pop(0) if state.script else None
        if state.drop_connection:
            self.close_connection = True
            self.connection.close()
            return
        if scripted is not None and scripted[0] >= 400:
            self._answer(scripted[0], scripted[2] or {"error": "scripted"}, scripted[1])
            return
        with state.lock:
            held = state.hold is not None and (state.hold_next is None or state.hold_next > 0)
            if held and state.hold_next is not None:
                state.hold_next -= 1
        if held:
            assert state.hold is not None
            if state.record_on_hold:
                self._record(key, body)
            state.holding.set()
            state.hold.wait()
            if not state.record_on_hold:
                self.close_connection = True
                return
        else:
            self._record(key, body)
        self._answer(200, {"id": f"sink-{key}", "url": f"http://sink/{key}"})

    def _record(self, key: str, body: dict[str, Any]) -> None:
        with self.state.lock:
            self.state.received.append(Received(key, body, time.time()))


class Sink:
    def __init__(self, port: int = 0) -> None:
        self.state = SinkState()
        handler = type("Handler", (_Handler,), {"state": self.state})
        self.server = ThreadingHTTPServer(("127.0.0.1", port), handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> Sink:
        self.thread.start()
        return self

    def __exit__(self, *_: Any) -> None:
        if self.state.hold is not None:
            self.state.hold.set()
        self.server.shutdown()
        self.server.server_close()

    def options(self) -> dict[str, str]:
        return {"url": f"{self.url}/post", "lookup_url": f"{self.url}/lookup"}


if __name__ == "__main__":
    with Sink(int(sys.argv[1])) as sink:
        if len(sys.argv) > 2 and sys.argv[2] == "hold":
            sink.state.hold = threading.Event()
        print(sink.url, flush=True)
        threading.Event().wait()
