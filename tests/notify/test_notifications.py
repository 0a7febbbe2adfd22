"""Notifications to people through the real flow: service functions make the events, the event log
reader makes the notifications, a real SMTP server (aiosmtpd) and a loopback HTTP receiver (through
apprise's json:// scheme) get the messages. Time moves with the test clock."""

from __future__ import annotations

import email
import email.policy
import shutil
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import insert, select

from scheduler import posts
from scheduler.editorial import overview, people, signoff
from scheduler.errors import InvalidInput, Refused
from scheduler.notify import eventlog
from scheduler.notify.notifications import (
    add_target,
    deliver_notifications,
    list_targets,
    preferences,
    remove_target,
    set_preference,
)
from scheduler.publishing.publications import mark_needs_reconnect
from scheduler.runtime import Runtime
from scheduler.store import Channel, Event, Notification, NotificationTarget, open_database
from tests.conftest import Clock, make_settings, throwaway_postgres
from tests.fakes.sink import Sink

BASE_URL = "https://crosspost.example.org"
START = datetime(2031, 3, 4, 5, 0, tzinfo=UTC)  # 05:00 UTC, two hours before the digest

# major posts are rita's to sign, all others sam's: both approvers, each named by one rule
POLICY = """
importances = ["routine", "major"]
formats = ["social"]
deadline_warning_hours = 2

[[rule]]
name = "major: rita"
importance = ["major"]
format = "*"
users = ["rita"]
required = 1
deadline_hours = 4

[[rule]]
name = "routine: sam"
importance = "*"
format = "*"
users = ["sam"]
required = 1
deadline_hours = 4
"""
PEOPLE = {"carol": ("collab", "contributor"), "rita": ("collab", "approver"), "sam": ("collab", "approver")}
PEOPLE |= {"alice": ("collab", "admin"), "pete": ("partner", "admin")}


