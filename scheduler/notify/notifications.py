"""Notifications to people: who hears of what (the approval policy decides), by email and chat.

A reader of the event log (cursor ``notifications``) turns each event a person should hear of into
rows in ``notifications``, one per recipient (an email address, ``user:<id>``, or a chat target,
``target:<id>``), kind and event: the unique key makes each exactly-once however often the event
is read. Rows are sent at once or kept for the daily digest (each person's preference per kind),
retried with backoff from the database, and given up after ``MAX_ATTEMPTS``.

Who hears what:

- approvers of the rule that holds a post (``signoff.needs_of``: the people the rule names, and the
  members whose role qualifies) hear of its submission and of a sign-off deadline near;
- the author hears of its approval, of change requests and of a publication that failed or needs
  attention;
- the admins of a channel's organisation hear that it needs reconnecting.

An organisation's chat targets hear what concerns the organisation; a person's chat targets hear
what the person hears, following the person's preferences.
"""

from __future__ import annotations

import html
import ipaddress
import logging
import smtplib
import socket
import threading
import warnings
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import make_msgid
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import delete, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from media.fetch import refusal
from scheduler.credentials import decrypt_credentials, encrypt_credentials
from scheduler.editorial.authorization import Action, authorize
from scheduler.editorial.people import org_named, user_named
from scheduler.editorial.signoff import load_post, needs_of
from scheduler.errors import InvalidInput, NotFound, Refused
from scheduler.notify import eventlog
from scheduler.publishing.transitions import record_event
from scheduler.redaction import MASK, redact, remember_url
from scheduler.runtime import Runtime
from scheduler.settings import Settings
from scheduler.store import (
    Channel,
    Database,
    Event,
    Membership,
    Notification,
    NotificationPreference,
    NotificationTarget,
    Organisation,
    Post,
    Publication,
    User,
)

log = logging.getLogger("crosspost.notify")

CURSOR = "notifications"

# What a person can hear of, and what it means; a preference is set per kind.
KINDS: dict[str, str] = {
    "post.submitted": "a post waits for a sign-off you may give",
    "approval.deadline_near": "the sign-off deadline of a post you may sign is near",
    "post.approved": "your post is signed off",
    "post.changes_requested": "changes are requested on your post",
    "publication.failed": "your post failed on a channel",
    "publication.needs_attention": "your post needs a person's decision on a channel",
    "channel.needs_reconnect": "a channel of your organisation needs reconnecting (admins)",
}
# event kind -> the kind of notification it makes (a post that needs a new sign-off is submitted again)
EVENT_KINDS: dict[str, str] = {kind: kind for kind in KINDS} | {"post.resubmitted": "post.submitted"}
MODES = ("now", "digest", "off")
DEFAULT_MODE = "now"

MAX_ATTEMPTS = 6
RETRY_BASE = timedelta(minutes=1)
RETRY_CAP = timedelta(hours=1)
# a claimed row waits this long before another round takes it again (its sender died mid-send)
CLAIM_LEASE = timedelta(minutes=5)
# at most BATCH sends of at most SMTP_TIMEOUT each: a claimed batch ends well within CLAIM_LEASE
BATCH = 20
SMTP_TIMEOUT = 10.0
EXCERPT = 280
# apprise services that act on the machine crosspost runs on (its desktop, system log, a USB light):
# nobody reads them there, and a person must not make the server do things through them
SERVER_LOCAL_PLUGINS = frozenset({"dbus", "glib", "gnome", "macosx", "windows", "syslog", "blink1"})
# apprise services whose URL host is an account or sender domain: they post to the service's own
# address, so that host is not where the server connects
SERVICE_ADDRESS_PLUGINS = frozenset({"mailgun", "sendpulse", "smtp2go", "sparkpost", "wechat"})


