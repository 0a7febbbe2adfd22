"""The package as a user installs it: the wheel, without the test extras, in a fresh virtual environment.

The suite itself runs in .venv, where the test extras bring modules the package never declared
(kombu's Redis transport imported `packaging`, which only `celery[redis]` brings, and nothing
noticed). Here the wheel is built from exactly the files the Dockerfile copies, installed with the
extras the Dockerfile names into a virtual environment with nothing else in it (no pip, no
setuptools, as Python 3.12+ makes them), and the scale-out path runs for real from it:
`crosspost db upgrade`, `crosspost dispatcher` and `crosspost worker` on Redis and a throwaway
PostgreSQL database, publishing one post to a loopback webhook receiver, exactly once. `crosspost
demo` runs from it too. One environment is built per test session; pip's cache makes it quick
(`pytest -m packaging` runs these checks alone).
"""

from __future__ import annotations

import ast
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import tomllib
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from importlib.metadata import packages_distributions
from pathlib import Path
from typing import IO, Any

import pytest
from sqlalchemy import make_url

from tests.conftest import throwaway_postgres
from tests.fakes.sink import Sink

# one xdist worker takes all of them: the installed wheel is built once per worker that needs it
pytestmark = [pytest.mark.packaging, pytest.mark.xdist_group("packaging")]

ROOT = Path(__file__).resolve().parents[1]
# The extras a deployment installs, here and in the Dockerfile (checked against each other below):
# `postgres` for the database several hosts share. Never `test`: that is what hid the missing module.
INSTALL_EXTRAS = ("postgres",)


def dockerfile() -> tuple[list[str], tuple[str, ...]]:
    """What the Dockerfile copies into the image, and the extras its `pip install .[...]` names."""
    lines = (ROOT / "Dockerfile").read_text().splitlines()
    sources = [name for line in lines if line.startswith("COPY ") for name in line.split()[1:-1]]
    installs = re.findall(r"pip install\b[^\n]*?['\"]?\.\[([^\]]*)\]", "\n".join(lines))
    assert len(installs) == 1, f"expected one `pip install '.[extras]'` in the Dockerfile, found {installs}"
    return sources, tuple(sorted(extra.strip() for extra in installs[0].split(",")))


def pyproject() -> dict[str, Any]:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def requirement_name(requirement: str) -> tuple[str, set[str]]:
    """``"celery[redis]>=5.7,<6"`` -> ``("celery", {"redis"})`` (names normalized as PEP 503 does)."""
    match = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[([^\]]*)\])?", requirement)
    assert match, requirement
    extras = {extra.strip() for extra in (match[2] or "").split(",") if extra.strip()}
    return re.sub(r"[-_.]+", "-", match[1]).lower(), extras


# -- what is declared (fast: no installation) ------------------------------------------------------


def test_the_dockerfile_installs_the_extras_the_packaging_check_installs() -> None:
    sources, extras = dockerfile()
    assert extras == tuple(sorted(INSTALL_EXTRAS))
    declared = pyproject()["project"]["optional-dependencies"]
    assert set(extras) <= set(declared), f"the Dockerfile names extras pyproject.toml does not declare: {extras}"
    assert "test" not in extras
    # the image is built from these files: the wheel below is built from the same ones
    assert {"pyproject.toml", "README.md", "scheduler", "adapters", "media"} <= set(sources)


def test_celery_is_declared_with_its_redis_transport() -> None:
    """`dispatcher` and `worker` reach Redis through kombu's Redis transport, which needs the extra."""
    names = dict(requirement_name(r) for r in pyproject()["project"]["dependencies"])
    assert "redis" in names.get("celery", set()), "depend on celery[redis], not celery"


def _third_party_imports() -> dict[str, list[str]]:
    """Top-level modules imported by the package's own code, outside the standard library."""
    ours = {"scheduler", "adapters", "media"}
    found: dict[str, list[str]] = {}
    for package in sorted(ours):
        for path in sorted((ROOT / package).rglob("*.py")):
            if "migrations" in path.parts:
                continue  # Alembic's environment: alembic and sqlalchemy, declared anyway
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                if isinstance(node, ast.Import):
                    modules = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    modules = [node.module]
                else:
                    continue
                for module in modules:
                    top = module.split(".")[0]
                    if top not in sys.stdlib_module_names and top not in ours and top != "__future__":
                        found.setdefault(top, []).append(str(path.relative_to(ROOT)))
    return found


