"""Crosspost's own public media URL: the renditions, read-only, for platforms that pull them.

TikTok photo posts are PULL_FROM_URL: TikTok fetches each image from a URL on a domain the app
verified (shared/reference/platforms.md §3). ``crosspost up`` serves the content-addressed
media store's renditions (not the originals) under ``/media/renditions/<file>`` on
``CROSSPOST_MEDIA_LISTEN``; a reverse proxy publishes it
as ``CROSSPOST_PUBLIC_BASE_URL``. Only GET and HEAD, only files inside the store, no listings:
the names are SHA-256 hashes, so nothing can be enumerated.
"""

from __future__ import annotations

import mimetypes
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

PREFIX = "/media/"
# only what was made for a channel is public; the originals people uploaded are not
SERVED = "renditions/"


def public_url(base: str, relative: str) -> str:
    """The URL a platform fetches a stored file from (the contract the TikTok adapter uses)."""
    return f"{base.rstrip('/')}{PREFIX}{relative}"


def _handler(store: Path) -> type[BaseHTTPRequestHandler]:
    root = store.resolve()

    class Handler(BaseHTTPRequestHandler):
        server_version = "crosspost-media"

        def log_message(self, *args: object) -> None:
            pass

        def do_HEAD(self) -> None:
            self._serve(body=False)

        def do_GET(self) -> None:
            self._serve(body=True)

        def _serve(self, *, body: bool) -> None:
            path = unquote(urlsplit(self.path).path)
            served = path.startswith(PREFIX + SERVED)
            target = (root / path[len(PREFIX) :]).resolve() if served else None
            if target is None or not target.is_relative_to(root) or not target.is_file():
                self.send_error(404)
                return
            data = target.read_bytes()
            self.send_response(200)
            self.send_header("Content-Type", mimetypes.guess_type(target.name)[0] or "application/octet-stream")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Cache-Control", "public, max-age=31536000, immutable")  # content-addressed
            self.end_headers()
            if body:
                self.wfile.write(data)

    return Handler


def serve(store: Path, listen: str) -> ThreadingHTTPServer:
    """Start serving in a daemon thread; returns the server (``shutdown()`` stops it)."""
    host, _, port = listen.rpartition(":")
    server = ThreadingHTTPServer((host or "127.0.0.1", int(port)), _handler(store))
    server.daemon_threads = True
    threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.2}, name="crosspost-media", daemon=True
    ).start()
    return server
