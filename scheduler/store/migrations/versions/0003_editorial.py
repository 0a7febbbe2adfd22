"""editorial workflow: organisations, people, sign-offs, variants, shares, posting schedules

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_APPEND_ONLY = "signoffs"


def upgrade() -> None:
    op.create_table(
        "organisations",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(length=100), nullable=False, unique=True),
        sa.Column("display_name", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("policy", sa.JSON(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
    )
    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(length=100), nullable=False, unique=True),
        sa.Column("display_name", sa.String(length=200), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=True),
        sa.Column("password_hash", sa.String(length=200), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
    )
    op.create_table(
        "memberships",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
        sa.Column("org_id", sa.Integer(), sa.ForeignKey("organisations.id", ondelete="CASCADE"), nullable=False),
        sa.Column("role", sa.String(length=20), nullable=False),
        sa.UniqueConstraint("user_id", "org_id"),
    )
    op.create_index("ix_memberships_user_id", "memberships", ["user_id"])
    op.create_index("ix_memberships_org_id", "memberships", ["org_id"])
    with op.batch_alter_table("channels") as batch_op:
        batch_op.add_column(sa.Column("org_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key("fk_channels_org_id", "organisations", ["org_id"], ["id"])
        batch_op.create_index("ix_channels_org_id", ["org_id"])
    with op.batch_alter_table("posts") as batch_op:
        batch_op.add_column(sa.Column("org_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("importance", sa.String(length=30), nullable=False, server_default="routine"))
        batch_op.add_column(sa.Column("format", sa.String(length=30), nullable=False, server_default="social"))
        batch_op.add_column(sa.Column("priority", sa.String(length=10), nullable=False, server_default="normal"))
        batch_op.add_column(sa.Column("review", sa.String(length=20), nullable=False, server_default="approved"))
        batch_op.add_column(sa.Column("share_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key("fk_posts_org_id", "organisations", ["org_id"], ["id"])
        batch_op.create_index("ix_posts_org_id", ["org_id"])
    op.create_table(
        "post_variants",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("post_id", sa.Integer(), sa.ForeignKey("posts.id", ondelete="CASCADE"), nullable=False),
        sa.Column("language", sa.String(length=16), nullable=True),
        sa.Column("channel_id", sa.Integer(), sa.ForeignKey("channels.id"), nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=True),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.UniqueConstraint("post_id", "language", "channel_id"),
    )
    op.create_index("ix_post_variants_post_id", "post_variants", ["post_id"])
    with op.batch_alter_table("publications") as batch_op:
        batch_op.add_column(sa.Column("variant_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("from_queue", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column("queued_at", sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column("deadline_warned", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.create_foreign_key(
            "fk_publications_variant_id", "post_variants", ["variant_id"], ["id"], ondelete="SET NULL"
        )
    op.create_table(
        "signoffs",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("post_id", sa.Integer(), nullable=False),
        sa.Column("post_version", sa.Integer(), nullable=False),
        sa.Column("variant", sa.String(length=120), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("org", sa.String(length=100), nullable=False),
        sa.Column("signer", sa.String(length=100), nullable=False),
        sa.Column("role", sa.String(length=20), nullable=False),
        sa.Column("rule", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
    )
    op.create_index("ix_signoffs_post_id", "signoffs", ["post_id"])
    op.create_table(
        "comments",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("post_id", sa.Integer(), sa.ForeignKey("posts.id", ondelete="CASCADE"), nullable=False),
        sa.Column("post_version", sa.Integer(), nullable=False),
        sa.Column("author", sa.String(length=100), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
    )
    op.create_index("ix_comments_post_id", "comments", ["post_id"])
    op.create_table(
        "shares",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("post_id", sa.Integer(), sa.ForeignKey("posts.id"), nullable=False),
        sa.Column("from_org_id", sa.Integer(), sa.ForeignKey("organisations.id"), nullable=False),
        sa.Column("to_org_id", sa.Integer(), sa.ForeignKey("organisations.id"), nullable=False),
        sa.Column("may_edit", sa.Boolean(), nullable=False),
        sa.Column("state", sa.String(length=12), nullable=False),
        sa.Column("derived_post_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
    )
    op.create_index("ix_shares_post_id", "shares", ["post_id"])
    op.create_table(
        "posting_schedules",
        sa.Column("channel_id", sa.Integer(), sa.ForeignKey("channels.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("document", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
    )
    op.create_table(
        "blackouts",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("starts_at", sa.DateTime(), nullable=False),
        sa.Column("ends_at", sa.DateTime(), nullable=False),
        sa.Column("channel_id", sa.Integer(), sa.ForeignKey("channels.id", ondelete="CASCADE"), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
    )
    op.create_index("ix_blackouts_ends_at", "blackouts", ["ends_at"])
    op.create_table(
        "controls",
        sa.Column("name", sa.String(length=50), primary_key=True),
        sa.Column("value", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
    )
    _make_append_only(_APPEND_ONLY)


def _make_append_only(table: str) -> None:
    """The sign-off record is evidence: like the event log, it can only grow."""
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        for action in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER {table}_no_{action.lower()} BEFORE {action} ON {table} "
                f"BEGIN SELECT RAISE(ABORT, 'the {table} record is append-only'); END"
            )
    elif dialect == "postgresql":
        op.execute(
            f"CREATE FUNCTION {table}_append_only() RETURNS trigger LANGUAGE plpgsql AS "
            f"$$ BEGIN RAISE EXCEPTION 'the {table} record is append-only'; END $$"
        )
        op.execute(
            f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
            f"FOR EACH ROW EXECUTE FUNCTION {table}_append_only()"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"DROP TRIGGER IF EXISTS {_APPEND_ONLY}_append_only ON {_APPEND_ONLY}")
        op.execute(f"DROP FUNCTION IF EXISTS {_APPEND_ONLY}_append_only()")
    for table in ("controls", "blackouts", "posting_schedules", "shares", "comments", "signoffs"):
        op.drop_table(table)
    with op.batch_alter_table("publications") as batch_op:
        batch_op.drop_constraint("fk_publications_variant_id", type_="foreignkey")
        for column in ("deadline_warned", "queued_at", "from_queue", "variant_id"):
            batch_op.drop_column(column)
    op.drop_table("post_variants")
    with op.batch_alter_table("posts") as batch_op:
        batch_op.drop_index("ix_posts_org_id")
        batch_op.drop_constraint("fk_posts_org_id", type_="foreignkey")
        for column in ("share_id", "review", "priority", "format", "importance", "org_id"):
            batch_op.drop_column(column)
    with op.batch_alter_table("channels") as batch_op:
        batch_op.drop_index("ix_channels_org_id")
        batch_op.drop_constraint("fk_channels_org_id", type_="foreignkey")
        batch_op.drop_column("org_id")
    op.drop_table("memberships")
    op.drop_table("users")
    op.drop_table("organisations")
