"""Crosspost's own public media URL: the renditions, read-only, for platforms that pull them.

TikTok photo posts are PULL_FROM_URL: TikTok fetches each image from a URL on a domain the app
verified (shared/reference/platforms.md §3). ``crosspost up`` serves the content-addressed
media store's renditions (not the originals) under ``/media/renditions/<file>`` on
``CROSSPOST_MEDIA_LISTEN``; a reverse proxy publishes it
as ``CROSSPOST_PUBLIC_BASE_URL``. Only GET and HEAD, only files inside the renditions folder (the
path is decoded and resolved first, ``..`` and symbolic links included, then checked), no listings:
the names are SHA-256 hashes, so nothing can be enumerated. A malformed path is answered 400, any
other miss 404; nothing a client sends raises in the server.
"""

from __future__ import annotations

import contextlib
import logging
import mimetypes
import os
import shutil
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

log = logging.getLogger("crosspost.media_server")

PREFIX = "/media/"
# only what was made for a channel is public; the originals people uploaded are not
SERVED = "renditions"


def public_url(base: str, relative: str) -> str:
    """The URL a platform fetches a stored file from (the contract the TikTok adapter uses)."""
    return f"{base.rstrip('/')}{PREFIX}{relative}"


def _handler(store: Path) -> type[BaseHTTPRequestHandler]:
    root = store.resolve()
    served = (root / SERVED).resolve()

    class Handler(BaseHTTPRequestHandler):
        server_version = "crosspost-media"

        def log_message(self, *args: object) -> None:
            pass

        def do_HEAD(self) -> None:
            self._answer(body=False)

        def do_GET(self) -> None:
            self._answer(body=True)

        def _answer(self, *, body: bool) -> None:
            try:
                status, target = _target(root, served, self.path)
                if target is None:
                    self.send_error(status)
                    return
                self._send(target, body=body)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client went away
            except Exception:  # never an exception in the server thread: the request fails, the server stays
                log.exception("media server: %s failed", _printable(self.path))
                with contextlib.suppress(Exception):
                    self.send_error(500)

        def _send(self, target: Path, *, body: bool) -> None:
            with target.open("rb") as data:
                size = os.fstat(data.fileno()).st_size
                self.send_response(200)
                self.send_header("Content-Type", mimetypes.guess_type(target.name)[0] or "application/octet-stream")
                self.send_header("Content-Length", str(size))
                self.send_header("Cache-Control", "public, max-age=31536000, immutable")  # content-addressed
                self.send_header("X-Content-Type-Options", "nosniff")
                self.end_headers()
                if body:
                    shutil.copyfileobj(data, self.wfile, 256 * 1024)

    return Handler


def _target(root: Path, served: Path, raw: str) -> tuple[int, Path | None]:
    """The file a request path names, or the status to answer: the path is decoded and resolved
    first (``..``, symbolic links), and only then checked to lie inside the renditions folder."""
    try:
        path = unquote(urlsplit(raw).path, errors="strict")
    except (UnicodeDecodeError, ValueError):
        return 400, None
    if not path.isprintable() or "\\" in path:  # NUL and other control characters, Windows separators
        return 400, None
    if not path.startswith(PREFIX):
        return 404, None
    try:
        target = (root / path[len(PREFIX) :]).resolve()
        found = target != served and target.is_relative_to(served) and target.is_file()
    except (OSError, RuntimeError, ValueError):  # a symbolic link loop, a name too long
        return 404, None
    return (200, target) if found else (404, None)


def _printable(path: str) -> str:
    return path.encode("unicode_escape").decode()[:200]


def serve(store: Path, listen: str) -> ThreadingHTTPServer:
    """Start serving in a daemon thread; returns the server (``shutdown()`` stops it)."""
    host, _, port = listen.rpartition(":")
    server = ThreadingHTTPServer((host or "127.0.0.1", int(port)), _handler(store))
    server.daemon_threads = True
    threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.2}, name="crosspost-media", daemon=True
    ).start()
    return server