def _apprise() -> Any:
    """apprise, imported when first needed; its plugins import the deprecated ``imghdr``, whose
    warning says nothing to crosspost's users."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="'imghdr' is deprecated", category=DeprecationWarning)
        import apprise
        from apprise.apprise import N_MGR

        N_MGR.load_modules()  # type: ignore[no-untyped-call]  # every plugin now, in this block
    return apprise


# -- preferences -------------------------------------------------------------------------------------


def _check_kind(kind: str) -> str:
    if kind not in KINDS:
        raise InvalidInput(f"unknown notification kind {kind!r}; known: {', '.join(KINDS)}")
    return kind


def _check_mode(mode: str) -> str:
    if mode not in MODES:
        raise InvalidInput(f"unknown notification mode {mode!r}; use one of: {', '.join(MODES)}")
    return mode


def _may_manage_person(session: Session, actor: str | None, person: User, doing: str) -> None:
    """A person manages their own notifications; the operator and an admin of one of their
    organisations may too."""
    if actor is None or actor == person.name:
        return
    orgs = session.scalars(select(Membership.org_id).where(Membership.user_id == person.id)).all()
    if not orgs:
        raise Refused(f"rule 'roles': only {person.name} may {doing}")
    authorize(session, actor, Action.MANAGE_NOTIFICATIONS, orgs, any_of=True, doing=doing, or_also=person.name)


def preferences(db: Database, user: str, *, actor: str | None = None) -> dict[str, str]:
    """How ``user`` hears of each kind: now, digest or off (now unless set)."""
    with db.transaction() as session:
        person = user_named(session, user)
        _may_manage_person(session, actor, person, f"see the notification preferences of {user}")
        chosen = dict(
            session.execute(
                select(NotificationPreference.kind, NotificationPreference.mode).where(
                    NotificationPreference.user_id == person.id
                )
            ).all()
        )
    return {kind: chosen.get(kind, DEFAULT_MODE) for kind in KINDS}


def set_preference(db: Database, user: str, kind: str, mode: str, *, actor: str | None = None) -> dict[str, str]:
    """``user`` hears of ``kind`` at once (now), in the daily digest, or not at all (off)."""
    return set_preferences(db, user, {kind: mode}, actor=actor)


def set_preferences(db: Database, user: str, modes: dict[str, str], *, actor: str | None = None) -> dict[str, str]:
    """Several kinds at once: all are checked before any is stored. Returns every kind's mode."""
    for kind, mode in modes.items():
        _check_kind(kind)
        _check_mode(mode)
    with db.transaction() as session:
        person = user_named(session, user)
        _may_manage_person(session, actor, person, f"change the notification preferences of {user}")
        rows = {
            row.kind: row
            for row in session.scalars(
                select(NotificationPreference).where(NotificationPreference.user_id == person.id)
            )
        }
        for kind, mode in modes.items():
            if kind in rows:
                rows[kind].mode = mode
            else:
                session.add(NotificationPreference(user_id=person.id, kind=kind, mode=mode))
    return preferences(db, user, actor=actor)


# -- chat targets ------------------------------------------------------------------------------------


def shown_url(url: str) -> str:
    """An apprise URL for display: its scheme only (tokens sit in its host, path, userinfo or query)."""
    scheme, separator, _ = url.partition("://")
    return f"{scheme}://{MASK}" if separator and scheme.isascii() and scheme.isalnum() else MASK


def check_apprise_url(url: str) -> str:
    """The URL, stripped, if apprise knows how to send to it; otherwise InvalidInput naming it."""
    url = url.strip()
    if not url:
        raise InvalidInput("the chat URL is empty; e.g. slack://TokenA/TokenB/TokenC or mmost://host/token")
    if len(url) > 2000:
        raise InvalidInput("the chat URL is longer than 2,000 characters")
    plugin = _plugin(url)
    if plugin is None:
        raise InvalidInput(
            f"apprise does not understand the chat URL {shown_url(url)!r} (check the scheme and its "
            "tokens: https://github.com/caronc/apprise/wiki)"
        )
    if type(plugin).__module__.rpartition(".")[2] in SERVER_LOCAL_PLUGINS:
        raise InvalidInput(f"the chat URL {shown_url(url)!r} reaches this server's own desktop or log, not people")
    return url


def _plugin(url: str) -> Any:
    """apprise's plugin for ``url``, or None when apprise does not understand it."""
    apprise = _apprise()
    # apprise logs the URLs it reads or refuses, quoting them: masked in every log of this process
    remember_url(url)
    with apprise.LogCapture(level=logging.DEBUG):
        return apprise.Apprise.instantiate(url)


