"""oauth_sign_ins: a channel's sign-in by OAuth waiting for the redirect, for any API process to finish

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "oauth_sign_ins",
        sa.Column("state_hash", sa.String(length=64), nullable=False),
        sa.Column("channel_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("via", sa.String(length=100), nullable=False),
        sa.Column("org_id", sa.Integer(), nullable=True),
        sa.Column("role", sa.String(length=20), nullable=True),
        sa.Column("sealed", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["channel_id"], ["channels.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["org_id"], ["organisations.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("state_hash"),
    )
    with op.batch_alter_table("oauth_sign_ins", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_oauth_sign_ins_channel_id"), ["channel_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_oauth_sign_ins_expires_at"), ["expires_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_oauth_sign_ins_org_id"), ["org_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_oauth_sign_ins_user_id"), ["user_id"], unique=False)


def downgrade() -> None:
    op.drop_table("oauth_sign_ins")
