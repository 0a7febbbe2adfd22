"""Too much to post: channels' posting schedules, the queue, priorities, the global pause and blackouts.

``scheduler.planning.slots`` decides times; this module reads what is booked from the database and writes
the decisions back, each move through ``transitions`` so the event log says why a post moved.
The dispatcher asks ``holds`` before every claim: while paused nothing is claimed, and nothing due
inside a blackout is claimed.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, not_, or_, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from scheduler.editorial.authorization import Action, authorize
from scheduler.errors import InvalidInput, NotFound, Refused, StateConflict
from scheduler.planning.slots import (
    Booking,
    Explainer,
    PostingSchedule,
    Queued,
    Window,
    allocate,
    explain_slots,
    parse_priority,
    release,
    upcoming,
)
from scheduler.publishing.states import PublicationState
from scheduler.publishing.transitions import record_event, transition
from scheduler.store import Blackout, Channel, ChannelSchedule, Control, Database, Event, Post, Publication
from scheduler.when import get_zone, parse_due

S = PublicationState
PAUSE = "pause"
# Publications that hold a time on their channel (for slots, spacing and daily limits).
_BOOKING = (S.AWAITING_SIGNOFF, S.SCHEDULED, S.QUEUED, S.PUBLISHING, S.RETRY_WAIT, S.UNKNOWN, S.PUBLISHED)
# The queue moves only what has not been handed to a worker.
_MOVABLE = (S.AWAITING_SIGNOFF, S.SCHEDULED)
# Never move something about to be claimed: the dispatcher may be sending it now.
_SETTLED_AHEAD = timedelta(minutes=2)
# A publication the queue moves by more than this says so: a publication.requeued event, and post show.
REQUEUE_NOTICE = timedelta(days=1)
REQUEUED = "publication.requeued"


def _channel(session: Session, name: str) -> Channel:
    channel = session.scalar(select(Channel).where(Channel.name == name))
    if channel is None:
        raise NotFound(f"unknown channel {name!r}")
    return channel


def schedule_of(session: Session, channel_id: int, *, lock: bool = False) -> PostingSchedule | None:
    """The channel's schedule; ``lock`` serialises allocations on the channel (PostgreSQL row lock;
    SQLite holds its write lock already), so two posts never get the same slot."""
    row = session.get(ChannelSchedule, channel_id, with_for_update=lock)
    return PostingSchedule.from_document(row.document) if row else None


def set_schedule(
    db: Database,
    *,
    channel: str,
    slots: Sequence[str],
    now: datetime,
    max_per_day: int | None = None,
    min_spacing: str | None = None,
    actor: str | None = None,
) -> PostingSchedule:
    with db.transaction() as session:
        target = _channel(session, channel)
        authorize(session, actor, Action.SET_SCHEDULE, [target.org_id], subject=channel)
        schedule = PostingSchedule.parse(target.timezone, slots, max_per_day=max_per_day, min_spacing=min_spacing)
        row = session.get(ChannelSchedule, target.id)
        if row is None:
            session.add(ChannelSchedule(channel_id=target.id, document=schedule.to_document(), updated_at=now))
        else:
            row.document, row.updated_at = schedule.to_document(), now
        record_event(
            session,
            "queue.schedule_set",
            now=now,
            channel_id=target.id,
            actor=actor,
            message=f"{channel}: {schedule.describe()}",
            data=schedule.to_document(),
        )
        return schedule


def blackouts_for(session: Session, channel_id: int | None, *, after: datetime) -> list[Window]:
    """Blackouts still to come or running that apply to the channel (or to every channel)."""
    query = select(Blackout).where(Blackout.ends_at > after)
    if channel_id is not None:
        query = query.where(or_(Blackout.channel_id.is_(None), Blackout.channel_id == channel_id))
    return [Window(row.name, row.starts_at, row.ends_at) for row in session.scalars(query.order_by(Blackout.starts_at))]


def _holdings(session: Session, channel_id: int, *, since: datetime, exclude: Sequence[int] = ()) -> list[Any]:
    """The publications holding a time on the channel from ``since`` on (``at``: when they count)."""
    moment = func.coalesce(Publication.published_at, Publication.next_attempt_at, Publication.due_at)
    return list(
        session.execute(
            select(
                moment.label("at"),
                Publication.id,
                Publication.post_id,
                Publication.state,
                Publication.from_queue,
                Post.priority,
            )
            .join(Post, Post.id == Publication.post_id)
            .where(
                Publication.channel_id == channel_id,
                Publication.state.in_([s.value for s in _BOOKING]),
                moment >= since,
                Publication.id.not_in(list(exclude)),
            )
            .order_by(moment, Publication.id)
        ).all()
    )


def _booked(session: Session, channel_id: int, *, since: datetime, exclude: Sequence[int] = ()) -> list[datetime]:
    return [row.at for row in _holdings(session, channel_id, since=since, exclude=exclude)]


def _booking(row: Any) -> Booking:
    """A holding as explanations name it: how it got its time."""
    if row.state == S.PUBLISHED:
        note: str | None = "published"
    elif not row.from_queue:
        note = "fixed time"
    else:
        note = _queue_note(row.priority)
    return Booking(row.at, row.post_id, note)


def _note_move(
    session: Session,
    publication: Publication,
    channel: Channel,
    old: datetime,
    new: datetime,
    reason: str,
    *,
    now: datetime,
    actor: str | None,
) -> None:
    """A move by more than REQUEUE_NOTICE is an event of its own, with both times and the reason."""
    if abs(new - old) <= REQUEUE_NOTICE:
        return
    zone = get_zone(channel.timezone)
    record_event(
        session,
        REQUEUED,
        now=now,
        post_id=publication.post_id,
        publication_id=publication.id,
        channel_id=channel.id,
        actor=actor,
        message=f"{channel.name}: moved by the queue from {old.astimezone(zone):%a %Y-%m-%d %H:%M %Z} "
        f"to {new.astimezone(zone):%a %Y-%m-%d %H:%M %Z}; {reason}",
        data={"from": old.isoformat(), "to": new.isoformat(), "reason": reason},
    )


def requeued(session: Session, post_id: int) -> list[dict[str, Any]]:
    """The post's publications that the queue moved by more than a day: the latest move of each."""
    latest: dict[int | None, dict[str, Any]] = {}
    rows = session.execute(
        select(Event, Channel.name, Channel.timezone)
        .join(Channel, Channel.id == Event.channel_id)
        .where(Event.post_id == post_id, Event.kind == REQUEUED)
        .order_by(Event.id)
    ).all()
    for event, channel, zone in rows:
        old, new = (datetime.fromisoformat(event.data[key]).astimezone(get_zone(zone)) for key in ("from", "to"))
        latest[event.publication_id] = {
            "channel": channel,
            "at": event.at.isoformat(),
            "from": event.data["from"],
            "to": event.data["to"],
            "reason": event.data["reason"],
            "summary": f"from {old:%a %Y-%m-%d %H:%M %Z} to {new:%a %Y-%m-%d %H:%M %Z}; {event.data['reason']}",
        }
    return list(latest.values())