def test_every_module_the_code_imports_comes_from_a_declared_dependency() -> None:
    """A module that only arrives as some other package's dependency can go away with it."""
    declared = {requirement_name(r)[0] for r in pyproject()["project"]["dependencies"]}
    optional = {
        requirement_name(r)[0] for reqs in pyproject()["project"]["optional-dependencies"].values() for r in reqs
    }
    # pydantic's own core, whose errors pydantic's documentation has validators raise
    part_of = {"pydantic-core": "pydantic"}
    distributions = packages_distributions()
    missing = {}
    for module, where in _third_party_imports().items():
        names = {re.sub(r"[-_.]+", "-", name).lower() for name in distributions.get(module, [])}
        names |= {part_of[name] for name in names if name in part_of}
        if not names & (declared | optional):
            missing[module] = (sorted(names), where[:3])
    assert not missing, f"imported but not declared in [project] dependencies: {missing}"


# -- the installation ------------------------------------------------------------------------------


@dataclass
class Installed:
    bin: Path
    env: dict[str, str]  # this machine's environment without anything of crosspost's or the suite's

    def crosspost(self, *args: str, cwd: Path, env: dict[str, str], timeout: float = 120) -> str:
        done = subprocess.run(
            [str(self.bin / "crosspost"), *args],
            capture_output=True,
            text=True,
            cwd=cwd,
            env={**self.env, **env},
            timeout=timeout,
        )
        assert done.returncode == 0, (
            f"crosspost {' '.join(args)} failed ({done.returncode}):\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}"
        )
        return done.stdout


@pytest.fixture(scope="session")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Installed]:
    """The wheel, built from the Dockerfile's files, installed with INSTALL_EXTRAS into a bare venv
    (removed at the end: some 270 MB that pytest would otherwise keep for three sessions)."""
    base = tmp_path_factory.mktemp("packaging")
    source = base / "source"
    sources, _ = dockerfile()
    for name in sources:
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, source / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            source.mkdir(exist_ok=True)
            shutil.copy2(ROOT / name, source / name)

    def run(*command: str | Path) -> None:
        done = subprocess.run([str(part) for part in command], capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, f"{' '.join(map(str, command))}:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"

    pip = (sys.executable, "-m", "pip", "--disable-pip-version-check")
    run(*pip, "wheel", "--no-deps", "--quiet", "--wheel-dir", base / "dist", source)
    (wheel,) = (base / "dist").glob("crosspost-*.whl")
    venv = base / "venv"
    # no pip, no setuptools in it: nothing but what the wheel asks for (this pip installs into it)
    run(sys.executable, "-m", "venv", "--without-pip", venv)
    python = venv / "bin" / "python"
    run(*pip, "--python", python, "install", "--quiet", f"{wheel}[{','.join(INSTALL_EXTRAS)}]")
    run(*pip, "--python", python, "check")
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith("CROSSPOST_") and name not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")
    }
    yield Installed(bin=venv / "bin", env=env)
    shutil.rmtree(base, ignore_errors=True)


