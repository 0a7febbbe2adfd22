"""Partner shares: a post offered to another organisation, adopted as its own copy or withdrawn."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from scheduler.editorial.authorization import Action, authorize
from scheduler.editorial.people import org_named
from scheduler.editorial.signoff import load_post
from scheduler.errors import InvalidInput, NotFound, Refused, StateConflict
from scheduler.publishing.states import APPROVED
from scheduler.publishing.states import PublicationState as S
from scheduler.publishing.transitions import record_event, transition
from scheduler.store import (
    Database,
    Organisation,
    Post,
    Share,
)


def share(
    db: Database, post_id: int, *, to_org: str, now: datetime, actor: str | None = None, may_edit: bool = False
) -> int:
    """Offer an approved post to a partner, who may adopt it on its own channels under its own policy."""
    with db.transaction() as session:
        post = load_post(session, post_id)
        if post.org_id is None:
            raise StateConflict(f"post {post_id} belongs to no organisation; only an organisation's posts are shared")
        owner = session.get(Organisation, post.org_id)
        assert owner is not None
        authorize(session, actor, Action.SHARE, [owner.id])
        partner = org_named(session, to_org)
        if partner.id == owner.id:
            raise InvalidInput(f"post {post_id} already belongs to {to_org}")
        if post.review != APPROVED:
            raise StateConflict(f"post {post_id} is {post.review.replace('_', ' ')}; only approved posts are shared")
        offer = Share(
            post_id=post.id,
            from_org_id=owner.id,
            to_org_id=partner.id,
            may_edit=may_edit,
            state="offered",
            created_at=now,
            updated_at=now,
        )
        session.add(offer)
        session.flush()
        record_event(
            session,
            "share.offered",
            now=now,
            post_id=post.id,
            actor=actor,
            message=f"shared with {to_org}" + (" (may edit)" if may_edit else " (text as is)"),
            data={"share": offer.id, "to": to_org},
        )
        return offer.id


def open_share(session: Session, share_id: int, *, actor: str | None, text: str) -> tuple[Share, Post]:
    """A share that ``actor``'s organisation may adopt now, with its original post; checks the limits."""
    offer = session.get(Share, share_id)
    if offer is None:
        raise NotFound(f"no share with id {share_id}")
    if offer.state != "offered":
        raise StateConflict(f"share {share_id} is {offer.state}")
    partner = session.get(Organisation, offer.to_org_id)
    assert partner is not None
    authorize(session, actor, Action.ADOPT, [partner.id])
    original = load_post(session, offer.post_id, lock=False)
    check_share_text(offer, original, text)
    return offer, original


def adopt_share(session: Session, share_id: int, copy: Post, *, now: datetime) -> None:
    """Mark the share adopted by ``copy`` (in the transaction that creates the copy)."""
    offer = session.get(Share, share_id, with_for_update=True)  # serialised with a withdrawal
    if offer is None or offer.state != "offered":
        raise StateConflict(f"share {share_id} was {offer.state if offer else 'removed'} meanwhile")
    offer.state, offer.derived_post_id, offer.updated_at = "adopted", copy.id, now
    record_event(
        session,
        "share.adopted",
        now=now,
        post_id=offer.post_id,
        actor=copy.author,
        message=f"adopted as post {copy.id}",
        data={"share": share_id, "copy": copy.id},
    )


def share_and_original(session: Session, share_id: int) -> tuple[Share, Post]:
    offer = session.get(Share, share_id)
    if offer is None:
        raise NotFound(f"no share with id {share_id}")
    return offer, load_post(session, offer.post_id, lock=False)


def check_share_edit(offer: Share, original: Post, text: str, *, title: str | None, link: str | None) -> None:
    """A copy of a post shared as is keeps the original's words, title and link."""
    check_share_text(offer, original, text)
    if not offer.may_edit and (title != original.title or link != original.link):
        raise Refused(
            f"rule 'shared as is': share {offer.id} of post {original.id} does not allow changes to its title or link"
        )


def check_share_text(offer: Share, original: Post, text: str) -> None:
    if not offer.may_edit and original.text not in text:
        raise Refused(
            f"rule 'shared as is': share {offer.id} of post {original.id} does not allow changes to its text; "
            "the original text must stay whole (add before or after it)"
        )


def withdraw_share(db: Database, share_id: int, *, now: datetime, actor: str | None = None) -> list[str]:
    """Take a share back; the partner's copy is cancelled unless something of it is already out."""
    with db.transaction() as session:
        offer = session.get(Share, share_id, with_for_update=True)  # serialised with an adoption
        if offer is None:
            raise NotFound(f"no share with id {share_id}")
        owner = session.get(Organisation, offer.from_org_id)
        assert owner is not None
        authorize(session, actor, Action.SHARE, [owner.id])
        if offer.state == "withdrawn":
            raise StateConflict(f"share {share_id} is already withdrawn")
        cancelled: list[str] = []
        if offer.derived_post_id is not None:
            copy = load_post(session, offer.derived_post_id)
            out = [p for p in copy.publications if p.state in (S.PUBLISHED, S.PUBLISHING, S.UNKNOWN)]
            if out:
                names = ", ".join(f"{p.channel.name} ({p.state})" for p in out)
                raise StateConflict(f"share {share_id} cannot be withdrawn: the partner's copy is out on {names}")
            pending = [p for p in copy.publications if p.state not in (S.CANCELLED, S.FAILED)]
            names_by_id = {p.id: p.channel.name for p in pending}
            moved = transition(
                session,
                pending,
                S.CANCELLED,
                now=now,
                values={"dispatch_token": None},
                message=f"share {share_id} withdrawn",
                actor=actor,
            )
            cancelled = [names_by_id[i] for i in moved]
        offer.state = "withdrawn"
        offer.updated_at = now
        record_event(
            session,
            "share.withdrawn",
            now=now,
            post_id=offer.post_id,
            actor=actor,
            message=f"share {share_id} withdrawn" + (f"; cancelled on {', '.join(cancelled)}" if cancelled else ""),
            data={"share": share_id},
        )
        return cancelled


def list_shares(db: Database, *, org: str | None = None) -> list[dict[str, Any]]:
    with db.transaction() as session:
        names = dict(session.execute(select(Organisation.id, Organisation.name)).all())
        rows = []
        for offer in session.scalars(select(Share).order_by(Share.id)):
            if org is not None and org not in (names[offer.from_org_id], names[offer.to_org_id]):
                continue
            rows.append(
                {
                    "id": offer.id,
                    "post": offer.post_id,
                    "from": names[offer.from_org_id],
                    "to": names[offer.to_org_id],
                    "may_edit": offer.may_edit,
                    "state": offer.state,
                    "copy": offer.derived_post_id,
                }
            )
        return rows