def check_open(session: Session, channels: Sequence[Channel], moment: datetime) -> None:
    """An explicit time inside a blackout is refused, naming the blackout."""
    for channel in channels:
        for window in blackouts_for(session, channel.id, after=moment):
            if window.covers(moment):
                raise Refused(
                    f"rule 'blackout': {window.name!r} ({window.starts_at:%Y-%m-%d %H:%M} to "
                    f"{window.ends_at:%Y-%m-%d %H:%M} UTC) covers {moment:%Y-%m-%d %H:%M} UTC on {channel.name}; "
                    "pick a time outside it, or add the post to the queue"
                )


def enqueue(
    session: Session, channel: Channel, new: Sequence[Publication], *, now: datetime, actor: str | None = None
) -> None:
    """Give ``new`` (flushed, not yet due anywhere) slots on ``channel``; what a higher priority
    displaces moves down, each move recorded."""
    schedule = schedule_of(session, channel.id, lock=True)
    if schedule is None:
        raise InvalidInput(
            f"channel {channel.name} has no posting schedule, so nothing can be added to its queue; "
            f"set one with: crosspost queue set {channel.name} --slot 'mon-fri 09:00,13:00'"
        )
    _repack(session, channel, schedule, new, now=now, actor=actor)


def _repack(
    session: Session,
    channel: Channel,
    schedule: PostingSchedule,
    new: Sequence[Publication],
    *,
    now: datetime,
    actor: str | None,
) -> None:
    movable = list(
        session.scalars(
            select(Publication)
            .join(Post, Post.id == Publication.post_id)
            .where(
                Publication.channel_id == channel.id,
                Publication.from_queue.is_(True),
                Publication.state.in_([s.value for s in _MOVABLE]),
                Publication.due_at > now + _SETTLED_AHEAD,
                Publication.id.not_in([p.id for p in new]),
            )
        )
    )
    items = [*movable, *new]
    holdings = _holdings(session, channel.id, since=now - timedelta(days=1), exclude=[p.id for p in items])
    windows = blackouts_for(session, channel.id, after=now)
    times = allocate(
        schedule,
        now=now + _SETTLED_AHEAD,
        fixed=[row.at for row in holdings],
        queued=[Queued(p.id, parse_priority(p.post.priority), p.queued_at or p.created_at) for p in items],
        blackouts=windows,
    )
    for publication in new:
        publication.due_at, publication.due_zone = times[publication.id], channel.timezone
    fixed = [_booking(row) for row in holdings]
    placed = {p.id: Booking(times[p.id], p.post_id, _queue_note(p.post.priority)) for p in items}
    for publication in movable:
        if times[publication.id] != publication.due_at:
            moved_from, moved_to = publication.due_at, times[publication.id]
            # why, as things stand after the move: what now holds or blocks its old time
            others = [booking for key, booking in placed.items() if key != publication.id]
            reason = Explainer(schedule, [*fixed, *others], windows).why_moved(moved_from, moved_to)
            cause = f" for post {new[0].post_id} ({new[0].post.priority} priority)" if new else ""
            transition(
                session,
                [publication],
                S(publication.state),
                now=now,
                actor=actor,
                values={"due_at": moved_to, "dispatch_token": None},
                message=f"moved by the queue to {moved_to.isoformat()}{cause}; {reason}",
            )
            _note_move(session, publication, channel, moved_from, moved_to, reason, now=now, actor=actor)


