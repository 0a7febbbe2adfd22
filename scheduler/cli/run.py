"""Running crosspost: `up`, `web`, `worker`, `dispatcher`, `demo`, `db upgrade`, `config`."""

from __future__ import annotations

import logging
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from scheduler.cli._output import print_json, print_table
from scheduler.errors import ConfigurationError

if TYPE_CHECKING:
    from scheduler.settings import Settings


db_app = typer.Typer(help="Database maintenance.", no_args_is_help=True)


def _logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )


def _stop_on_signals() -> threading.Event:
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    return stop


@db_app.command("upgrade")
def upgrade() -> None:
    """Apply pending migrations (also done automatically on start)."""
    from scheduler.runtime import build_runtime
    from scheduler.runtime import upgrade as upgrade_database

    runtime = build_runtime(migrate=False)
    upgrade_database(runtime.db, runtime.settings)
    print(f"database at {runtime.settings.masked()['database_url']} is up to date")


def config(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Print the effective settings, secrets masked."""
    from scheduler.settings import LINKEDIN_VERSION_LAG, Settings

    settings = Settings()
    shown = settings.masked()
    if as_json:
        print_json(shown)
        return
    if "linkedin_version" not in settings.model_fields_set:
        shown["linkedin_version"] += (
            f" (default: {LINKEDIN_VERSION_LAG} months before this month; CROSSPOST_LINKEDIN_VERSION pins one)"
        )
    print_table(["setting", "value"], sorted(shown.items()))


def up(verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False) -> None:
    """Run the dispatcher, a worker and the HTTP API in this process (embedded mode: no broker needed)."""
    from scheduler.publishing.embedded import run_embedded
    from scheduler.runtime import build_runtime

    _logging(verbose)
    runtime = build_runtime()
    if runtime.settings.broker_url:
        logging.getLogger("crosspost").info(
            "CROSSPOST_BROKER_URL is set; `up` still runs everything in this process. "
            "For several hosts run `crosspost dispatcher` and `crosspost worker` instead."
        )
    logging.getLogger("crosspost").info(
        "crosspost up: database %s, outbox %s", runtime.settings.masked()["database_url"], runtime.settings.outbox
    )
    if runtime.settings.media_listen:
        _serve_media(runtime.settings)
        logging.getLogger("crosspost").info(
            "serving the media store on %s (public as %s)",
            runtime.settings.media_listen,
            runtime.settings.public_base_url,
        )
    from scheduler.api.server import ApiThread, bind

    # bound before anything runs: a port taken stops `up` with one line, not a half-started process
    api = ApiThread(runtime, bind(runtime.settings.web_host, runtime.settings.web_port))
    stop = _stop_on_signals()
    api.start()
    try:
        run_embedded(runtime, stop)
    finally:
        api.stop()


def web(
    host: Annotated[str | None, typer.Option(help="Listen on this address (default: CROSSPOST_WEB_HOST)")] = None,
    port: Annotated[int | None, typer.Option(help="Listen on this port (default: CROSSPOST_WEB_PORT)")] = None,
    workers: Annotated[int, typer.Option(min=1, max=64, help="Processes accepting requests")] = 1,
    verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
) -> None:
    """Serve only the HTTP API (no dispatcher), against the configured database: for more API capacity."""
    from scheduler.api.server import ApiThread, bind, serve_workers
    from scheduler.runtime import build_runtime

    _logging(verbose)
    runtime = build_runtime()  # migrated (and the settings checked) before any worker process starts
    listener = bind(
        host if host is not None else runtime.settings.web_host,
        port if port is not None else runtime.settings.web_port,
        port_from="--port" if port is not None else "CROSSPOST_WEB_PORT",
        host_from="--host" if host is not None else "CROSSPOST_WEB_HOST",
    )
    logging.getLogger("crosspost").info("crosspost web: database %s", runtime.settings.masked()["database_url"])
    if workers > 1:
        serve_workers(listener, workers)
        return
    stop = _stop_on_signals()
    api = ApiThread(runtime, listener).start()
    while not stop.wait(0.5) and api.thread.is_alive():
        pass
    api.stop()


def _serve_media(settings: Settings) -> None:
    """Start the media server, or say in one line why it cannot listen (a port taken, a bad address)."""
    from scheduler.media_server import serve

    listen = settings.media_listen or ""
    host, _, port = listen.rpartition(":")
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise ConfigurationError(f"CROSSPOST_MEDIA_LISTEN={listen!r}: give HOST:PORT with a port from 1 to 65535")
    try:
        serve(settings.media_store, listen)
    except OSError as error:  # the port is taken, the address is not this machine's, no permission
        reason = error.strerror or str(error)
        raise ConfigurationError(
            f"cannot serve the media store on {host or '127.0.0.1'}:{port}: {reason}; "
            "stop what uses it or set CROSSPOST_MEDIA_LISTEN to another address"
        ) from None


def _require_broker() -> Settings:
    from scheduler.settings import Settings

    settings = Settings()
    if not settings.broker_url:
        raise ConfigurationError(
            "no broker configured: set CROSSPOST_BROKER_URL=redis://host:6379/0, or run `crosspost up` "
            "to run everything in one process without a broker"
        )
    return settings


def dispatcher(verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False) -> None:
    """Claim due publications and send them to the workers through the broker (any number may run)."""
    from scheduler.runtime import build_runtime

    _require_broker()
    _logging(verbose)
    from scheduler.notify.outbound import run_outbound
    from scheduler.publishing import tasks
    from scheduler.publishing.dispatch import run_dispatcher

    runtime = build_runtime()
    run_dispatcher(
        runtime.db,
        tasks.send_publish,
        tasks.send_reconcile,
        tasks.send_render,
        settings=runtime.settings,
        clock=runtime.clock,
        stop=_stop_on_signals(),
        outbound=lambda now: run_outbound(runtime, now),
    )


def worker(
    concurrency: Annotated[int, typer.Option("--concurrency", "-c")] = 2,
    pool: Annotated[str, typer.Option(help="prefork, threads or solo")] = "prefork",
    loglevel: Annotated[str, typer.Option()] = "INFO",
) -> None:
    """Run a Celery worker that publishes what the dispatchers send, restarting it if it dies."""
    from scheduler.runtime import build_runtime

    settings = _require_broker()
    build_runtime(settings)  # migrate before any worker process starts
    command = [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "scheduler.publishing.celery_app",
        "worker",
        f"--concurrency={concurrency}",
        f"--pool={pool}",
        f"--loglevel={loglevel}",
        f"--queues={settings.publish_queue},{settings.media_queue}",
        "--without-gossip",
        "--without-mingle",
    ]
    raise typer.Exit(supervise(command))


def supervise(command: list[str], *, restart_delay: float = 2.0) -> int:
    """Run ``command`` and start it again whenever it exits on its own with an error.

    Celery workers on Redis can die on a broker reconnect (celery#8030, kombu#1552): nothing is
    lost, since every publication waits in the database, but nothing would publish either.
    SIGTERM and SIGINT are passed on, and end the loop.
    """
    log = logging.getLogger("crosspost.worker")
    stopping = threading.Event()
    child: subprocess.Popen[bytes] | None = None

    def forward(signum: int, _frame: object) -> None:
        stopping.set()
        if child is not None and child.poll() is None:
            child.send_signal(signum)

    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, forward)
    while True:
        child = subprocess.Popen(command)
        code = child.wait()
        if stopping.is_set() or code == 0:
            return code
        log.error("the Celery worker exited unexpectedly (code %s); starting it again in %.0f s", code, restart_delay)
        if stopping.wait(restart_delay):
            return code


def demo(
    directory: Annotated[Path, typer.Option(help="Where the demo keeps its database and outbox")] = Path("var/demo"),
    timeout: Annotated[float, typer.Option(help="Give up after this many seconds")] = 60.0,
) -> None:
    """Run the whole pipeline once on a fresh embedded install with four dry-run channels."""
    from scheduler.demo import run_demo

    raise typer.Exit(run_demo(directory, timeout=timeout))
