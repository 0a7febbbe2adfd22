"""What waits for a person: posts they may sign off now (the approval queue), with what changed
since the version before, and the partner inbox (posts partners submitted to their organisations,
and shares offered to or adopted by partners). Read-only, for the web app."""

from __future__ import annotations

import difflib
import html
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from scheduler.editorial.people import memberships, org_named_by_id, user_named
from scheduler.editorial.signoff import load_post, needs_of
from scheduler.publishing.states import SUBMITTED
from scheduler.store import Channel, Database, Event, Organisation, Post, Publication, Share


def waiting_for(db: Database, user: str, *, now: datetime) -> list[dict[str, Any]]:
    """Submitted posts with a publication this person may sign now and has not signed, oldest
    deadline first: the approval queue the policy routes to them."""
    with db.read() as session:
        person = user_named(session, user)
        roles = memberships(session, person)
        # only posts on a channel of one of the person's organisations can need their sign-off
        on_my_channels = (
            select(Publication.post_id)
            .join(Channel, Channel.id == Publication.channel_id)
            .where(Channel.org_id.in_(list(roles) or [-1]))
        )
        candidates = session.scalars(
            select(Post)
            .where(Post.review == SUBMITTED, Post.id.in_(on_my_channels))
            .options(selectinload(Post.publications).selectinload(Publication.channel))
            .order_by(Post.id)
            .limit(1000)
        ).all()
        waiting = []
        for post in candidates:
            mine = [
                need
                for need in needs_of(session, post).values()
                if not need.satisfied
                and need.org is not None
                and user not in need.signers
                and need.qualifies(user=user, role=roles.get(need.org.id))
            ]
            if not mine:
                continue
            deadlines = [need.deadline for need in mine if need.deadline is not None]
            waiting.append(
                {
                    "post_id": post.id,
                    "text": post.text,
                    "author": post.author,
                    "version": post.version,
                    "importance": post.importance,
                    "format": post.format,
                    "org": org_named_by_id(session, post.org_id) if post.org_id else None,
                    "channels": [need.channel for need in mine],
                    # one line per distinct need, with the channels it holds (not one per channel)
                    "needs": _grouped(mine),
                    "deadline": min(deadlines) if deadlines else None,
                    "overdue": bool(deadlines) and min(deadlines) <= now,
                }
            )
        far = datetime.max.replace(tzinfo=now.tzinfo)
        return sorted(waiting, key=lambda item: (item["deadline"] or far, item["post_id"]))


def _grouped(needs: list[Any]) -> list[dict[str, Any]]:
    grouped: dict[str, list[str]] = {}
    for need in needs:
        grouped.setdefault(need.describe(), []).append(need.channel)
    return [{"need": text, "channels": channels} for text, channels in grouped.items()]


def changes(db: Database, post_id: int) -> dict[str, Any] | None:
    """The text before the post's last edit and now, as an HTML diff (``<del>``/``<ins>``, words),
    or None when it was never edited."""
    with db.read() as session:
        post = load_post(session, post_id, lock=False)
        edits = session.scalars(
            select(Event).where(Event.post_id == post_id, Event.kind == "post.edited").order_by(Event.id.desc())
        ).all()
        previous = next((e.data["previous"] for e in edits if isinstance(e.data, dict) and "previous" in e.data), None)
        if previous is None:
            return None
        return {
            "from_version": previous["version"],
            "to_version": post.version,
            "text": word_diff(previous.get("text") or "", post.text),
            "title": (previous.get("title"), post.title) if previous.get("title") != post.title else None,
            "link": (previous.get("link"), post.link) if previous.get("link") != post.link else None,
        }


def word_diff(before: str, after: str) -> str:
    """An HTML word diff, escaped: removed words in ``<del>``, added in ``<ins>``."""
    old, new = before.split(" "), after.split(" ")
    out: list[str] = []
    for op, a1, a2, b1, b2 in difflib.SequenceMatcher(a=old, b=new, autojunk=False).get_opcodes():
        if op == "equal":
            out.append(html.escape(" ".join(old[a1:a2])))
            continue
        if a2 > a1:
            out.append(f"<del>{html.escape(' '.join(old[a1:a2]))}</del>")
        if b2 > b1:
            out.append(f"<ins>{html.escape(' '.join(new[b1:b2]))}</ins>")
    return " ".join(part for part in out if part)


def partner_inbox(db: Database, org_ids: list[int]) -> dict[str, list[dict[str, Any]]]:
    """For the organisations ``org_ids``: posts of other organisations on their channels (partner
    submissions), and shares offered to or from them with their state."""
    with db.read() as session:
        names = dict(session.execute(select(Organisation.id, Organisation.name)).all())
        submitted = session.execute(
            select(Post, Channel.name, Publication.state)
            .join(Publication, Publication.post_id == Post.id)
            .join(Channel, Channel.id == Publication.channel_id)
            .where(Channel.org_id.in_(org_ids), Post.org_id.is_not(None), Post.org_id.not_in(org_ids))
            .order_by(Post.id.desc())
            .limit(200)
        ).all()
        by_post: dict[int, dict[str, Any]] = {}
        for post, channel, state in submitted:
            entry = by_post.setdefault(
                post.id,
                {
                    "post_id": post.id,
                    "from": names.get(post.org_id or 0),
                    "author": post.author,
                    "text": post.text,
                    "review": post.review,
                    "channels": [],
                },
            )
            entry["channels"].append({"channel": channel, "state": state})
        offers = session.scalars(
            select(Share)
            .where((Share.to_org_id.in_(org_ids)) | (Share.from_org_id.in_(org_ids)))
            .order_by(Share.id.desc())
            .limit(200)
        ).all()
        texts = dict(session.execute(select(Post.id, Post.text).where(Post.id.in_([s.post_id for s in offers]))).all())
        shares = [
            {
                "id": offer.id,
                "post_id": offer.post_id,
                "from": names.get(offer.from_org_id),
                "to": names.get(offer.to_org_id),
                "incoming": offer.to_org_id in org_ids,
                "state": offer.state,
                "may_edit": offer.may_edit,
                "adopted_post_id": offer.derived_post_id,
                "text": texts.get(offer.post_id, ""),
            }
            for offer in offers
        ]
        return {"submissions": list(by_post.values()), "shares": shares}
