"""The dispatcher's periodic queries read what is due, not the whole backlog (issue 15).

A store holding tens of thousands of future publications (and a few rows each sweep must act on)
is dispatched and swept once while every statement the code issues is recorded; each statement
that reads ``publications`` is then planned again, exactly as sent, with ``EXPLAIN``. None may
plan a sequential scan of ``publications``: on PostgreSQL neither the plan made with the values
(a fresh statement) nor the generic plan a prepared statement switches to after a few runs;
on SQLite, no ``SCAN publications``.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, text
from sqlalchemy.schema import CreateIndex

from benchmarks.backlog import load_backlog
from scheduler.publishing import dispatch
from scheduler.store import Database, Publication, open_database
from tests.conftest import make_settings, throwaway_postgres

BACKLOG = 40_000
NOW = datetime(2027, 3, 1, 12, 0, tzinfo=UTC)
Recorded = list[tuple[str, Any]]


def _with_work_to_do(db: Database) -> None:
    """A few backlog rows moved to where each sweep acts on them, so every path runs its statements."""
    now = NOW.replace(tzinfo=None)
    changes = {
        "state = 'scheduled', due_at = :soon": "scheduled",  # due: claimed and sent
        "state = 'queued', lease_until = :past, dispatch_token = 'lost'": "scheduled",  # message lost
        "state = 'publishing', lease_until = :past, lease_owner = 'dead'": "scheduled",  # worker died
        "state = 'unknown', next_attempt_at = :past, unknown_since = :past": "scheduled",  # to look up
        "media_ready = :no, media_requested_at = NULL": "scheduled",  # renditions to ask for
        "due_at = :soon": "awaiting_signoff",  # its sign-off deadline passes
    }
    with db.engine.begin() as connection:
        for values, state in changes.items():
            connection.execute(
                text(
                    f"UPDATE publications SET {values} WHERE id = "
                    "(SELECT min(id) FROM publications WHERE state = :state AND media_ready = :yes "
                    "AND due_at > :later)"
                ),
                {"state": state, "soon": now + timedelta(seconds=5), "past": now - timedelta(hours=1), "no": False}
                | {"yes": True, "later": now + timedelta(days=1)},
            )
        connection.execute(text("ANALYZE"))


def _issued(db: Database, tmp_path: Path) -> Recorded:
    """Every statement one dispatch round and one sweep send that reads publications, with its values."""
    settings = make_settings(tmp_path / "data", db.url)
    recorded: Recorded = []

    def record(_conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any, many: bool) -> None:
        if "publications" in statement and not many:
            recorded.append((statement, parameters))

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        assert dispatch.dispatch_due(db, lambda *_: None, now=NOW, settings=settings) >= 2
        dispatch.sweep(db, lambda _: None, lambda _: None, now=NOW, settings=settings)
    finally:
        event.remove(db.engine, "before_cursor_execute", record)
    assert recorded
    return recorded


@pytest.fixture(scope="module")
def postgres_backlog() -> Iterator[Database]:
    with throwaway_postgres("crosspost_plans") as url:
        db = open_database(url)
        with db.engine.begin() as connection:
            load_backlog(connection, BACKLOG, now=NOW)
        _with_work_to_do(db)
        yield db
        db.dispose()


def _generic(statement: str) -> tuple[str, list[str]]:
    """The statement with $n placeholders (as PREPARE takes it) and the parameter names in order."""
    names: list[str] = []

    def number(match: re.Match[str]) -> str:
        if match.group(1) not in names:
            names.append(match.group(1))
        return f"${names.index(match.group(1)) + 1}"

    return re.sub(r"%\((\w+)\)s", number, statement).replace("%%", "%"), names


def test_no_periodic_query_scans_the_backlog_on_postgresql(postgres_backlog: Database, tmp_path: Path) -> None:
    import psycopg

    statements = _issued(postgres_backlog, tmp_path)
    plans: dict[str, str] = {}
    with postgres_backlog.engine.connect() as connection:
        raw = connection.connection.dbapi_connection
        assert isinstance(raw, psycopg.Connection)
        with raw.cursor() as cursor:
            for statement, parameters in statements:
                cursor.execute("EXPLAIN " + statement, parameters)
                plans[statement] = "\n".join(row[0] for row in cursor.fetchall())
        raw.rollback()
        # a statement run often is prepared by psycopg, and PostgreSQL may then plan it once for any values
        with psycopg.ClientCursor(raw) as cursor:
            cursor.execute("SET plan_cache_mode = force_generic_plan")
            for number, (statement, parameters) in enumerate(statements):
                if not statement.lstrip().startswith("SELECT"):
                    continue  # the writes go by primary key; their values decide nothing
                prepared, names = _generic(statement)
                cursor.execute(f"PREPARE periodic_{number} AS {prepared}")
                arguments = ", ".join(["%s"] * len(names))
                cursor.execute(f"EXPLAIN EXECUTE periodic_{number}({arguments})", [parameters[n] for n in names])
                plans["generic: " + statement] = "\n".join(row[0] for row in cursor.fetchall())
        raw.rollback()
    scanning = {statement: plan for statement, plan in plans.items() if "Seq Scan on publications" in plan}
    assert not scanning, "\n\n".join(f"{statement}\n{plan}" for statement, plan in scanning.items())
    # the claim itself goes through the index made for it, not a general one
    assert any("ix_publications_dispatchable" in plan for plan in plans.values())


def test_no_periodic_query_scans_the_backlog_on_sqlite(tmp_path: Path) -> None:
    db = open_database(f"sqlite:///{tmp_path / 'crosspost.db'}")
    try:
        with db.engine.begin() as connection:
            load_backlog(connection, BACKLOG // 4, now=NOW)
        _with_work_to_do(db)
        statements = _issued(db, tmp_path)
        with db.engine.connect() as connection:
            raw = connection.connection.dbapi_connection
            assert isinstance(raw, sqlite3.Connection)
            plans = {
                statement: "\n".join(row[-1] for row in raw.execute("EXPLAIN QUERY PLAN " + statement, parameters))
                for statement, parameters in statements
            }
    finally:
        db.dispose()
    scanning = {statement: plan for statement, plan in plans.items() if re.search(r"SCAN (TABLE )?publications", plan)}
    assert not scanning, "\n\n".join(f"{statement}\n{plan}" for statement, plan in scanning.items())
    assert any("ix_publications_dispatchable" in plan for plan in plans.values())


def test_the_migrated_sqlite_indexes_are_the_models(tmp_path: Path) -> None:
    """Alembic cannot compare an expression index on SQLite (test_store skips it): compare the DDL."""
    db = open_database(f"sqlite:///{tmp_path / 'crosspost.db'}")
    try:
        with db.engine.connect() as connection:
            migrated = dict(
                connection.execute(
                    text("SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'publications'")
                ).all()
            )
            partial = [
                index for index in Publication.__table__.indexes if index.dialect_options["sqlite"]["where"] is not None
            ]
            assert len(partial) >= 5
            for index in partial:
                expected = str(CreateIndex(index).compile(dialect=connection.dialect))
                assert " ".join(migrated[index.name].split()) == " ".join(expected.split())
    finally:
        db.dispose()
