"""A backlog of publications, loaded in bulk by the database itself (one INSERT ... SELECT over a
generated series per table): a million rows in seconds, for the backlog benchmark and the query
plan test.

Per post, ``CHANNELS`` publications (one per channel). By post number modulo 10:

* 0-5 scheduled far ahead (8 days to a year), renditions made (``media_ready``);
* 6   scheduled far ahead with media whose renditions are being made now (requested, not stale);
* 7   awaiting sign-off, far ahead;
* 8   awaiting sign-off, far ahead, its deadline warning already given;
* 9   published in the past (history).

None of it is due: with this backlog every periodic query should find nothing to do.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import text
from sqlalchemy.engine import Connection

CHANNELS = 4
_YEAR = 365 * 24 * 3600


def _series(dialect: str, count: int) -> str:
    if dialect == "postgresql":
        return f"SELECT i FROM generate_series(1, {int(count)}) AS s(i)"
    return f"WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < {int(count)}) SELECT i FROM s"


def _plus_seconds(dialect: str, base: str, seconds: str) -> str:
    """An SQL expression: the timestamp parameter ``base`` plus ``seconds`` (an SQL expression)."""
    if dialect == "postgresql":
        return f"(:{base} + ({seconds}) * interval '1 second')"
    # SQLite stores naive UTC as text 'YYYY-MM-DD HH:MM:SS.ffffff', which sorts as time does
    return f"strftime('%Y-%m-%d %H:%M:%f000', :{base}, '+' || ({seconds}) || ' seconds')"


def load_backlog(connection: Connection, publications: int, *, now: datetime) -> int:
    """Add about ``publications`` rows (rounded to whole posts) and their posts and channels;
    returns how many publications were added."""
    dialect = connection.dialect.name
    posts = max(1, publications // CHANNELS)
    naive = now.replace(tzinfo=None)
    params = {"now": naive, "ahead": naive + timedelta(days=8), "past": naive - timedelta(days=400)}
    first_channel = connection.execute(text("SELECT coalesce(max(id), 0) FROM channels")).scalar_one() + 1
    for c in range(CHANNELS):
        connection.execute(
            text(
                "INSERT INTO channels (id, name, platform, timezone, dry_run, status, options, created_at) "
                "VALUES (:id, :name, 'webhook', 'UTC', :dry, 'active', '{}', :now)"
            ),
            {"id": first_channel + c, "name": f"backlog-{first_channel + c}", "dry": True, "now": naive},
        )
    first_post = connection.execute(text("SELECT coalesce(max(id), 0) FROM posts")).scalar_one() + 1
    connection.execute(
        text(
            "INSERT INTO posts (id, text, version, content_hash, created_at, updated_at) "
            f"SELECT :first + i - 1, 'backlog ' || i, 1, :hash, :now, :now FROM ({_series(dialect, posts)}) AS g"
        ),
        {"first": first_post, "hash": "0" * 64, **params},
    )
    kind = "(p.id % 10)"
    due_ahead = _plus_seconds(dialect, "ahead", f"(CAST(p.id AS BIGINT) * 7919) % {_YEAR}")
    due_past = _plus_seconds(dialect, "past", f"(CAST(p.id AS BIGINT) * 7919) % {_YEAR}")
    state = f"CASE WHEN {kind} IN (7, 8) THEN 'awaiting_signoff' WHEN {kind} = 9 THEN 'published' ELSE 'scheduled' END"
    connection.execute(
        text(
            "INSERT INTO publications (post_id, channel_id, state, due_at, attempts, idempotency_key, media_ready, "
            "media_requested_at, deadline_warned, published_at, created_at, updated_at) "
            f"SELECT p.id, c.id, {state}, CASE WHEN {kind} = 9 THEN {due_past} ELSE {due_ahead} END, "
            f"CASE WHEN {kind} = 9 THEN 1 ELSE 0 END, 'backlog-' || p.id || '-' || c.id, {kind} <> 6, "
            f"CASE WHEN {kind} = 6 THEN :now END, {kind} = 8, CASE WHEN {kind} = 9 THEN {due_past} END, :now, :now "
            "FROM posts AS p CROSS JOIN channels AS c "
            "WHERE p.id >= :first AND c.id >= :first_channel AND c.id < :first_channel + :channels"
        ),
        {"first": first_post, "first_channel": first_channel, "channels": CHANNELS, **params},
    )
    return posts * CHANNELS