def chat_host(url: str) -> str | None:
    """The host a chat URL makes the server connect to (json://host, mmost://host, ...), lower case
    and without brackets; None when the service is reached at its own address (slack://, ntfy://topic)."""
    plugin = _plugin(url)
    if plugin is None:
        return None
    module = type(plugin).__module__.rpartition(".")[2]
    if module in SERVICE_ADDRESS_PLUGINS:
        return None
    # a plugin whose URL has no {host} keeps tokens where the host would be (slack://TokenA/...)
    if not any("{host}" in template for template in getattr(type(plugin), "templates", ())):
        return None
    host = getattr(plugin, "host", None)
    if host is None:
        try:
            host = urlsplit(url).hostname
        except ValueError:
            return None
    host = str(host or "").strip("[]").partition("%")[0].lower()
    if module == "xmatters" and "." not in host:
        return None  # a bare name is the organisation's xmatters.com address
    return host or None


def check_chat_host(url: str, allowed_hosts: frozenset[str]) -> None:
    """InvalidInput when the chat URL's host resolves to a loopback, private or link-local address
    (the check webhooks and media URLs get), unless the host is in ``allowed_hosts``: anyone may
    add a personal target, and none may make the server call its own network."""
    host = chat_host(url)
    if host is None or host in {allowed.lower() for allowed in allowed_hosts}:
        return
    shown = shown_url(url)
    try:
        answers = socket.getaddrinfo(host if ":" in host else host.encode("idna").decode("ascii"), None)
    except (OSError, UnicodeError) as exc:
        raise InvalidInput(
            f"the chat URL {shown!r}: cannot resolve its host {host} ({getattr(exc, 'strerror', None) or exc})"
        ) from None
    for *_, sockaddr in answers:
        reason = refusal(ipaddress.ip_address(str(sockaddr[0]).partition("%")[0]))
        if reason:
            raise InvalidInput(
                f"the chat URL {shown!r}: its host {host} resolves to {reason}; chat messages are not sent "
                "there (allow the host in CROSSPOST_WEBHOOK_ALLOWED_HOSTS if it is yours)"
            )


def _check_kinds(kinds: Iterable[str]) -> list[str]:
    return sorted({_check_kind(kind) for kind in kinds})


def add_target(
    db: Database,
    settings: Settings,
    *,
    url: str,
    now: datetime,
    org: str | None = None,
    user: str | None = None,
    kinds: Sequence[str] = (),
    actor: str | None = None,
) -> dict[str, Any]:
    """A chat URL (apprise) for an organisation (an admin adds it) or a person (for themselves).
    ``kinds`` limits what it hears; empty: every kind. The URL is stored encrypted: it holds tokens."""
    if (org is None) == (user is None):
        raise InvalidInput("a chat target belongs to an organisation or to a person: give one of --org, --user")
    url = check_apprise_url(url)
    chosen = _check_kinds(kinds)
    sealed = encrypt_credentials({"url": url}, settings).decode()
    with db.transaction() as session:
        owner_org = org_named(session, org) if org is not None else None
        person = user_named(session, user) if user is not None else None
        if owner_org is not None:
            authorize(session, actor, Action.MANAGE_NOTIFICATIONS, [owner_org.id], subject=f"of {owner_org.name}")
        elif person is not None:
            _may_manage_person(session, actor, person, f"add a chat target for {person.name}")
        check_chat_host(url, settings.webhook_allowed_hosts)  # once allowed: no probing of hosts
        target = NotificationTarget(
            org_id=owner_org.id if owner_org else None,
            user_id=person.id if person else None,
            url=sealed,
            kinds=chosen,
            created_at=now,
        )
        session.add(target)
        session.flush()
        record_event(
            session,
            "notification.target_added",
            now=now,
            actor=actor,
            message=f"chat target {target.id} ({shown_url(url)}) for "
            + (f"organisation {org}" if org else f"user {user}"),
            data={"target": target.id, "org": org, "user": user, "kinds": chosen},
        )
        return _target_view(session, target, url)


