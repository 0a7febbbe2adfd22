"""The migrations build exactly the schema the models describe, and the records that are evidence stay so."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from scheduler.store import Base, Database, SignOff
from scheduler.store.db import head_revision


# SQLite's reflection cannot read an expression index (ix_publications_dispatchable): Alembic skips
# it there, and tests/scheduler/test_query_plans.py compares it with the model's instead
@pytest.mark.filterwarnings("ignore:Skipped unsupported reflection of expression-based index")
@pytest.mark.filterwarnings("ignore:autogenerate skipping metadata-specified expression-based index")
def test_migrations_match_the_models(db: Database) -> None:
    with db.engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert differences == []


def test_the_sign_off_record_is_append_only(db: Database) -> None:
    with db.transaction() as session:
        session.add(
            SignOff(
                at=datetime(2027, 3, 1, tzinfo=UTC),
                post_id=1,
                post_version=1,
                variant="base",
                content_hash="ab" * 32,
                org="cms",
                signer="eve",
                role="editor",
                rule="r",
                kind="signed",
            )
        )
    for statement in ("UPDATE signoffs SET signer = 'mallory'", "DELETE FROM signoffs"):
        with pytest.raises(DBAPIError, match="append-only"), db.transaction() as session:
            session.execute(text(statement))
    with db.transaction() as session:
        assert session.scalar(text("SELECT signer FROM signoffs")) == "eve"


def test_the_head_read_from_the_files_is_alembics(db: Database) -> None:
    from alembic.script import ScriptDirectory

    assert head_revision() == ScriptDirectory.from_config(db.alembic_config()).get_current_head()
    assert db.at_head()  # the fixture migrated it: start-up skips Alembic
