"""Engine and sessions for SQLite (embedded, one machine) and PostgreSQL (several hosts)."""

from __future__ import annotations

import copy
import functools
import os
import re
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from scheduler.errors import ConfigurationError

_MIGRATIONS = Path(__file__).parent / "migrations"
# An execution option (SQLAlchemy passes it along to the connection): this transaction only reads.
READ_ONLY = "crosspost_read_only"


def _tune_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event issue BEGIN itself (pysqlite's own BEGIN is deferred).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        # SQLite has no row locks or SKIP LOCKED: a writer takes the write lock up front, so a claim's
        # read-then-update can never interleave with another writer's (scheduling-design §1.3).
        # A read takes none: a deferred BEGIN reads a snapshot (WAL) and never waits for a writer,
        # and query_only makes any write through it fail instead of waiting for the lock.
        reading = bool(connection.get_execution_options().get(READ_ONLY))
        if connection.info.get(READ_ONLY, False) != reading:
            connection.exec_driver_sql(f"PRAGMA query_only={'ON' if reading else 'OFF'}")
            connection.info[READ_ONLY] = reading
        connection.exec_driver_sql("BEGIN" if reading else "BEGIN IMMEDIATE")


@functools.cache
def head_revision() -> str:
    """The newest migration's id, read from the files: the one no other migration revises."""
    revisions, parents = set(), set()
    for path in (_MIGRATIONS / "versions").glob("*.py"):
        source = path.read_text()
        revision = re.search(r'^revision = "([^"]+)"', source, re.MULTILINE)
        parent = re.search(r'^down_revision = "([^"]+)"', source, re.MULTILINE)
        if revision:
            revisions.add(revision.group(1))
        if parent:
            parents.add(parent.group(1))
    [head] = revisions - parents
    return head


class Database:
    def __init__(self, url: str, *, echo: bool = False) -> None:
        parsed = make_url(url)
        self.url = url
        self.dialect = parsed.get_backend_name()
        if self.dialect == "sqlite":
            if parsed.database and parsed.database != ":memory:":
                Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
            self.engine = create_engine(url, echo=echo, connect_args={"timeout": 30})
            _tune_sqlite(self.engine)
        elif self.dialect == "postgresql":
            if parsed.drivername == "postgresql":
                parsed = parsed.set(drivername="postgresql+psycopg")
            # no pre-ping: it costs a round trip per transaction; a dropped connection fails the
            # transaction instead, the pool is invalidated, and callers retry (see publications._finish)
            try:
                self.engine = create_engine(parsed, echo=echo, pool_size=10)
            except ModuleNotFoundError as missing:
                raise ConfigurationError(
                    f"PostgreSQL needs its driver ({missing.name} is not installed): pip install 'crosspost[postgres]'"
                ) from None
        else:
            raise ConfigurationError(f"unsupported database {url!r}: use sqlite:///path or postgresql://user@host/db")
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)
        # reads: no write lock on SQLite, a READ ONLY transaction on PostgreSQL
        read_options: dict[str, Any] = {READ_ONLY: True}
        if self.dialect == "postgresql":
            read_options["postgresql_readonly"] = True
        self.read_engine = self.engine.execution_options(**read_options)
        self.read_sessions = sessionmaker(self.read_engine, expire_on_commit=False)
        # a forked child (a Celery pool process) must never use, nor close, its parent's connections
        engine = weakref.ref(self.engine)
        os.register_at_fork(after_in_child=lambda: _forget_connections(engine()))

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A session inside one transaction: committed on success, rolled back on any error."""
        with self.sessions() as session, session.begin():
            yield session

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A session that only reads, in one transaction that takes no lock: on SQLite a deferred
        BEGIN, which reads a consistent snapshot while a writer holds the write lock (WAL) and never
        waits for it; on PostgreSQL a READ ONLY transaction. A write through it fails."""
        with self.read_sessions() as session, session.begin():
            yield session

    def reader(self) -> Database:
        """This database for code that only reads: every ``transaction()`` of the copy is a ``read()``.
        For service functions that take a Database and only read (list, show, review, report)."""
        view = copy.copy(self)
        view.sessions = self.read_sessions
        return view

    @contextmanager
    def atomic_statements(self) -> Iterator[Connection]:
        """A connection for work made only of single atomic statements (the worker's hot path).

        On PostgreSQL it runs in autocommit: each statement is its own transaction, which saves
        the separate BEGIN and COMMIT round trips. On SQLite (in-process, no round trips) it is an
        ordinary BEGIN IMMEDIATE transaction.
        """
        if self.dialect == "postgresql":
            with self.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
                yield connection
        else:
            with self.engine.begin() as connection:
                yield connection

    def upgrade(self) -> None:
        """Apply every pending Alembic migration."""
        if self.at_head():
            return  # every CLI call starts here: skip importing and running Alembic when nothing is pending
        from alembic import command  # imported here: only start-up and `db upgrade` need it

        command.upgrade(self.alembic_config(), "head")

    def at_head(self) -> bool:
        try:
            with self.read_engine.connect() as connection:  # every command starts here: it must not wait for writers
                current = connection.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
        except DBAPIError:
            return False  # no table yet: a new database
        return current == [head_revision()]

    def alembic_config(self) -> Any:
        from alembic.config import Config

        config = Config()
        config.set_main_option("script_location", str(_MIGRATIONS))
        config.attributes["engine"] = self.engine
        return config

    def dispose(self) -> None:
        self.engine.dispose()


def _forget_connections(engine: Engine | None) -> None:
    if engine is not None:
        engine.dispose(close=False)


def open_database(url: str, *, migrate: bool = True) -> Database:
    database = Database(url)
    if migrate:
        database.upgrade()
    return database