def _target_view(session: Session, target: NotificationTarget, url: str) -> dict[str, Any]:
    org = session.get(Organisation, target.org_id) if target.org_id else None
    person = session.get(User, target.user_id) if target.user_id else None
    return {
        "id": target.id,
        "org": org.name if org else None,
        "user": person.name if person else None,
        "url": shown_url(url),
        "kinds": list(target.kinds),  # empty: every kind
        "created_at": target.created_at.isoformat(),
    }


def _url_of(target: NotificationTarget, settings: Settings) -> str:
    data = decrypt_credentials(target.url.encode(), settings, f"notification target {target.id}")
    url = str((data or {}).get("url", ""))
    remember_url(url)  # masked wherever this process writes it from now on
    return url


def list_targets(
    db: Database,
    settings: Settings,
    *,
    org: str | None = None,
    user: str | None = None,
    actor: str | None = None,
) -> list[dict[str, Any]]:
    """The chat targets of an organisation or a person (both None: every target; the operator)."""
    with db.transaction() as session:
        query = select(NotificationTarget).order_by(NotificationTarget.id)
        if org is not None:
            owner = org_named(session, org)
            doing = f"see the notification targets of {org}"
            authorize(session, actor, Action.MANAGE_NOTIFICATIONS, [owner.id], doing=doing)
            query = query.where(NotificationTarget.org_id == owner.id)
        elif user is not None:
            person = user_named(session, user)
            _may_manage_person(session, actor, person, f"see the chat targets of {user}")
            query = query.where(NotificationTarget.user_id == person.id)
        elif actor is not None:
            raise InvalidInput("say whose chat targets: an organisation or a person")
        return [_target_view(session, target, _url_of(target, settings)) for target in session.scalars(query)]


def remove_target(
    db: Database,
    target_id: int,
    *,
    now: datetime,
    actor: str | None = None,
    org: str | None = None,
    user: str | None = None,
) -> None:
    """Remove a chat target (only if it is ``org``'s or ``user``'s, when given), and what it had
    still to send."""
    with db.transaction() as session:
        target = session.get(NotificationTarget, target_id)
        owner = session.get(Organisation, target.org_id) if target and target.org_id else None
        person = session.get(User, target.user_id) if target and target.user_id else None
        if (
            target is None
            or (org is not None and (owner is None or owner.name != org))
            or (user is not None and (person is None or person.name != user))
        ):
            whose = f" of organisation {org}" if org else f" of {user}" if user else ""
            raise NotFound(f"no chat target {target_id}{whose}")
        if owner is not None:
            authorize(session, actor, Action.MANAGE_NOTIFICATIONS, [owner.id], subject=f"of {owner.name}")
        else:
            assert person is not None
            _may_manage_person(session, actor, person, f"remove a chat target of {person.name}")
        session.execute(
            delete(Notification).where(Notification.recipient == f"target:{target_id}", Notification.state == "pending")
        )
        session.delete(target)
        record_event(
            session,
            "notification.target_removed",
            now=now,
            actor=actor,
            message=f"chat target {target_id}",
            data={"target": target_id},
        )


# -- who hears what ----------------------------------------------------------------------------------


@dataclass
class Notice:
    """What an event says to people: the kind, the words, and who hears it."""

    kind: str
    subject: str
    body: str
    link: str | None
    people: set[int] = field(default_factory=set)  # user ids
    orgs: set[int] = field(default_factory=set)  # organisations whose chat targets hear it


