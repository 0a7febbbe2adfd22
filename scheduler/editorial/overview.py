"""Reading the sign-off record: the review view, the sign-off log (CSV), deadlines and their warnings."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from scheduler.editorial.people import org_named_by_id
from scheduler.editorial.policy import DEFAULT_POLICY
from scheduler.editorial.signoff import Need, S, load_post, needs_of, policy_of
from scheduler.publishing.transitions import record_event, transition
from scheduler.store import (
    Comment,
    Database,
    Organisation,
    Publication,
    SignOff,
)
from scheduler.when import get_zone, utcnow

SIGNOFF_FIELDS = (
    "id",
    "at",
    "post_id",
    "post_version",
    "variant",
    "content_hash",
    "org",
    "signer",
    "role",
    "rule",
    "kind",
    "note",
)


def signoff_record(db: Database, *, org: str | None = None, post_id: int | None = None) -> list[dict[str, Any]]:
    with db.transaction() as session:
        query = select(SignOff).order_by(SignOff.id)
        if org is not None:
            query = query.where(SignOff.org == org)
        if post_id is not None:
            query = query.where(SignOff.post_id == post_id)
        return [
            {
                name: (value.isoformat() if isinstance(value := getattr(row, name), datetime) else value)
                for name in SIGNOFF_FIELDS
            }
            for row in session.scalars(query)
        ]


def as_csv(rows: Sequence[dict[str, Any]], fields: Sequence[str]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(fields), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def review_view(db: Database, post_id: int, *, now: datetime | None = None) -> dict[str, Any]:
    """Where a post stands in review: what each publication needs and by when, sign-offs and comments."""
    now = now or utcnow()
    with db.transaction() as session:
        post = load_post(session, post_id, lock=False)
        needs = needs_of(session, post)
        comments = session.scalars(select(Comment).where(Comment.post_id == post_id).order_by(Comment.id))
        return {
            "review": post.review,
            "org": org_named_by_id(session, post.org_id) if post.org_id else None,
            "importance": post.importance,
            "format": post.format,
            "priority": post.priority,
            "needs": {needs[p.id].channel: needs[p.id].describe() for p in post.publications},
            "deadlines": {needs[p.id].channel: _deadline(needs[p.id], p, now) for p in post.publications},
            "comments": [
                {"at": c.at.isoformat(), "author": c.author, "kind": c.kind, "version": c.post_version, "text": c.text}
                for c in comments
            ],
        }


def _local(moment: datetime, publication: Publication) -> str:
    zone = get_zone(publication.due_zone or publication.channel.timezone)
    return f"{moment.astimezone(zone):%a %Y-%m-%d %H:%M %Z}"


def _deadline(need: Need, publication: Publication, now: datetime) -> dict[str, Any] | None:
    """A publication's sign-off deadline: when, and whether it is met, ahead, near (within the
    policy's warning time) or passed; None where nothing needs signing."""
    if need.deadline is None or need.rule is None:
        return None
    warning = timedelta(hours=policy_of(need.org).deadline_warning_hours)
    if need.satisfied:
        status = "met"
    elif now >= need.deadline:
        status = "passed"
    elif now >= need.deadline - warning:
        status = "near"
    else:
        status = "ahead"
    return {
        "at": need.deadline.isoformat(),
        "local": _local(need.deadline, publication),
        "status": status,
        "rule": need.rule.name,
        "hours_before": need.rule.deadline_hours,
    }


def _span(span: timedelta) -> str:
    minutes = max(1, round(span.total_seconds() / 60))
    hours, minutes = divmod(minutes, 60)
    return " ".join(part for part in (f"{hours} h" if hours else "", f"{minutes} min" if minutes else "") if part)


