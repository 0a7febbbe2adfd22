"""Each organisation's calendar as a subscribable .ics feed at a secret URL.

Calendar apps (Google Calendar, Outlook, Apple Calendar) subscribe to a URL and cannot send a
token, so the URL is the secret: ``<web_base_url>/feeds/<token>.ics``. Members read it; an admin
replaces it (the old URL stops working at once) when it has leaked. The feed holds the posts on
the organisation's channels and its own posts elsewhere, one event per channel at its due time,
and the awareness days, from ``FEED_PAST`` ago to ``FEED_AHEAD`` ahead.
"""

from __future__ import annotations

import datetime as dt
import re
import secrets

import icalendar
from sqlalchemy import or_, select

from scheduler.calendar import ics
from scheduler.calendar.visibility import visible_occurrences
from scheduler.editorial.authorization import Action, authorize
from scheduler.editorial.people import org_named
from scheduler.errors import NotFound
from scheduler.publishing.states import PublicationState as S
from scheduler.publishing.transitions import record_event
from scheduler.store import Channel, Database, Organisation, Post, Publication

FEED_PAST = dt.timedelta(days=180)
FEED_AHEAD = dt.timedelta(days=400)
MAX_POSTS = 5000  # a calendar app re-reads the whole feed every few hours: it stays small
SUMMARY_CHARS = 60
# what will go out, or went out; not drafts' withdrawn or failed attempts
SHOWN = (
    S.AWAITING_SIGNOFF,
    S.SCHEDULED,
    S.QUEUED,
    S.PUBLISHING,
    S.RETRY_WAIT,
    S.UNKNOWN,
    S.NEEDS_ATTENTION,
    S.PUBLISHED,
)
TOKEN_FORMAT = re.compile(r"[A-Za-z0-9_-]{20,64}")
PRODID = "-//crosspost//organisation calendar//EN"


def feed_url(
    db: Database, org: str, *, actor: str | None, base_url: str, now: dt.datetime, rotate: bool = False
) -> str:
    """The organisation's feed URL, made on first use; ``rotate`` replaces it (admins only)."""
    with db.transaction() as session:
        found = org_named(session, org)
        if rotate:
            authorize(session, actor, Action.MANAGE_MEMBERS, [found.id], doing="replace the calendar feed's URL")
        else:
            authorize(session, actor, Action.VIEW, [found.id], doing="read the calendar feed's URL")
        if rotate or found.feed_token is None:
            replaced = found.feed_token is not None
            found.feed_token = secrets.token_urlsafe(24)
            record_event(
                session,
                "org.feed_rotated" if replaced else "org.feed_created",
                now=now,
                actor=actor,
                message=f"calendar feed of {found.name} {'given a new URL' if replaced else 'created'}",
            )
        token = found.feed_token
    return f"{base_url.rstrip('/')}/feeds/{token}.ics"


def feed_ics(db: Database, token: str, *, base_url: str, now: dt.datetime) -> bytes:
    """The feed behind ``token``; ``NotFound`` for an unknown (or replaced) token."""
    if not TOKEN_FORMAT.fullmatch(token):
        raise NotFound("no calendar feed at this address")
    base = base_url.rstrip("/")
    start, end = now - FEED_PAST, now + FEED_AHEAD
    with db.read() as session:
        org = session.scalar(select(Organisation).where(Organisation.feed_token == token))
        if org is None:
            raise NotFound("no calendar feed at this address")
        org_id = org.id
        rows = session.execute(
            select(Publication.id, Publication.state, Publication.due_at, Publication.remote_url, Post, Channel.name)
            .join(Post, Post.id == Publication.post_id)
            .join(Channel, Channel.id == Publication.channel_id)
            .where(
                or_(Channel.org_id == org.id, Post.org_id == org.id),
                Publication.state.in_([state.value for state in SHOWN]),
                Publication.due_at >= start,
                Publication.due_at < end,
            )
            .order_by(Publication.due_at, Publication.id)
            .limit(MAX_POSTS)
        ).all()
        calendar = icalendar.Calendar()
        calendar.add("prodid", PRODID)
        calendar.add("version", "2.0")
        calendar.add("calscale", "GREGORIAN")
        calendar.add("method", "PUBLISH")
        calendar.add("x-wr-calname", f"{org.display_name} (crosspost)")
        for publication_id, state, due_at, remote_url, post, channel in rows:
            event = icalendar.Event()
            event.add("uid", f"publication-{publication_id}@crosspost")
            event.add("dtstamp", now)
            event.add("dtstart", due_at)
            event.add("dtend", due_at + dt.timedelta(minutes=15))  # an instant shows as a sliver in most apps
            event.add("summary", f"{channel}: {_first_words(post.title or post.text)}")
            event.add("status", "TENTATIVE" if state == S.AWAITING_SIGNOFF else "CONFIRMED")
            event.add("url", f"{base}/posts/{post.id}")
            lines = [f"{channel}: {state.replace('_', ' ')}", remote_url or "", post.text[:1000]]
            event.add("description", "\n".join(line for line in lines if line))
            event.add("categories", ["post", channel])
            event.add("transp", "TRANSPARENT")
            calendar.add_component(event)
    # the awareness days as `crosspost calendar export` writes them (one all-day event per occurrence)
    shown = visible_occurrences(db, [org_id], start.date(), end.date())  # another organisation's own days stay theirs
    days = icalendar.Calendar.from_ical(ics.export(shown, stamp=now))
    for day in days.walk("VEVENT"):
        calendar.add_component(day)
    return bytes(calendar.to_ical())


def _first_words(text: str) -> str:
    words = " ".join(text.split())
    if len(words) <= SUMMARY_CHARS:
        return words or "(no text)"
    cut = words[:SUMMARY_CHARS].rsplit(" ", 1)[0] or words[:SUMMARY_CHARS]
    return cut + "…"