def _excerpt(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= EXCERPT else text[: EXCERPT - 1] + "…"


def _post_link(settings: Settings, post_id: int) -> str:
    return f"{settings.web_base_url.rstrip('/')}/posts/{post_id}"


def _users_named(session: Session, names: Iterable[str | None]) -> set[int]:
    wanted = {name for name in names if name}
    if not wanted:
        return set()
    return set(session.scalars(select(User.id).where(User.name.in_(wanted), User.disabled_at.is_(None))))


def _approvers(session: Session, post: Post, publication_id: int | None) -> tuple[set[int], set[int]]:
    """Who may sign the post (or one publication of it) under the rule that holds it, and their
    organisations: named people, and members whose role qualifies."""
    people: set[int] = set()
    orgs: set[int] = set()
    for need_of, need in needs_of(session, post).items():
        if publication_id is not None and need_of != publication_id:
            continue
        if need.rule is None or need.org is None or need.required == 0 or need.blocked is not None:
            continue
        orgs.add(need.org.id)
        members = session.execute(
            select(User.id, User.name, Membership.role)
            .join(Membership, Membership.user_id == User.id)
            .where(Membership.org_id == need.org.id, User.disabled_at.is_(None))
        ).all()
        people |= {user_id for user_id, name, role in members if need.qualifies(user=name, role=role)}
        people |= _users_named(session, need.rule.users)
    return people, orgs


def _admins(session: Session, org_id: int | None) -> set[int]:
    """The admins of an organisation; of the host organisations for a channel nobody owns."""
    query = (
        select(User.id)
        .join(Membership, Membership.user_id == User.id)
        .where(Membership.role == "admin", User.disabled_at.is_(None))
    )
    if org_id is None:
        query = query.join(Organisation, Organisation.id == Membership.org_id).where(Organisation.kind == "host")
    else:
        query = query.where(Membership.org_id == org_id)
    return set(session.scalars(query))


def notice_of(session: Session, settings: Settings, event: Event) -> Notice | None:
    """What ``event`` tells whom; None: nobody needs to hear of it."""
    kind = EVENT_KINDS.get(event.kind)
    if kind is None:
        return None
    if kind == "channel.needs_reconnect":
        channel = session.get(Channel, event.channel_id) if event.channel_id else None
        if channel is None:
            return None
        link = f"{settings.web_base_url.rstrip('/')}/channels/{channel.name}"
        body = event.message or f"{channel.name} needs reconnecting: crosspost channel reconnect {channel.name}"
        notice = Notice(kind, f"Channel {channel.name} needs reconnecting", body, link)
        notice.people = _admins(session, channel.org_id)
        notice.orgs = {channel.org_id} if channel.org_id else set()
        return notice
    if event.post_id is None:
        return None
    try:
        post = load_post(session, event.post_id, lock=False)
    except NotFound:
        return None
    link = _post_link(settings, post.id)
    text = _excerpt(post.text or post.title or "")
    who = event.actor or "the operator"
    channel = session.get(Channel, event.channel_id) if event.channel_id else None
    on = f" on {channel.name}" if channel else ""
    if kind == "post.submitted":
        people, orgs = _approvers(session, post, None)
        again = " again: its content changed" if event.kind == "post.resubmitted" else ""
        subject = f"Post {post.id} waits for your sign-off"
        body = f"{post.author or who} submitted post {post.id} for sign-off{again}.\n{event.message or ''}\n\n{text}"
        # people do not sign off what they wrote: its author and submitter already know
        people -= _users_named(session, [post.author, event.actor])
        return Notice(kind, subject, body.strip(), link, people, orgs)
    if kind == "approval.deadline_near":
        people, orgs = _approvers(session, post, event.publication_id)
        people -= _users_named(session, [post.author])
        subject = f"Post {post.id}: the sign-off deadline{on} is near"
        body = f"{event.message or ''}\n\n{text}"
        return Notice(kind, subject, body.strip(), link, people, orgs)
    author = _users_named(session, [post.author])
    own = {post.org_id} if post.org_id else set()
    if kind == "post.approved":
        body = f"Post {post.id} is signed off: it will publish as scheduled.\n\n{text}"
        return Notice(kind, f"Post {post.id} is approved", body, link, author, own)
    if kind == "post.changes_requested":
        body = f"{who} asks for changes to post {post.id}:\n{event.message or ''}\n\n{text}"
        return Notice(
            kind, f"Changes requested on post {post.id}", body, link, author - _users_named(session, [who]), own
        )
    publication = session.get(Publication, event.publication_id) if event.publication_id else None
    reason = (publication.last_error if publication else None) or event.message or ""
    if kind == "publication.failed":
        subject = f"Post {post.id} failed{on}"
        body = f"Post {post.id} was not published{on}: {reason}\n\n{text}"
    else:
        subject = f"Post {post.id} needs attention{on}"
        body = f"Post {post.id} waits for a person's decision{on}: {reason}\n\n{text}"
    orgs = own | ({channel.org_id} if channel and channel.org_id else set())
    return Notice(kind, subject, body, link, author, orgs)


def next_digest(settings: Settings, after: datetime) -> datetime:
    """The first digest time (``digest_hour`` UTC) after ``after``."""
    moment = after.astimezone(UTC).replace(hour=settings.digest_hour, minute=0, second=0, microsecond=0)
    return moment if moment > after else moment + timedelta(days=1)


def _fan_out(session: Session, settings: Settings, events: Sequence[Event], now: datetime) -> int:
    """Notifications for ``events``, each made once (an event read again adds nothing); returns
    how many recipients were found."""
    rows: list[dict[str, Any]] = []
    for event in events:
        notice = notice_of(session, settings, event)
        if notice is None:
            continue
        for recipient, mode in _recipients(session, settings, notice):
            rows.append(
                {
                    "recipient": recipient,
                    "kind": notice.kind,
                    "event_id": event.id,
                    "subject": notice.subject[:300],
                    "body": notice.body,
                    "link": notice.link,
                    "mode": mode,
                    "state": "pending",
                    "attempts": 0,
                    "next_attempt_at": now if mode == "now" else next_digest(settings, now),
                    "created_at": now,
                }
            )
    if rows:
        insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
        session.execute(
            insert(Notification).on_conflict_do_nothing(index_elements=["recipient", "kind", "event_id"]), rows
        )
    return len(rows)


def _recipients(session: Session, settings: Settings, notice: Notice) -> list[tuple[str, str]]:
    """(recipient, mode) for each address and chat target that hears ``notice``."""
    found: dict[str, str] = {}
    if notice.people:
        modes = dict(
            session.execute(
                select(NotificationPreference.user_id, NotificationPreference.mode).where(
                    NotificationPreference.user_id.in_(notice.people), NotificationPreference.kind == notice.kind
                )
            ).all()
        )
        for user_id, email in session.execute(select(User.id, User.email).where(User.id.in_(notice.people))).all():
            mode = modes.get(user_id, DEFAULT_MODE)
            if mode != "off" and email and settings.smtp_host:
                found[f"user:{user_id}"] = mode
        for target in session.scalars(select(NotificationTarget).where(NotificationTarget.user_id.in_(notice.people))):
            mode = modes.get(target.user_id or 0, DEFAULT_MODE)
            if mode != "off" and (not target.kinds or notice.kind in target.kinds):
                found[f"target:{target.id}"] = mode
    if notice.orgs:
        for target in session.scalars(select(NotificationTarget).where(NotificationTarget.org_id.in_(notice.orgs))):
            if not target.kinds or notice.kind in target.kinds:
                found.setdefault(f"target:{target.id}", "now")
    return sorted(found.items())


# -- sending -----------------------------------------------------------------------------------------


class DeliveryFailed(Exception):
    """One message could not be sent; its row is retried later."""


@dataclass
class Delivery:
    """What one round did: notifications made from events, messages sent, failures (retried or given up)."""

    created: int = 0
    sent: int = 0
    failed: int = 0


@dataclass(frozen=True)
class _Claimed:
    ids: list[int]
    recipient: str
    subject: str
    text: str
    html: str
    attempts: int


def deliver_notifications(runtime: Runtime, now: datetime) -> Delivery:
    """One round: read new events into notifications, send what is due now, and the digests that
    are due. The dispatcher's outbound hook calls it every round."""
    db, settings = runtime.db, runtime.settings
    delivery = Delivery()

    def handle(session: Session, events: Sequence[Event]) -> None:
        delivery.created += _fan_out(session, settings, events, now)

    eventlog.follow(db, CURSOR, handle, now=now, kinds=EVENT_KINDS)
    for message in _claim(db, now):
        try:
            _send(db, settings, message)
        except Exception as failure:  # one message that cannot go must not hold the others
            _failed(db, message, str(failure) or type(failure).__name__, now)
            delivery.failed += 1
        else:
            _sent(db, message, now)
            delivery.sent += 1
    return delivery


_round_lock = threading.Lock()
_round: threading.Thread | None = None


def deliver_in_background(runtime: Runtime, now: datetime) -> bool:
    """``deliver_notifications`` in its own thread, so that a slow SMTP server or chat service
    never holds the dispatcher's round; skipped (False) while the previous round still runs."""
    global _round
    with _round_lock:
        if _round is not None and _round.is_alive():
            return False
        _round = threading.Thread(
            target=_logged_round, args=(runtime, now), name="crosspost-notifications", daemon=True
        )
        _round.start()
        return True


def _logged_round(runtime: Runtime, now: datetime) -> None:
    try:
        deliver_notifications(runtime, now)
    except Exception:
        log.exception("notification round failed; trying again next round")


def _claim(db: Database, now: datetime) -> list[_Claimed]:
    """Due rows, taken for CLAIM_LEASE so that no other round sends them meanwhile: one message
    per row sent at once, one per recipient for the digest rows."""
    with db.transaction() as session:
        rows = list(
            session.scalars(
                select(Notification)
                .where(Notification.state == "pending", Notification.next_attempt_at <= now)
                .order_by(Notification.id)
                .limit(BATCH)
                .with_for_update(skip_locked=True)
            )
        )
        if not rows:
            return []
        session.execute(
            update(Notification)
            .where(Notification.id.in_([row.id for row in rows]))
            .values(next_attempt_at=now + CLAIM_LEASE)
        )
        claimed = [
            _Claimed([row.id], row.recipient, row.subject, *_single(row), row.attempts)
            for row in rows
            if row.mode == "now"
        ]
        digests: dict[str, list[Notification]] = {}
        for row in rows:
            if row.mode == "digest":
                digests.setdefault(row.recipient, []).append(row)
        for recipient, items in digests.items():
            subject = f"crosspost: {len(items)} notification{'s' if len(items) != 1 else ''} ({now:%Y-%m-%d})"
            claimed.append(
                _Claimed([row.id for row in items], recipient, subject, *_digest(items), max(r.attempts for r in items))
            )
        return claimed


def _single(row: Notification) -> tuple[str, str]:
    text = row.body + (f"\n\n{row.link}" if row.link else "")
    paragraphs = "".join(f"<p>{html.escape(part).replace(chr(10), '<br>')}</p>" for part in row.body.split("\n\n"))
    link = f'<p><a href="{html.escape(row.link)}">{html.escape(row.link)}</a></p>' if row.link else ""
    return text, f"<!doctype html><html><body>{paragraphs}{link}</body></html>"


def _digest(rows: Sequence[Notification]) -> tuple[str, str]:
    text = "\n\n".join(f"- {row.subject}" + (f"\n  {row.link}" if row.link else "") for row in rows)
    items = "".join(
        f"<li>{html.escape(row.subject)}"
        + (f' <a href="{html.escape(row.link)}">{html.escape(row.link)}</a>' if row.link else "")
        + "</li>"
        for row in rows
    )
    return text, f"<!doctype html><html><body><ul>{items}</ul></body></html>"


def _send(db: Database, settings: Settings, message: _Claimed) -> None:
    what, _, number = message.recipient.partition(":")
    with db.transaction() as session:
        if what == "user":
            user = session.get(User, int(number))
            address = user.email if user else None
            url = None
        else:
            target = session.get(NotificationTarget, int(number))
            url = _url_of(target, settings) if target else None
            address = None
    if what == "user":
        if not address:
            raise DeliveryFailed("the person has no email address")
        send_email(settings, address, message.subject, message.text, message.html)
    else:
        if not url:
            raise DeliveryFailed("the chat target was removed")
        send_chat(url, message.subject, message.text, settings.webhook_allowed_hosts)


def send_email(settings: Settings, to: str, subject: str, text: str, html_body: str) -> None:
    """One multipart message (plain text and HTML) through the configured SMTP server."""
    if not settings.smtp_host:
        raise DeliveryFailed("email is off: CROSSPOST_SMTP_HOST is not set")
    email = EmailMessage()
    email["From"] = settings.smtp_from
    email["To"] = to
    email["Subject"] = subject
    email["Message-ID"] = make_msgid(domain=settings.smtp_from.rpartition("@")[2] or None)
    email.set_content(text)
    email.add_alternative(html_body, subtype="html")
    try:
        with smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=SMTP_TIMEOUT) as smtp:
            if settings.smtp_starttls:
                smtp.starttls()
            if settings.smtp_username:
                password = settings.smtp_password.get_secret_value() if settings.smtp_password else ""
                smtp.login(settings.smtp_username, password)
            smtp.send_message(email)
    except (OSError, smtplib.SMTPException) as exc:
        raise DeliveryFailed(f"SMTP {settings.smtp_host}:{settings.smtp_port}: {exc}") from None


