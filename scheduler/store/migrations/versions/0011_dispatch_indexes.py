"""publications: partial indexes for the dispatcher's periodic queries (claim, renditions, leases, lookups)

Each index holds only the rows its query may act on, and its WHERE is the query's own condition,
so a round costs what is due, not what is stored (issue 15).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

# name, indexed column or expression, WHERE with booleans as {true}/{false}: as in models.Publication
INDEXES = (
    (
        "ix_publications_dispatchable",
        sa.text("coalesce(next_attempt_at, due_at)"),
        "state IN ('scheduled', 'retry_wait') AND media_ready IS {true}",
    ),
    (
        "ix_publications_needing_media",
        "media_requested_at",
        "media_ready IS {false} AND state IN ('awaiting_signoff', 'scheduled', 'retry_wait')",
    ),
    ("ix_publications_queued_lease", "lease_until", "state = 'queued'"),
    ("ix_publications_publishing_lease", "lease_until", "state = 'publishing'"),
    ("ix_publications_unknown_next", "next_attempt_at", "state = 'unknown'"),
)


def upgrade() -> None:
    for name, column, where in INDEXES:
        op.create_index(
            name,
            "publications",
            [column],
            postgresql_where=sa.text(where.format(true="true", false="false")),
            sqlite_where=sa.text(where.format(true="1", false="0")),
        )


def downgrade() -> None:
    for name, _, _ in reversed(INDEXES):
        op.drop_index(name, table_name="publications")
