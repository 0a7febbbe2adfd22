"""awareness-day calendar: organisations' own observances, campaigns and the posts they made

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "custom_observances",
        sa.Column("id", sa.String(length=100), primary_key=True),
        sa.Column("org_id", sa.Integer(), sa.ForeignKey("organisations.id"), nullable=True),
        sa.Column("document", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
    )
    op.create_index("ix_custom_observances_org_id", "custom_observances", ["org_id"])
    op.create_table(
        "campaigns",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("observance_id", sa.String(length=100), nullable=False),
        sa.Column("org_id", sa.Integer(), sa.ForeignKey("organisations.id"), nullable=True),
        sa.Column("year", sa.Integer(), nullable=True),
        sa.Column("channels", sa.JSON(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=True),
        sa.Column("link", sa.Text(), nullable=True),
        sa.Column("publish_time", sa.String(length=5), nullable=False),
        sa.Column("zone", sa.String(length=64), nullable=False),
        sa.Column("lead_days", sa.Integer(), nullable=False),
        sa.Column("importance", sa.String(length=30), nullable=False),
        sa.Column("audience_zones", sa.JSON(), nullable=False),
        sa.Column("created_by", sa.String(length=100), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
    )
    op.create_index("ix_campaigns_observance_id", "campaigns", ["observance_id"])
    op.create_table(
        "campaign_posts",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("campaign_id", sa.Integer(), sa.ForeignKey("campaigns.id", ondelete="CASCADE"), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("post_id", sa.Integer(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.UniqueConstraint("campaign_id", "year"),
    )
    op.create_index("ix_campaign_posts_campaign_id", "campaign_posts", ["campaign_id"])


def downgrade() -> None:
    op.drop_table("campaign_posts")
    op.drop_table("campaigns")
    op.drop_table("custom_observances")