def _queue_note(priority: str) -> str | None:
    return None if priority == "normal" else f"{priority} priority"


def queue_view(db: Database, *, channel: str, now: datetime, days: int = 7) -> dict[str, Any]:
    """The channel's slots for the next ``days`` days, each free, taken (by which posts) or blocked (why:
    a blackout, the daily maximum and the posts that reach it, the spacing and the post too close),
    and the posts due meanwhile, with those at a fixed time counted against their day."""
    with db.transaction() as session:
        target = _channel(session, channel)
        schedule = schedule_of(session, target.id)
        holdings = _holdings(session, target.id, since=now - timedelta(days=1))
        upcoming_rows = [row for row in holdings if row.at >= now and row.state != S.PUBLISHED]
        booked: dict[datetime, str] = {}
        for row in upcoming_rows:  # explicit times may share an instant: list every post there
            label = _label(row)
            booked[row.at] = f"{booked[row.at]}; {label}" if row.at in booked else label
        windows = blackouts_for(session, target.id, after=now)
        if schedule is None:
            return {
                "channel": channel,
                "zone": target.timezone,
                "schedule": None,
                "until": None,
                "slots": [],
                "upcoming": [_upcoming_entry(row, None, on_slot=False) for row in upcoming_rows],
                "paused": is_paused(session),
            }
        bookings = [_booking(row) for row in holdings]
        holders = dict(upcoming(schedule, now=now, days=days, booked=booked, blackouts=windows))
        verdicts = explain_slots(
            schedule, now=now, days=days, bookings=bookings, blackouts=windows, earliest=now + _SETTLED_AHEAD
        )
        explainer = Explainer(schedule, bookings, windows)
        slot_times = {at for at, _ in verdicts}
        return {
            "channel": channel,
            "zone": target.timezone,
            "schedule": schedule.describe(),
            "until": (now + timedelta(days=days)).isoformat(),
            "slots": [
                {
                    "at": at.isoformat(),
                    "holder": holders.get(at),
                    "status": verdict.status.value,
                    "reason": verdict.reason,
                    "posts": sorted({booking.post for booking in verdict.by}),
                }
                for at, verdict in verdicts
            ],
            "upcoming": [_upcoming_entry(row, explainer, on_slot=row.at in slot_times) for row in upcoming_rows],
            "paused": is_paused(session),
        }


def _label(row: Any) -> str:
    return f"post {row.post_id} ({row.priority}, {row.state})"