def deadline_warnings(db: Database, post_id: int, *, now: datetime) -> list[str]:
    """For a post just moved (``post edit --at``): each publication still waiting for a sign-off
    whose deadline has passed, or comes within the policy's warning time, says so."""
    warnings: list[str] = []
    with db.transaction() as session:
        post = load_post(session, post_id, lock=False)
        needs = needs_of(session, post)
        for publication in post.publications:
            need = needs[publication.id]
            deadline = _deadline(need, publication, now)
            if publication.state != S.AWAITING_SIGNOFF or deadline is None:
                continue
            assert need.deadline is not None
            hours = deadline["hours_before"]
            rule = f"rule {deadline['rule']!r}: " + (f"{hours:g} h before publication" if hours else "by publication")
            if deadline["status"] == "passed":
                earliest = now + timedelta(hours=deadline["hours_before"], minutes=1)
                earliest = earliest.replace(second=0, microsecond=0)  # the next whole minute
                warnings.append(
                    f"post {post_id} on {need.channel}: its sign-off deadline, {deadline['local']} ({rule}), "
                    f"has already passed, so it will not publish at {_local(publication.due_at, publication)}; "
                    f"move it to {_local(earliest, publication)} or later"
                )
            elif deadline["status"] == "near":
                warnings.append(
                    f"post {post_id} on {need.channel}: it must be signed off by {deadline['local']} "
                    f"({rule}), in {_span(need.deadline - now)}, or it will not publish"
                )
    return warnings


def _reach(session: Session) -> tuple[timedelta, timedelta]:
    """How long before its due time a publication's sign-off deadline can fall, and its warning,
    under any organisation's policy: nothing due later can be acted on yet."""
    policies = [DEFAULT_POLICY, *(policy_of(org) for org in session.scalars(select(Organisation)))]
    deadline = max(rule.deadline_hours for policy in policies for rule in policy.rules)
    warning = max(policy.deadline_warning_hours for policy in policies)
    return timedelta(hours=max(deadline, 0)), timedelta(hours=max(deadline, 0) + warning)


def sweep_deadlines(db: Database, *, now: datetime, horizon: timedelta = timedelta(days=30)) -> list[int]:
    """Warn before a sign-off deadline; at the deadline, an unsigned publication does not go out.

    Returns the ids of publications that missed their deadline in this sweep.
    """
    missed: list[int] = []
    with db.transaction() as session:
        deadline_reach, warning_reach = _reach(session)
        # only rows this sweep may act on, however many wait further ahead (issue 15); ids first: a
        # narrow query, which the planner never spreads over parallel workers as it may the full rows
        ids = session.scalars(
            select(Publication.id).where(
                Publication.state == S.AWAITING_SIGNOFF.value,
                Publication.due_at <= now + min(horizon, warning_reach),
                or_(Publication.deadline_warned.is_(False), Publication.due_at <= now + deadline_reach),
            )
        ).all()
        waiting = session.scalars(select(Publication).where(Publication.id.in_(ids))).all() if ids else []
        for post_id in sorted({p.post_id for p in waiting}):
            post = load_post(session, post_id)
            needs = needs_of(session, post)
            for publication in (p for p in waiting if p.post_id == post_id):
                if publication.immediate:  # "as soon as it is signed off": it waits for the sign-off
                    continue
                need = needs[publication.id]
                deadline = need.deadline or publication.due_at
                warning = timedelta(hours=policy_of(need.org).deadline_warning_hours)
                if now >= deadline:
                    detail = f"waiting for {need.describe()}" if not need.satisfied else f"post is {post.review}"
                    moved = transition(
                        session,
                        [publication],
                        S.NEEDS_ATTENTION,
                        now=now,
                        values={
                            "last_error": f"not signed off by its deadline {deadline:%Y-%m-%d %H:%M} UTC "
                            f"({detail}); it was not published"
                        },
                        message="sign-off deadline missed",
                    )
                    if not moved:
                        continue  # signed or cancelled meanwhile: nothing was missed
                    record_event(
                        session,
                        "approval.missed",
                        now=now,
                        post_id=post_id,
                        publication_id=publication.id,
                        channel_id=publication.channel_id,
                        message=f"{publication.channel.name}: {detail}",
                    )
                    missed.append(publication.id)
                elif now >= deadline - warning and not publication.deadline_warned:
                    publication.deadline_warned = True
                    record_event(
                        session,
                        "approval.deadline_near",
                        now=now,
                        post_id=post_id,
                        publication_id=publication.id,
                        channel_id=publication.channel_id,
                        message=f"{publication.channel.name}: sign-off due by {deadline:%Y-%m-%d %H:%M} UTC; "
                        f"{need.describe()}",
                    )
    return missed
