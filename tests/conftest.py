from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from scheduler.runtime import Runtime
from scheduler.settings import Settings
from scheduler.store import Database, open_database
from scheduler.store.models import Base
from tests.fakes.sink import Sink
from tests.helpers import Run

# Every `crosspost up` a test starts serves the API: on a port the OS picks, never 8000, which a
# developer's own `crosspost up` may hold (subprocesses inherit this environment)
os.environ.setdefault("CROSSPOST_WEB_PORT", "0")

PG_ADMIN_URL = os.environ.get("CROSSPOST_TEST_PG_ADMIN", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture(autouse=True)
def _forget_remembered_secrets() -> Iterator[None]:
    """The redaction registry is per process: a secret one test stored ("password", say) must not
    mask text in the next."""
    yield
    from scheduler.redaction import forget_all

    forget_all()


@pytest.fixture
def clock() -> Clock:
    return Clock(datetime(2027, 3, 1, 9, 0, tzinfo=UTC))


def make_settings(data_dir: Path, database_url: str = "", **overrides: object) -> Settings:
    values: dict[str, object] = {
        "data_dir": data_dir,
        "database_url": database_url,
        "broker_url": None,
        "outbox_dir": None,
        "media_dir": None,
        "secret_key": "test-secret-of-at-least-32-characters",
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


@contextmanager
def throwaway_postgres(prefix: str) -> Iterator[str]:
    """A new, empty PostgreSQL database (its SQLAlchemy URL), dropped afterwards; the test is
    skipped where PostgreSQL cannot be reached."""
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # pragma: no cover - depends on the machine
        admin.dispose()
        pytest.skip(f"PostgreSQL is not reachable at {PG_ADMIN_URL}: {exc}")
    try:
        yield PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session")
def pg_server_url() -> Iterator[str]:
    """A throwaway PostgreSQL database for this test session, migrated once."""
    with throwaway_postgres("crosspost_test") as url:
        open_database(url).dispose()
        yield url


def _truncate(url: str) -> None:
    """Every table of the models emptied, identities restarted: the list comes from the metadata, so
    a new table is never forgotten. TRUNCATE fires no row trigger, so the append-only events and
    signoffs are emptied too."""
    tables = ", ".join(f'"{table.name}"' for table in Base.metadata.sorted_tables)
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    engine.dispose()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file, made once: each test starts from a copy instead of migrating anew."""
    path = tmp_path_factory.mktemp("template") / "crosspost.db"
    open_database(f"sqlite:///{path}").dispose()
    return path


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        template: Path = request.getfixturevalue("sqlite_template")
        shutil.copyfile(template, tmp_path / "crosspost.db")
        return f"sqlite:///{tmp_path / 'crosspost.db'}"
    url: str = request.getfixturevalue("pg_server_url")
    _truncate(url)
    return url


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return make_settings(tmp_path / "data", database_url, publish_lease=30.0, retry_base=10.0)


@pytest.fixture
def db(settings: Settings) -> Iterator[Database]:
    database = open_database(settings.database_url)
    yield database
    database.dispose()


@pytest.fixture
def runtime(settings: Settings, db: Database, clock: Clock) -> Runtime:
    return Runtime(settings=settings, db=db, clock=clock)


@pytest.fixture
def sink() -> Iterator[Sink]:
    with Sink() as running:
        yield running


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Run:
    """The `crosspost` command's own entry point, in this process, on a fresh data directory
    (tests/test_cli.py runs it as a real process; dozens of invocations would spend minutes importing)."""
    from scheduler.cli import main

    monkeypatch.setenv("CROSSPOST_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("CROSSPOST_SECRET_KEY", "cli-test-secret-of-at-least-32-characters")
    for name in ("CROSSPOST_BROKER_URL", "CROSSPOST_DATABASE_URL", "CROSSPOST_USER"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)

    def crosspost(*args: str, **extra_env: str) -> subprocess.CompletedProcess[str]:
        capsys.readouterr()
        with monkeypatch.context() as scoped:
            for name, value in extra_env.items():
                scoped.setenv(name, value)
            try:
                main(list(args))
                code = 0
            except SystemExit as exited:
                code = exited.code if isinstance(exited.code, int) else 1
        captured = capsys.readouterr()
        return subprocess.CompletedProcess(["crosspost", *args], code, captured.out, captured.err)

    return crosspost