def _upcoming_entry(row: Any, explainer: Explainer | None, *, on_slot: bool) -> dict[str, Any]:
    """A post due on the channel; one at a fixed time says how it counts against its day."""
    entry: dict[str, Any] = {
        "at": row.at.isoformat(),
        "holder": _label(row),
        "post": row.post_id,
        "fixed": not row.from_queue,
        "on_slot": on_slot,
        "counts": None,
    }
    if explainer is not None and explainer.schedule.max_per_day is not None and not row.from_queue:
        same_day = explainer.on_day_of(row.at)
        position = next(i for i, b in enumerate(same_day, 1) if b.post == row.post_id and b.at == row.at)
        entry["counts"] = f"{position} of at most {explainer.schedule.max_per_day} that day"
    return entry


# -- the global pause and blackouts --------------------------------------------------------------


def is_paused(session: Session) -> bool:
    row = session.get(Control, PAUSE)
    return bool(row and row.value.get("paused"))


def holds(session: Session, *, now: datetime) -> tuple[bool, list[ColumnElement[bool]]]:
    """For the dispatcher: whether everything is paused, and the conditions that keep what is due
    inside a blackout from being claimed."""
    if is_paused(session):
        return True, []
    due = func.coalesce(Publication.next_attempt_at, Publication.due_at)
    conditions = []
    for row in session.scalars(select(Blackout).where(Blackout.ends_at > now)):
        running = row.starts_at <= now
        if running and row.channel_id is None:
            return True, []  # a blackout on every channel, now: like a pause
        # a blackout running now also holds what became due before it (a backlog, a late rendition)
        inside = due < row.ends_at if running else and_(due >= row.starts_at, due < row.ends_at)
        if row.channel_id is not None:
            inside = and_(inside, Publication.channel_id == row.channel_id)
        conditions.append(not_(inside))
    return False, conditions


def pause(db: Database, *, now: datetime, reason: str | None = None, actor: str | None = None) -> None:
    """Hold everything: nothing more is claimed, and what was already claimed but not yet taken by a
    worker goes back to waiting (its message is void). What a worker already holds finishes."""
    with db.transaction() as session:
        authorize(session, actor, Action.PAUSE, [])
        if is_paused(session):
            raise StateConflict("publishing is already paused")
        queued = session.execute(
            select(Publication.id, Publication.state).where(Publication.state == S.QUEUED.value)
        ).all()
        transition(
            session,
            queued,
            S.SCHEDULED,
            now=now,
            values={"dispatch_token": None},
            actor=actor,
            message="publishing paused: the message in flight is void",
        )
        _set_control(session, PAUSE, {"paused": True, "since": now.isoformat(), "reason": reason}, now)
        record_event(
            session,
            "dispatch.paused",
            now=now,
            actor=actor,
            message=f"publishing paused: {reason}" if reason else "publishing paused",
        )


def resume(db: Database, *, now: datetime, actor: str | None = None) -> dict[str, int]:
    """Release what the pause held, spread out within each channel's limits; returns how many
    publications moved per channel."""
    with db.transaction() as session:
        authorize(session, actor, Action.RESUME, [])
        if not is_paused(session):
            raise StateConflict("publishing is not paused")
        _set_control(session, PAUSE, {"paused": False}, now)
        moved = _release_overdue(session, now=now, actor=actor, why="released after the pause")
        record_event(session, "dispatch.resumed", now=now, actor=actor, message="publishing resumed", data=moved)
        return moved


def _set_control(session: Session, name: str, value: dict[str, Any], now: datetime) -> None:
    row = session.get(Control, name)
    if row is None:
        session.add(Control(name=name, value=value, updated_at=now))
    else:
        row.value, row.updated_at = value, now


