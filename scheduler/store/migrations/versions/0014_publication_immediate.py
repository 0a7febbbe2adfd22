"""publications.immediate: published as soon as it is signed off (no sign-off deadline)

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


# not in batch mode: SQLite would rebuild the table, and its reflection cannot carry the
# expression index of the claim (ix_publications_dispatchable) across


def upgrade() -> None:
    op.add_column("publications", sa.Column("immediate", sa.Boolean(), nullable=False, server_default=sa.false()))


def downgrade() -> None:
    op.drop_column("publications", "immediate")
