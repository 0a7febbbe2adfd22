"""Finding posts and reading the log, for people: `post list` with filters that refuse what does
not exist, and events with who did it and on which channel. Read-only (``Database.reader``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from difflib import get_close_matches
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from scheduler.errors import InvalidInput
from scheduler.posts import post_view
from scheduler.publishing.states import PublicationState
from scheduler.store import Channel, Database, Event, Organisation, Post, Publication, SignOff

STATES = [state.value for state in PublicationState]


def list_posts(
    db: Database,
    *,
    state: str | None = None,
    channel: str | None = None,
    org: str | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    text: str | None = None,
    limit: int = 50,
    before: int | None = None,
) -> list[dict[str, Any]]:
    """The newest posts first, each with its publications (with lateness) and who signed the
    current version. Filters: a publication state, channel or organisation (of a channel, or the
    post's own), a due-time range [start, end) on any publication, and words in the text;
    ``before`` pages on (posts older than that id)."""
    if state is not None and state not in STATES:
        hint = get_close_matches(state, STATES, n=1)
        raise InvalidInput(
            f"unknown state {state!r}{f' (did you mean {hint[0]!r}?)' if hint else ''}; states: {', '.join(STATES)}"
        )
    with db.read() as session:
        if channel is not None and session.scalar(select(Channel.id).where(Channel.name == channel)) is None:
            raise InvalidInput(f"no channel named {channel!r}")
        org_id = None
        if org is not None:
            org_id = session.scalar(select(Organisation.id).where(Organisation.name == org))
            if org_id is None:
                raise InvalidInput(f"no organisation named {org!r}")
        publications = select(Publication.post_id).join(Channel, Channel.id == Publication.channel_id)
        if state is not None:
            publications = publications.where(Publication.state == state)
        if channel is not None:
            publications = publications.where(Channel.name == channel)
        if start is not None:
            publications = publications.where(Publication.due_at >= start)
        if end is not None:
            publications = publications.where(Publication.due_at < end)
        query = select(Post).options(selectinload(Post.publications)).order_by(Post.id.desc()).limit(limit)
        if any(value is not None for value in (state, channel, start, end)):
            query = query.where(Post.id.in_(publications))
        if org_id is not None:
            owned = select(Publication.post_id).join(Channel, Channel.id == Publication.channel_id)
            query = query.where((Post.org_id == org_id) | Post.id.in_(owned.where(Channel.org_id == org_id)))
        if before is not None:  # the cursor: the page after the one that ended at post ``before``
            query = query.where(Post.id < before)
        if text:
            words = text.strip().lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            query = query.where(func.lower(Post.text).like(f"%{words}%", escape="\\"))
        found = list(session.scalars(query))
        signers: dict[int, set[str]] = {}
        for post_id, version, signer in session.execute(
            select(SignOff.post_id, SignOff.post_version, SignOff.signer).where(
                SignOff.post_id.in_([post.id for post in found])
            )
        ):
            if version == next(p.version for p in found if p.id == post_id):
                signers.setdefault(post_id, set()).add(signer)
        views = []
        for post in found:
            view = post_view(post)
            for publication in view["publications"]:
                publication["late_s"] = _late(publication)
            view["signers"] = sorted(signers.get(post.id, ()))
            views.append(view)
        return views


def _late(publication: dict[str, Any]) -> float | None:
    if not publication.get("published_at"):
        return None
    published = datetime.fromisoformat(publication["published_at"])
    return round((published - datetime.fromisoformat(publication["due_at"])).total_seconds(), 3)


@dataclass(frozen=True)
class EventView:
    id: int
    at: datetime
    kind: str
    actor: str | None
    channel: str | None
    post_id: int | None
    publication_id: int | None
    from_state: str | None
    to_state: str | None
    message: str | None

    def as_dict(self) -> dict[str, Any]:
        return {**self.__dict__, "at": self.at.isoformat()}


def read_events(db: Database, *, after: int = 0, limit: int = 200, post_id: int | None = None) -> list[EventView]:
    """Events after ``after`` in order, with the channel's name (a channel may have been renamed
    or removed since: then its id)."""
    with db.read() as session:
        query = (
            select(Event, Channel.name)
            .outerjoin(Channel, Channel.id == Event.channel_id)
            .where(Event.id > after)
            .order_by(Event.id)
            .limit(limit)
        )
        if post_id is not None:
            query = query.where(Event.post_id == post_id)
        return [
            EventView(
                id=event.id,
                at=event.at,
                kind=event.kind,
                actor=event.actor,
                channel=name or (None if event.channel_id is None else f"channel {event.channel_id}"),
                post_id=event.post_id,
                publication_id=event.publication_id,
                from_state=event.from_state,
                to_state=event.to_state,
                message=event.message,
            )
            for event, name in session.execute(query)
        ]