def send_chat(url: str, title: str, body: str, allowed_hosts: frozenset[str]) -> None:
    """One chat message through apprise; what apprise logged on failure is the error. Its host is
    checked again first: a name may resolve elsewhere today."""
    try:
        check_chat_host(url, allowed_hosts)
    except InvalidInput as refused:
        raise DeliveryFailed(str(refused)) from None
    apprise = _apprise()

    sender = apprise.Apprise()
    with apprise.LogCapture(level=logging.WARNING, fmt="%(message)s") as captured:
        if not sender.add(url):
            raise DeliveryFailed(f"apprise does not understand {shown_url(url)}")
        sent = sender.notify(title=title, body=body)
    if not sent:
        said = " ".join(captured.getvalue().split())
        raise DeliveryFailed(f"{shown_url(url)}: {said or 'apprise could not send it'}")


def _sent(db: Database, message: _Claimed, now: datetime) -> None:
    with db.transaction() as session:
        session.execute(
            update(Notification)
            .where(Notification.id.in_(message.ids))
            .values(
                state="sent",
                sent_at=now,
                next_attempt_at=None,
                attempts=Notification.attempts + 1,
                last_error=None,
            )
        )


def _failed(db: Database, message: _Claimed, error: str, now: datetime) -> None:
    attempts = message.attempts + 1
    error = redact(error)[:2000]
    log.warning("notification to %s not sent (attempt %d): %s", message.recipient, attempts, error)
    values: dict[str, Any] = {"attempts": attempts, "last_error": error}
    if attempts >= MAX_ATTEMPTS:
        values |= {"state": "failed", "next_attempt_at": None}
    else:
        values["next_attempt_at"] = now + min(RETRY_CAP, RETRY_BASE * 2 ** (attempts - 1))
    with db.transaction() as session:
        session.execute(update(Notification).where(Notification.id.in_(message.ids)).values(**values))


