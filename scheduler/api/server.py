"""Serving the API with uvicorn: in a thread of `crosspost up`, or on its own for `crosspost web`.

The listening socket is bound here, before uvicorn starts, so that a port already taken is one
clear error naming the setting (uvicorn would log it and exit the whole process), and so that
port 0 (any free port) can be logged as the port actually taken.
"""

from __future__ import annotations

import errno
import logging
import socket
import threading
import time
from typing import TYPE_CHECKING

from scheduler.errors import ConfigurationError

if TYPE_CHECKING:
    import uvicorn
    from fastapi import FastAPI

    from scheduler.runtime import Runtime

log = logging.getLogger("crosspost.api")


def bind(
    host: str, port: int, *, port_from: str = "CROSSPOST_WEB_PORT", host_from: str = "CROSSPOST_WEB_HOST"
) -> socket.socket:
    """A listening socket on ``host:port``, or ``ConfigurationError`` in one line naming what to change."""
    if not 0 <= port < 65536:
        raise ConfigurationError(f"{port_from}={port}: give a port from 1 to 65535 (0: any free port)")
    try:
        infos = socket.getaddrinfo(host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except (OSError, UnicodeError) as error:
        raise ConfigurationError(
            f"cannot serve the API on {host}:{port}: {getattr(error, 'strerror', None) or error}; "
            f"set {host_from} to an address of this machine"
        ) from None
    family, kind, proto, _, address = infos[0]
    listener = socket.socket(family, kind, proto)
    try:
        # a restart may bind while the old process's connections linger in TIME_WAIT; a port some
        # process listens on is still refused (Linux and macOS)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(address)
        listener.listen(2048)
    except OSError as error:
        listener.close()
        if error.errno == errno.EADDRINUSE:
            advice = f"stop what uses it or set {port_from} to another port"
        elif error.errno == errno.EACCES:
            advice = f"ports below 1024 need privileges: set {port_from} to a higher one"
        else:  # the address is not this machine's
            advice = f"set {host_from} to an address of this machine"
        raise ConfigurationError(
            f"cannot serve the API on {host}:{port}: {error.strerror or error}; {advice}"
        ) from None
    listener.set_inheritable(True)  # uvicorn's worker processes (crosspost web --workers N) take it over
    return listener


def address_of(listener: socket.socket) -> str:
    host, port = listener.getsockname()[:2]
    shown = "127.0.0.1" if host in ("0.0.0.0", "") else f"[{host}]" if ":" in host else host  # noqa: S104
    return f"http://{'[::1]' if host == '::' else shown}:{port}"


def _config(app: FastAPI | str, **options: object) -> uvicorn.Config:
    import uvicorn

    # uvicorn's access log would repeat every request; crosspost's own log says what happened
    return uvicorn.Config(app, access_log=False, log_config=None, server_header=False, **options)  # type: ignore[arg-type]


class ApiThread:
    """uvicorn serving ``create_app(runtime)`` in a daemon thread of this process. The caller keeps
    the main thread and its signal handlers (uvicorn installs its own only in the main thread)."""

    def __init__(self, runtime: Runtime, listener: socket.socket) -> None:
        import uvicorn

        from scheduler.api.app import create_app

        self.listener = listener
        self.url = address_of(listener)
        self.server = uvicorn.Server(_config(create_app(runtime), lifespan="on"))
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [listener]}, name="crosspost-api", daemon=True
        )

    def start(self, timeout: float = 30.0) -> ApiThread:
        self.thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise ConfigurationError(f"the API server on {self.url} did not start (see the log above)")
            time.sleep(0.01)
        log.info("API on %s; its documentation at %s/docs", self.url, self.url)
        return self

    def stop(self) -> None:
        """Finish the requests in flight (uvicorn's graceful shutdown), then close the socket."""
        self.server.should_exit = True
        self.thread.join(timeout=15)
        self.listener.close()


def web_app() -> FastAPI:
    """The app factory each `crosspost web --workers N` process calls (uvicorn imports it by name)."""
    from scheduler.api.app import create_app
    from scheduler.runtime import build_runtime

    return create_app(build_runtime(migrate=False))


def serve_workers(listener: socket.socket, workers: int) -> None:
    """`crosspost web --workers N`: uvicorn's supervisor runs N processes, each with its own
    database connections, all accepting on ``listener``, until SIGTERM or SIGINT (its handlers)."""
    import uvicorn
    from uvicorn.supervisors import Multiprocess

    url = address_of(listener)
    config = _config("scheduler.api.server:web_app", factory=True, workers=workers, lifespan="on")
    log.info("API on %s with %d worker processes; its documentation at %s/docs", url, workers, url)
    try:
        supervisor = Multiprocess(config, sockets=[listener])
    except TypeError:  # older uvicorn also took the function each process runs
        supervisor = Multiprocess(config, target=uvicorn.Server(config).run, sockets=[listener])  # type: ignore[call-arg]
    supervisor.run()
