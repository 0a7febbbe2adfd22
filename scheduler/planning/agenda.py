"""What is planned when: publications in a date range, for the calendar (web) and its feed.

Read-only. A person sees the publications of posts that belong to one of their organisations or
that go out on one of their organisations' channels.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import selectinload

from scheduler.store import Channel, Database, Post, Publication
from scheduler.when import get_zone


def publications_between(
    db: Database, start: datetime, end: datetime, *, org_ids: Collection[int], zone: str = "UTC"
) -> list[dict[str, Any]]:
    """Publications due in [start, end) of posts the organisations ``org_ids`` may see, in due
    order; times shown in ``zone`` (the viewer's) and in the channel's own zone."""
    viewer_zone = get_zone(zone)
    with db.read() as session:
        rows = session.scalars(
            select(Publication)
            .join(Channel, Channel.id == Publication.channel_id)
            .join(Post, Post.id == Publication.post_id)
            .where(Publication.due_at >= start, Publication.due_at < end)
            .where(or_(Channel.org_id.in_(org_ids), Post.org_id.in_(org_ids)))
            .options(selectinload(Publication.channel), selectinload(Publication.post))
            .order_by(Publication.due_at, Publication.id)
        ).all()
        return [
            {
                "id": row.id,
                "post_id": row.post_id,
                "channel": row.channel.name,
                "platform": row.channel.platform,
                "channel_zone": row.channel.timezone,
                "state": row.state,
                "due_at": row.due_at,
                "due_viewer": row.due_at.astimezone(viewer_zone),
                "due_channel": row.due_at.astimezone(get_zone(row.channel.timezone)),
                "text": row.post.text,
                "importance": row.post.importance,
                "movable": row.state in ("scheduled", "queued", "awaiting_signoff", "retry_wait"),
            }
            for row in rows
        ]


def waiting_for_a_person(db: Database, *, org_ids: Collection[int], limit: int = 500) -> list[int]:
    """Ids of publications in ``unknown`` or ``needs_attention`` that the organisations ``org_ids``
    may see, oldest due first: however old their post, they wait for someone to decide."""
    with db.read() as session:
        return list(
            session.scalars(
                select(Publication.id)
                .join(Channel, Channel.id == Publication.channel_id)
                .join(Post, Post.id == Publication.post_id)
                .where(Publication.state.in_(("unknown", "needs_attention")))
                .where(or_(Channel.org_id.in_(org_ids), Post.org_id.in_(org_ids)))
                .order_by(Publication.due_at, Publication.id)
                .limit(limit)
            )
        )
