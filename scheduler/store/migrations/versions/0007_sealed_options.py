"""channels.secret_options: options that are secrets (a webhook's URL), encrypted like credentials

The URLs already stored in ``channels.options`` are moved here, encrypted, when crosspost next
starts (``scheduler.credentials.seal_plain_options``): a migration does not hold the secret key.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-10
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("channels") as batch_op:
        batch_op.add_column(sa.Column("secret_options", sa.LargeBinary(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("channels") as batch_op:
        batch_op.drop_column("secret_options")