def _release_overdue(
    session: Session,
    *,
    now: datetime,
    actor: str | None,
    why: str,
    within: Window | None = None,
    channel_id: int | None = None,
) -> dict[str, int]:
    """Backlogs (overdue, or inside ``within``) get new times that keep their channel's limits."""
    due = func.coalesce(Publication.next_attempt_at, Publication.due_at)
    condition = due < now if within is None else and_(due >= within.starts_at, due < within.ends_at)
    query = select(Publication).where(
        Publication.state.in_([S.SCHEDULED.value, S.RETRY_WAIT.value, S.AWAITING_SIGNOFF.value]), condition
    )
    if channel_id is not None:
        query = query.where(Publication.channel_id == channel_id)
    by_channel: dict[int, list[Publication]] = {}
    for publication in session.scalars(query):
        by_channel.setdefault(publication.channel_id, []).append(publication)
    moved: dict[str, int] = {}
    start = now if within is None else within.ends_at
    for channel_id_, backlog in by_channel.items():
        channel = session.get(Channel, channel_id_)
        assert channel is not None
        schedule = schedule_of(session, channel_id_, lock=True)
        limited = schedule is not None and (schedule.max_per_day or schedule.min_spacing)
        if within is None and not limited:
            continue  # no limits to keep: the backlog goes as it is
        fixed = _booked(session, channel_id_, since=start - timedelta(days=1), exclude=[p.id for p in backlog])
        items = [Queued(p.id, parse_priority(p.post.priority), p.next_attempt_at or p.due_at) for p in backlog]
        windows = blackouts_for(session, channel_id_, after=start)
        # out of a blackout, a channel with a posting schedule takes its next free slots; a backlog
        # after a pause goes as soon as the channel's limits allow
        to_slots = within is not None and schedule is not None
        if to_slots and schedule is not None:
            times = allocate(schedule, now=start, fixed=fixed, queued=items, blackouts=windows)
        else:
            times = release(schedule, now=start, fixed=fixed, backlog=items, blackouts=windows)
        for publication in backlog:
            state = S(publication.state)
            target = S.AWAITING_SIGNOFF if state == S.AWAITING_SIGNOFF else S.SCHEDULED
            moved_from = publication.next_attempt_at or publication.due_at
            # stays where it is put: the queue must not pull it back before the blackout's end
            values: dict[str, Any] = {"due_at": times[publication.id], "next_attempt_at": None, "from_queue": False}
            transition(
                session,
                [publication],
                target,
                now=now,
                actor=actor,
                values=values,
                message=f"{why}: now due {times[publication.id].isoformat()}",
            )
            _note_move(session, publication, channel, moved_from, times[publication.id], why, now=now, actor=actor)
        moved[channel.name] = len(backlog)
    return moved


def add_blackout(
    db: Database,
    *,
    name: str,
    start: str,
    end: str,
    now: datetime,
    tz: str | None = None,
    channel: str | None = None,
    actor: str | None = None,
) -> tuple[int, dict[str, int]]:
    """Nothing publishes in [start, end) on ``channel`` (or everywhere); what was due inside moves
    to after it, within each channel's limits. Returns the blackout's id and the moves per channel."""
    if not name.strip():
        raise InvalidInput("a blackout needs a name that says why, e.g. 'annual closure'")
    begins = parse_due(start, tz, now=now, allow_past=True).utc
    ends = parse_due(end, tz, now=now, allow_past=True).utc
    window = Window(name, begins, ends)
    if ends <= now:
        raise InvalidInput(f"blackout {name!r} ends {ends.isoformat()}, which is already past")
    with db.transaction() as session:
        target = _channel(session, channel) if channel else None
        authorize(session, actor, Action.ADD_BLACKOUT, [target.org_id if target else None])
        row = Blackout(
            name=name, starts_at=begins, ends_at=ends, channel_id=target.id if target else None, created_at=now
        )
        session.add(row)
        session.flush()
        moved = _release_overdue(
            session,
            now=now,
            actor=actor,
            why=f"moved out of blackout {name!r}",
            within=window,
            channel_id=target.id if target else None,
        )
        record_event(
            session,
            "queue.blackout_added",
            now=now,
            channel_id=target.id if target else None,
            actor=actor,
            message=f"{name}: {begins.isoformat()} to {ends.isoformat()}"
            + (f" on {channel}" if channel else " on every channel"),
            data={"moved": moved},
        )
        return row.id, moved


def list_blackouts(db: Database, *, now: datetime) -> list[dict[str, Any]]:
    with db.transaction() as session:
        names = dict(session.execute(select(Channel.id, Channel.name)).all())
        return [
            {
                "id": row.id,
                "name": row.name,
                "starts_at": row.starts_at.isoformat(),
                "ends_at": row.ends_at.isoformat(),
                "channel": names.get(row.channel_id) if row.channel_id else "all",
            }
            for row in session.scalars(select(Blackout).where(Blackout.ends_at > now).order_by(Blackout.starts_at))
        ]


def remove_blackout(db: Database, blackout_id: int, *, now: datetime, actor: str | None = None) -> None:
    with db.transaction() as session:
        row = session.get(Blackout, blackout_id)
        if row is None:
            raise NotFound(f"no blackout with id {blackout_id}")
        owner = session.get(Channel, row.channel_id) if row.channel_id else None
        authorize(session, actor, Action.REMOVE_BLACKOUT, [owner.org_id if owner else None])
        session.delete(row)
        record_event(session, "queue.blackout_removed", now=now, actor=actor, message=row.name)