@dataclass
class Mailbox:
    """What the SMTP server received."""

    messages: list[tuple[list[str], EmailMessage]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        with self.lock:
            self.messages.append((list(envelope.rcpt_tos), message))
        return "250 OK"

    def to(self, address: str) -> list[EmailMessage]:
        with self.lock:
            return [message for recipients, message in self.messages if address in recipients]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass
class Team:
    runtime: Runtime
    clock: Clock
    mailbox: Mailbox
    smtp: Controller | None
    port: int

    def deliver(self) -> tuple[int, int, int]:
        done = deliver_notifications(self.runtime, self.clock())
        return done.created, done.sent, done.failed

    def post(self, importance: str = "routine", *, hours: float = 48, text: str = "Higgs, ten years on") -> int:
        at = (self.clock() + timedelta(hours=hours)).isoformat()
        return posts.create_post(
            self.runtime.db,
            self.runtime.settings,
            text=text,
            channels=["collab-x"],
            at=at,
            importance=importance,
            actor="carol",
            now=self.clock(),
        )

    def start_smtp(self) -> None:
        self.smtp = Controller(self.mailbox, hostname="127.0.0.1", port=self.port)
        self.smtp.start()


def _sqlite(tmp_path: Path, sqlite_template: Path) -> str:
    shutil.copyfile(sqlite_template, tmp_path / "crosspost.db")
    return f"sqlite:///{tmp_path / 'crosspost.db'}"


def _team(tmp_path: Path, database_url: str, *, smtp_running: bool = True) -> Iterator[Team]:
    port = free_port()
    settings = make_settings(
        tmp_path / "data",
        database_url,
        smtp_host="127.0.0.1",
        smtp_port=port,
        smtp_starttls=False,
        smtp_from="crosspost@example.org",
        web_base_url=BASE_URL,
        webhook_allowed_hosts=frozenset({"127.0.0.1"}),  # the chat receivers listen on loopback
    )
    db = open_database(settings.database_url)
    clock = Clock(START)
    runtime = Runtime(settings=settings, db=db, clock=clock)
    people.add_org(db, name="collab", now=START)
    people.add_org(db, name="partner", kind="partner", now=START)
    for name, (org, role) in PEOPLE.items():
        people.add_user(db, name=name, email=f"{name}@example.org", now=START)
        people.set_role(db, user=name, org=org, role=role, now=START)
    signoff.set_policy(db, org="collab", text=POLICY, source="test", now=START)
    posts.add_channel(db, settings, name="collab-x", platform="x", dry_run=True, org="collab", now=START)
    team = Team(runtime, clock, Mailbox(), None, port)
    if smtp_running:
        team.start_smtp()
    try:
        yield team
    finally:
        if team.smtp is not None:
            team.smtp.stop()
        db.dispose()


@pytest.fixture
def team(tmp_path: Path, sqlite_template: Path) -> Iterator[Team]:
    yield from _team(tmp_path, _sqlite(tmp_path, sqlite_template))


@pytest.fixture(params=["sqlite", "postgresql"])
def team_on(request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path) -> Iterator[Team]:
    """The team on either database (PostgreSQL: a database of its own, so no cursor is left behind)."""
    if request.param == "sqlite":
        yield from _team(tmp_path, _sqlite(tmp_path, sqlite_template))
        return
    with throwaway_postgres("crosspost_notify") as url:
        yield from _team(tmp_path, url)


@pytest.fixture
def team_smtp_down(tmp_path: Path, sqlite_template: Path) -> Iterator[Team]:
    yield from _team(tmp_path, _sqlite(tmp_path, sqlite_template), smtp_running=False)


def _parts(message: EmailMessage) -> tuple[str, str]:
    plain, rich = message.get_body(("plain",)), message.get_body(("html",))
    assert plain is not None
    assert rich is not None
    return str(plain.get_content()), str(rich.get_content())


def test_the_rule_s_approver_hears_of_a_submission_and_the_author_of_the_approval(team_on: Team) -> None:
    team = team_on
    post_id = team.post("major", text="Ratio <b>5 & 6</b> measured")
    assert team.deliver() == (1, 1, 0)
    [notice] = team.mailbox.to("rita@example.org")
    assert notice["Subject"] == f"Post {post_id} waits for your sign-off"
    assert notice["From"] == "crosspost@example.org"
    text, html = _parts(notice)
    assert f"{BASE_URL}/posts/{post_id}" in text
    assert "collab's rule 'major: rita'" in text
    assert "Ratio <b>5 & 6</b> measured" in text
    assert "Ratio &lt;b&gt;5 &amp; 6&lt;/b&gt; measured" in html
    assert "<b>5" not in html
    assert f'<a href="{BASE_URL}/posts/{post_id}">' in html
    # sam signs routine posts only; the author does not hear of her own submission
    assert team.mailbox.to("sam@example.org") == team.mailbox.to("carol@example.org") == []

    signoff.approve(team.runtime.db, post_id, actor="rita", now=team.clock())
    assert team.deliver() == (1, 1, 0)
    [approved] = team.mailbox.to("carol@example.org")
    assert approved["Subject"] == f"Post {post_id} is approved"
    assert f"{BASE_URL}/posts/{post_id}" in _parts(approved)[0]
    # read again (the cursor stays behind recent events), nothing is made or sent twice
    team.clock.advance(120)
    assert team.deliver() == (0, 0, 0)
    assert len(team.mailbox.messages) == 2


def test_changes_requested_a_near_deadline_and_a_missed_one(team: Team) -> None:
    routine = team.post("routine", hours=5.5)
    team.deliver()
    assert [m["Subject"] for m in team.mailbox.to("sam@example.org")] == [f"Post {routine} waits for your sign-off"]
    # 2 h before the 4 h deadline: the sweep warns, and sam hears of it
    team.clock.advance(3600)
    overview.sweep_deadlines(team.runtime.db, now=team.clock())
    team.deliver()
    near = team.mailbox.to("sam@example.org")[-1]
    assert near["Subject"] == f"Post {routine}: the sign-off deadline on collab-x is near"
    signoff.request_changes(team.runtime.db, routine, actor="sam", text="Name the detector", now=team.clock())
    team.deliver()
    [changes] = team.mailbox.to("carol@example.org")
    assert changes["Subject"] == f"Changes requested on post {routine}"
    assert "sam asks for changes to" in _parts(changes)[0]
    assert "Name the detector" in _parts(changes)[0]
    # not resubmitted by its deadline: the publication waits for a person, and the author hears why
    team.clock.advance(3600)
    overview.sweep_deadlines(team.runtime.db, now=team.clock())
    team.deliver()
    attention = team.mailbox.to("carol@example.org")[-1]
    assert attention["Subject"] == f"Post {routine} needs attention on collab-x"
    assert "not signed off by its deadline" in _parts(attention)[0]
    assert team.mailbox.to("rita@example.org") == []


def test_chat_targets_and_admins_hear_of_a_channel_to_reconnect(team: Team) -> None:
    db, settings, now = team.runtime.db, team.runtime.settings, team.clock()
    with Sink() as personal, Sink() as room:
        add_target(db, settings, user="carol", url=f"json://127.0.0.1:{personal.server.server_address[1]}/c", now=now)
        org_target = add_target(
            db,
            settings,
            org="collab",
            url=f"json://127.0.0.1:{room.server.server_address[1]}/room?token=s3cret",
            kinds=["channel.needs_reconnect"],
            actor="alice",
            now=now,
        )
        assert org_target["url"] == "json://********"
        assert org_target["kinds"] == ["channel.needs_reconnect"]
        with db.transaction() as session:  # encrypted at rest
            stored = session.scalars(select(NotificationTarget.url)).all()
        assert all("127.0.0.1" not in url and "s3cret" not in url for url in stored)

        post_id = team.post("major")
        signoff.approve(db, post_id, actor="rita", now=team.clock())
        with db.transaction() as session:
            channel_id = session.scalar(select(Channel.id).where(Channel.name == "collab-x"))
        assert channel_id is not None
        mark_needs_reconnect(db, channel_id, "collab-x", "token revoked", now=team.clock())
        team.deliver()

        [chat] = [item.body for item in personal.state.received]
        assert chat["title"] == f"Post {post_id} is approved"
        assert f"{BASE_URL}/posts/{post_id}" in chat["message"]
        [alert] = [item.body for item in room.state.received]  # the room hears only what it asked for
        assert alert["title"] == "Channel collab-x needs reconnecting"
        assert "token revoked" in alert["message"]
    [admin] = team.mailbox.to("alice@example.org")
    assert admin["Subject"] == "Channel collab-x needs reconnecting"
    assert team.mailbox.to("pete@example.org") == []  # an admin of another organisation


def test_digest_sends_one_message_at_the_digest_hour_and_off_sends_nothing(team: Team) -> None:
    db = team.runtime.db
    set_preference(db, "sam", "post.submitted", "digest", actor="sam")
    set_preference(db, "carol", "post.approved", "off", actor="carol")
    assert preferences(db, "sam", actor="sam")["post.submitted"] == "digest"
    first, second = team.post(), team.post(text="Second one")
    signoff.approve(db, first, actor="sam", now=team.clock())
    team.deliver()
    team.clock.now = START.replace(hour=6, minute=59)
    team.deliver()
    assert team.mailbox.messages == []  # neither the digest before its hour, nor carol's approval (off)
    team.clock.now = START.replace(hour=7)
    assert team.deliver() == (0, 1, 0)
    [digest] = team.mailbox.to("sam@example.org")
    assert digest["Subject"] == "crosspost: 2 notifications (2031-03-04)"
    text, html = _parts(digest)
    for post_id in (first, second):
        assert f"Post {post_id} waits for your sign-off" in text
        assert f"{BASE_URL}/posts/{post_id}" in text
        assert f'href="{BASE_URL}/posts/{post_id}"' in html
    team.clock.advance(3600)
    assert team.deliver() == (0, 0, 0)
    with db.transaction() as session:
        assert session.scalars(select(Notification.recipient).where(Notification.kind == "post.approved")).all() == []


def test_smtp_down_is_retried_later_and_sent_once(team_smtp_down: Team) -> None:
    team = team_smtp_down
    post_id = team.post("major")
    assert team.deliver() == (1, 0, 1)
    with team.runtime.db.transaction() as session:
        row = session.scalars(select(Notification)).one()
        assert (row.state, row.attempts) == ("pending", 1)
        assert f"127.0.0.1:{team.port}" in (row.last_error or "")
        assert row.next_attempt_at == START + timedelta(minutes=1)
    team.start_smtp()
    assert team.deliver() == (0, 0, 0)  # not before its time
    team.clock.advance(60)
    assert team.deliver() == (0, 1, 0)
    team.clock.advance(3600)
    assert team.deliver() == (0, 0, 0)
    [notice] = team.mailbox.to("rita@example.org")
    assert notice["Subject"] == f"Post {post_id} waits for your sign-off"


def test_targets_and_preferences_are_checked(team: Team) -> None:
    db, settings, now = team.runtime.db, team.runtime.settings, team.clock()
    with pytest.raises(InvalidInput, match=r"apprise does not understand the chat URL 'nosuch://\*+'"):
        add_target(db, settings, user="carol", url="nosuch://token@host/x", now=now, actor="carol")
    with pytest.raises(InvalidInput, match="reaches this server's own desktop or log"):
        add_target(db, settings, user="carol", url="syslog://", now=now, actor="carol")
    with pytest.raises(Refused, match=r"manage notification targets \(of collab\) in collab"):
        add_target(db, settings, org="collab", url="json://127.0.0.1:9/x", now=now, actor="carol")
    with pytest.raises(Refused, match="change the notification preferences of sam"):
        set_preference(db, "sam", "post.submitted", "off", actor="carol")
    with pytest.raises(InvalidInput, match="unknown notification mode 'weekly'"):
        set_preference(db, "sam", "post.submitted", "weekly", actor="sam")
    with pytest.raises(InvalidInput, match=r"unknown notification kind 'post\.liked'"):
        add_target(db, settings, user="sam", url="json://127.0.0.1:9/x", kinds=["post.liked"], now=now, actor="sam")
    mine = add_target(db, settings, user="sam", url="json://127.0.0.1:9/x", now=now, actor="sam")
    assert [t["id"] for t in list_targets(db, settings, user="sam", actor="sam")] == [mine["id"]]
    remove_target(db, mine["id"], now=now, actor="sam")
    assert list_targets(db, settings, user="sam", actor="sam") == []


def test_the_cursor_waits_for_an_event_that_commits_late(team: Team) -> None:
    """Ids are taken at insert and seen at commit: a lower id can appear after a higher one."""
    db, now = team.runtime.db, team.clock()
    handed: list[int] = []
    with db.transaction() as session:
        top = session.scalar(select(Event.id).order_by(Event.id.desc()).limit(1)) or 0

    def follow() -> int:
        return eventlog.follow(db, "test", lambda _, events: handed.extend(e.id for e in events), now=team.clock())

    def add(event_id: int, at: datetime) -> None:
        with db.transaction() as session:
            session.execute(insert(Event).values(id=event_id, at=at, kind="test.event", data={}))

    follow()
    handed.clear()
    add(top + 5, now)  # committed first, although ...
    assert follow() == 1
    add(top + 3, now)  # ... this one took its id earlier and commits now
    assert follow() == 1
    assert handed == [top + 5, top + 3]
    assert follow() == 0  # each handed out once
    assert eventlog.position(db, "test") < top + 3
    team.clock.advance(eventlog.SETTLE.total_seconds() + 1)
    assert follow() == 0
    assert eventlog.position(db, "test") == top + 5
