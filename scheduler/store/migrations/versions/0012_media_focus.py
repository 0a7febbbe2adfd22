"""post_media, campaign_media: focus_x, focus_y, the point a person chose that every crop keeps

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

TABLES = ("post_media", "campaign_media")


def upgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table) as batch_op:
            batch_op.add_column(sa.Column("focus_x", sa.Float(), nullable=True))
            batch_op.add_column(sa.Column("focus_y", sa.Float(), nullable=True))


def downgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table) as batch_op:
            batch_op.drop_column("focus_y")
            batch_op.drop_column("focus_x")