def test_the_installed_package_is_the_wheel_not_this_checkout(installed: Installed, tmp_path: Path) -> None:
    where = subprocess.run(
        [str(installed.bin / "python"), "-c", "import scheduler; print(scheduler.__file__)"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=installed.env,
        check=True,
    ).stdout
    assert where.startswith(str(installed.bin.parent)), where


def test_demo_runs_from_the_installed_package(installed: Installed, tmp_path: Path) -> None:
    # a longer wait than make demo's 60 s: this runs beside the rest of the suite on 2 cores
    shown = installed.crosspost("demo", "--timeout", "110", cwd=tmp_path, env={})
    assert "4 of 4 publications published" in shown


# -- the scale-out path: PostgreSQL, Redis, a dispatcher, a worker ---------------------------------


@pytest.fixture
def fresh_postgres() -> Iterator[str]:
    """An empty PostgreSQL database, for `crosspost db upgrade` to migrate; dropped afterwards."""
    with throwaway_postgres("crosspost_pkg") as url:
        # the URL as a user writes it (postgresql://, no driver named): the installed package picks psycopg
        yield make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


@pytest.fixture
def redis_url(tmp_path: Path) -> Iterator[str]:
    """A private redis-server when there is one (nothing shared, nothing left behind), else the suite's."""
    from tests.system.conftest import PrivateRedis

    if shutil.which("redis-server") is None:
        yield os.environ.get("CROSSPOST_TEST_REDIS_URL", "redis://127.0.0.1:6379/9")
        return
    (tmp_path / "redis").mkdir()
    server = PrivateRedis(tmp_path / "redis")
    server.start()
    yield server.url
    server.kill()


class Background:
    """Long-running crosspost commands of the installed package, each in its own process group."""

    def __init__(self, installed: Installed, cwd: Path, env: dict[str, str]) -> None:
        self.installed, self.cwd, self.env = installed, cwd, env
        self.running: list[tuple[subprocess.Popen[bytes], Path, IO[bytes]]] = []

    def start(self, *args: str) -> Path:
        log = self.cwd / f"{args[0]}.log"
        handle = log.open("wb")
        process = subprocess.Popen(
            [str(self.installed.bin / "crosspost"), *args],
            cwd=self.cwd,
            env={**self.installed.env, **self.env},
            stdout=handle,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.running.append((process, log, handle))
        return log

    def logs(self) -> str:
        return "\n".join(f"--- {log.name}\n{log.read_text(errors='replace')[-4000:]}" for _, log, _ in self.running)

    def wait_for(self, done: Callable[[], bool], what: str, timeout: float) -> None:
        """Until ``done``; fails at once when a process died or could not import what it needs."""
        deadline = time.monotonic() + timeout
        while not done():
            broken = any(
                process.poll() is not None
                or re.search(r"ModuleNotFoundError|ImportError", log.read_text(errors="replace"))
                for process, log, _ in self.running
            )
            if broken or time.monotonic() > deadline:
                raise AssertionError(
                    f"{'a process failed' if broken else 'timed out'} waiting for {what}\n{self.logs()}"
                )
            time.sleep(0.2)

    def stop(self) -> None:
        for process, _, _ in self.running:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process, _, handle in self.running:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
            handle.close()


def test_dispatcher_and_worker_publish_once_from_the_installed_package(
    installed: Installed, fresh_postgres: str, redis_url: str, tmp_path: Path
) -> None:
    env = {
        "CROSSPOST_DATA_DIR": str(tmp_path / "data"),
        "CROSSPOST_DATABASE_URL": fresh_postgres,
        "CROSSPOST_BROKER_URL": redis_url,
        "CROSSPOST_SECRET_KEY": "packaging-check-secret-of-at-least-32-characters",
        # queues of its own, should the Redis be the suite's
        "CROSSPOST_PUBLISH_QUEUE": f"publish-{uuid.uuid4().hex[:8]}",
        "CROSSPOST_MEDIA_QUEUE": f"media-{uuid.uuid4().hex[:8]}",
        "CROSSPOST_DISPATCH_INTERVAL": "0.2",
    }

    def crosspost(*args: str) -> str:
        return installed.crosspost(*args, cwd=tmp_path, env=env)

    assert "is up to date" in crosspost("db", "upgrade")
    background = Background(installed, tmp_path, env)
    with Sink() as sink:
        try:
            background.start("worker", "--concurrency", "1")
            background.start("dispatcher")
            # set up while they start: what the dispatcher sends waits in Redis for the worker
            options = [f"--option={key}={value}" for key, value in sink.options().items()]
            crosspost("channel", "add", "--platform", "webhook", "--name", "hook", *options)
            post = json.loads(
                crosspost("post", "create", "--text", "From the wheel", "--channel", "hook", "--now", "--json")
            )

            def published() -> bool:
                shown = json.loads(crosspost("post", "show", str(post["id"]), "--json"))
                return bool(shown["publications"][0]["state"] == "published")

            background.wait_for(published, "the post to be published", 120)
            time.sleep(1.0)  # room for a duplicate to arrive, were one on its way
            keys = sink.state.received_keys()
            assert len(keys) == 1, keys
            assert sink.state.received[0].body["text"] == "From the wheel"
        finally:
            background.stop()


def test_a_postgresql_url_without_the_postgres_extra_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    from scheduler.errors import ConfigurationError
    from scheduler.store import Database

    monkeypatch.setitem(sys.modules, "psycopg", None)  # as if not installed: importing it fails
    with pytest.raises(ConfigurationError, match=r"pip install 'crosspost\[postgres\]'"):
        Database("postgresql://postgres@127.0.0.1:5432/postgres")


def test_the_web_app_and_api_are_served_from_the_installed_package(installed: Installed, tmp_path: Path) -> None:
    """Templates and every static asset travel in the wheel: `crosspost web` from the plain
    install serves the sign-in page, htmx, /docs and, signed in, the demo's calendar."""
    import socket

    import httpx

    installed.crosspost("demo", "--timeout", "110", cwd=tmp_path, env={})
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    background = Background(installed, tmp_path, {"CROSSPOST_DATA_DIR": str(tmp_path / "var" / "demo")})
    base = f"http://127.0.0.1:{port}"

    def answers() -> bool:
        try:
            return httpx.get(f"{base}/signin", timeout=2).status_code == 200
        except httpx.TransportError:
            return False

    try:
        background.start("web", "--port", str(port))
        background.wait_for(answers, "crosspost web to answer", timeout=60)
        with httpx.Client(base_url=base, timeout=10) as browser:
            assert 'name="password"' in browser.get("/signin").text
            assert browser.get("/static/vendor/htmx-2.0.11.min.js").status_code == 200
            assert browser.get("/static/app.css").status_code == 200
            assert browser.get("/docs").status_code == 200
            assert browser.post("/signin", data={"name": "eve", "password": "crosspost-demo"}).status_code == 303
            assert "demo-linkedin" in browser.get("/calendar", params={"view": "list"}).text
    finally:
        background.stop()
