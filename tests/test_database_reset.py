"""The PostgreSQL test database is emptied between tests: every table of the schema (a table added
later too), the append-only ones included, with identities restarted."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import create_engine, inspect, text

from scheduler.editorial import people
from scheduler.store import open_database
from tests.conftest import _truncate

NOW = datetime(2031, 3, 4, tzinfo=UTC)


def test_every_table_is_emptied_and_identities_restart(pg_server_url: str) -> None:
    db = open_database(pg_server_url)
    try:
        people.add_org(db, name="collab", now=NOW)  # an organisation and its event (append-only)
        with db.transaction() as session:
            session.execute(text("INSERT INTO cursors (name, event_id, updated_at) VALUES ('reset', 1, now())"))
            session.execute(
                text(
                    "INSERT INTO idempotency_keys (principal, key, request_hash, created_at)"
                    " VALUES ('token:1', 'k', 'h', now())"
                )
            )
    finally:
        db.dispose()

    _truncate(pg_server_url)

    engine = create_engine(pg_server_url)
    try:
        tables = set(inspect(engine).get_table_names()) - {"alembic_version"}
        with engine.connect() as conn:
            filled = {name for name in tables if conn.scalar(text(f'SELECT count(*) FROM "{name}"'))}
    finally:
        engine.dispose()
    assert {"cursors", "idempotency_keys", "events", "organisations"} <= tables
    assert filled == set()
    db = open_database(pg_server_url)
    try:
        assert people.add_org(db, name="again", now=NOW).id == 1
    finally:
        db.dispose()
        _truncate(pg_server_url)
