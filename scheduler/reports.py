"""What was published where, when, how late, and how long it took: a read-only service for the
CLI's `crosspost report` and, later, the web app.

Per publication: due, published, lateness (published - due), attempts, signers, and the time from
submission to the last sign-off of the version that went out to publication ("time to publish",
which the comms strategy tracks). Medians per organisation and per channel. Submission is the
post's first ``post.submitted`` event (a post created ready for review is submitted at once), else
its creation.
"""

from __future__ import annotations

import csv
import io
import statistics
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime

from sqlalchemy import func, select

from scheduler.errors import InvalidInput
from scheduler.store import Channel, Database, Event, Organisation, Post, Publication, SignOff


@dataclass(frozen=True)
class Row:
    post: int
    channel: str
    org: str | None
    state: str
    due_at: datetime
    published_at: datetime | None
    lateness_s: float | None
    attempts: int
    signers: tuple[str, ...]
    submitted_at: datetime
    signed_at: datetime | None
    to_signoff_s: float | None  # submission -> last sign-off of the version that went out
    to_publish_s: float | None  # submission -> publication


@dataclass(frozen=True)
class Medians:
    group: str  # "org cms", "channel cms-x"
    published: int
    lateness_s: float | None
    to_signoff_s: float | None
    to_publish_s: float | None


def report(
    db: Database,
    *,
    start: datetime | None = None,
    end: datetime | None = None,
    org: str | None = None,
    channel: str | None = None,
) -> tuple[list[Row], list[Medians]]:
    """Publications due in [start, end) (of the organisation's channels, or one channel)."""
    with db.transaction() as session:
        if org is not None and session.scalar(select(Organisation.id).where(Organisation.name == org)) is None:
            raise InvalidInput(f"no organisation named {org!r}")
        if channel is not None and session.scalar(select(Channel.id).where(Channel.name == channel)) is None:
            raise InvalidInput(f"no channel named {channel!r}")
        query = (
            select(Publication, Channel.name, Organisation.name.label("org"))
            .join(Channel, Channel.id == Publication.channel_id)
            .outerjoin(Organisation, Organisation.id == Channel.org_id)
            .order_by(Publication.due_at, Publication.id)
        )
        if start is not None:
            query = query.where(Publication.due_at >= start)
        if end is not None:
            query = query.where(Publication.due_at < end)
        if org is not None:
            query = query.where(Organisation.name == org)
        if channel is not None:
            query = query.where(Channel.name == channel)
        found = session.execute(query).all()
        post_ids = sorted({publication.post_id for publication, _, _ in found})
        created = dict(session.execute(select(Post.id, Post.created_at).where(Post.id.in_(post_ids))).all())
        submitted = dict(
            session.execute(
                select(Event.post_id, func.min(Event.at))
                .where(Event.kind == "post.submitted", Event.post_id.in_(post_ids))
                .group_by(Event.post_id)
            ).all()
        )
        signoffs = session.execute(
            select(SignOff.post_id, SignOff.post_version, SignOff.signer, SignOff.at).where(
                SignOff.post_id.in_(post_ids)
            )
        ).all()
    rows = []
    for publication, channel_name, org_name in found:
        version = publication.published_version
        signed = [s for s in signoffs if s.post_id == publication.post_id and s.post_version == version]
        since = submitted.get(publication.post_id) or created[publication.post_id]
        signed_at = max((s.at for s in signed), default=None)
        published_at = publication.published_at
        rows.append(
            Row(
                post=publication.post_id,
                channel=channel_name,
                org=org_name,
                state=publication.state,
                due_at=publication.due_at,
                published_at=published_at,
                lateness_s=_seconds(publication.due_at, published_at),
                attempts=publication.attempts,
                signers=tuple(sorted({s.signer for s in signed})),
                submitted_at=since,
                signed_at=signed_at,
                to_signoff_s=_seconds(since, signed_at),
                to_publish_s=_seconds(since, published_at),
            )
        )
    groups: dict[str, list[Row]] = {}
    for row in rows:
        if row.published_at is None:
            continue
        if row.org is not None:
            groups.setdefault(f"org {row.org}", []).append(row)
        groups.setdefault(f"channel {row.channel}", []).append(row)
    medians = [
        Medians(
            group=name,
            published=len(members),
            lateness_s=_median([r.lateness_s for r in members]),
            to_signoff_s=_median([r.to_signoff_s for r in members]),
            to_publish_s=_median([r.to_publish_s for r in members]),
        )
        for name, members in sorted(groups.items())
    ]
    return rows, medians


def _seconds(start: datetime, end: datetime | None) -> float | None:
    return None if end is None else round((end - start).total_seconds(), 3)


def _median(values: Sequence[float | None]) -> float | None:
    known = [value for value in values if value is not None]
    return round(statistics.median(known), 3) if known else None


FIELDS = [
    "post",
    "channel",
    "org",
    "state",
    "due_at",
    "published_at",
    "lateness_s",
    "attempts",
    "signers",
    "submitted_at",
    "signed_at",
    "to_signoff_s",
    "to_publish_s",
]


def as_records(rows: Sequence[Row]) -> list[dict[str, object]]:
    records = []
    for row in rows:
        record: dict[str, object] = asdict(row)
        record["signers"] = list(row.signers)
        for name in ("due_at", "published_at", "submitted_at", "signed_at"):
            value = record[name]
            record[name] = value.isoformat() if isinstance(value, datetime) else None
        records.append(record)
    return records


def as_csv(rows: Sequence[Row]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=FIELDS, lineterminator="\n")
    writer.writeheader()
    for row, record in zip(rows, as_records(rows), strict=True):
        writer.writerow({**record, "signers": " ".join(row.signers)})
    return out.getvalue()