# -- a test message ----------------------------------------------------------------------------------


def _chat_sender(url: str, subject: str, text: str, allowed_hosts: frozenset[str]) -> Callable[[], None]:
    return lambda: send_chat(url, subject, text, allowed_hosts)


def send_test(runtime: Runtime, user: str, *, actor: str | None = None) -> list[str]:
    """Send a test message to ``user``'s email and personal chat targets now; one line per channel
    says whether it went (nothing is queued or retried)."""
    settings = runtime.settings
    with runtime.db.transaction() as session:
        person = user_named(session, user)
        _may_manage_person(session, actor, person, f"send a test notification to {user}")
        email = person.email
        targets = [
            (target.id, _url_of(target, settings))
            for target in session.scalars(select(NotificationTarget).where(NotificationTarget.user_id == person.id))
        ]
    subject = "crosspost: a test notification"
    text = f"This is a test notification for {user}: crosspost can reach you here.\n\n{settings.web_base_url}"
    html_body = f"<!doctype html><html><body><p>{html.escape(text)}</p></body></html>"
    outcomes: list[str] = []
    attempts: list[tuple[str, Callable[[], None]]] = []
    if email and settings.smtp_host:
        attempts.append((f"email to {email}", lambda: send_email(settings, email, subject, text, html_body)))
    else:
        outcomes.append("email: off" + (" (no CROSSPOST_SMTP_HOST)" if email else f" ({user} has no email address)"))
    for target_id, url in targets:
        attempts.append(
            (
                f"chat target {target_id} ({shown_url(url)})",
                _chat_sender(url, subject, text, settings.webhook_allowed_hosts),
            )
        )
    for label, send in attempts:
        try:
            send()
        except DeliveryFailed as failure:
            outcomes.append(f"{label}: failed: {redact(str(failure))}")
        else:
            outcomes.append(f"{label}: sent")
    return outcomes
