"""A Standard Webhooks receiver on loopback: verifies each signature with its own implementation
of the spec (not crosspost's), records what arrived, and can answer 500 or be down (refused)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Arrival:
    webhook_id: str
    timestamp: int
    body: dict[str, Any]
    answered: int  # the status the receiver gave


def verified(secret: str, headers: Any, body: bytes) -> bool:
    """https://www.standardwebhooks.com: the key is the base64 after "whsec_"; the signed content
    is "{webhook-id}.{webhook-timestamp}.{body}"; the header holds space-separated "v1,<base64>"."""
    key = base64.b64decode(secret.split("_", 1)[1])
    content = headers["webhook-id"].encode() + b"." + headers["webhook-timestamp"].encode() + b"." + body
    expected = base64.b64encode(hmac.new(key, content, hashlib.sha256).digest()).decode()
    offered = [part.split(",", 1) for part in headers["webhook-signature"].split(" ")]
    return any(version == "v1" and hmac.compare_digest(sig, expected) for version, sig in offered)


class Receiver:
    def __init__(self) -> None:
        self.secret = ""  # set once a subscription is made
        self.status = 200  # what it answers
        self.arrivals: list[Arrival] = []
        self.bad_signatures = 0
        self.lock = threading.Lock()
        self.server = self._serve(0)
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/hook"

    def _serve(self, port: int) -> ThreadingHTTPServer:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                with receiver.lock:
                    if not verified(receiver.secret, self.headers, body):
                        receiver.bad_signatures += 1
                        status = 400
                    else:
                        status = receiver.status
                        receiver.arrivals.append(
                            Arrival(
                                self.headers["webhook-id"],
                                int(self.headers["webhook-timestamp"]),
                                json.loads(body),
                                status,
                            )
                        )
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

        server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return server

    def down(self) -> None:
        """Nothing listens: connections are refused."""
        self.server.shutdown()
        self.server.server_close()

    def up(self) -> None:
        self.server = self._serve(self.port)

    def delivered(self) -> list[Arrival]:
        with self.lock:
            return [a for a in self.arrivals if 200 <= a.answered < 300]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
