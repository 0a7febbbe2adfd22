"""Outbound webhooks: organisations subscribe URLs to event kinds; deliveries are signed the
Standard Webhooks way (https://www.standardwebhooks.com) and retried from the database.

Three steps, each safe to run in any number of dispatchers at once:

* **fan-out** (``fan_out``) follows the event log with the cursor ``webhooks``
  (``scheduler.notify.eventlog``, which never skips an id that commits late) and inserts one
  ``webhook_deliveries`` row per (subscription, event); ``UNIQUE(subscription_id, event_id)`` and
  an INSERT that ignores conflicts make that exactly once, whoever reads the event twice.
* **delivery** (``deliver_due``) claims due rows with a guarded UPDATE (a lease: a row in flight is
  not due for anyone else) and sends them from a small thread pool, so a slow receiver holds a
  thread for at most ``webhook_timeout``, never the dispatcher's round.
* **the log**: each attempt updates the row (attempts, last status, last error); a failure is
  tried again after ``RETRY_DELAYS`` (with jitter), then given up (``failed``); ``replay`` queues
  it again, with the same ``webhook-id``.

A URL is checked when it is subscribed and again before every attempt (a name may resolve
elsewhere tomorrow): http or https, and no address that is loopback, private, link-local,
multicast, reserved or unspecified (``media.fetch.refusal``, the check media URLs get) unless its
host is in ``webhook_allowed_hosts``. The connection goes to the address that was checked, not to
a second lookup; redirects are not followed.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import http.client
import ipaddress
import json
import logging
import random
import secrets
import socket
import ssl
import threading
from collections.abc import Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import wait as wait_for
from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote, urlsplit

from sqlalchemy import delete, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from media.fetch import refusal
from scheduler.credentials import decrypt_credentials, encrypt_credentials
from scheduler.editorial.authorization import Action, authorize
from scheduler.editorial.people import org_named
from scheduler.errors import ConfigurationError, InvalidInput, NotFound
from scheduler.notify import eventlog
from scheduler.publishing.transitions import record_event
from scheduler.redaction import redact, redact_url
from scheduler.runtime import Runtime
from scheduler.settings import Settings
from scheduler.store import (
    Campaign,
    Channel,
    Database,
    Event,
    Organisation,
    Post,
    Publication,
    WebhookDelivery,
    WebhookSubscription,
)

log = logging.getLogger(__name__)

CURSOR = "webhooks"
TEST_KIND = "webhook.test"

# What a subscriber may ask for, and the event-log kinds each comes from (docs/webhooks.md).
# A publication's kinds are its state machine's moves (transitions.apply records
# "publication.<state>"); a move to the state it was already in (a repeated lookup while unknown,
# a queue moving a post that awaits sign-off) is not news and is not sent.
KINDS: dict[str, tuple[str, ...]] = {
    "post.submitted": ("post.submitted", "post.resubmitted"),  # resubmitted: edited after sign-off
    "post.approved": ("post.approved",),
    "post.changes_requested": ("post.changes_requested",),
    "publication.published": ("publication.published",),
    "publication.failed": ("publication.failed",),
    "publication.unknown": ("publication.unknown",),
    "publication.needs_attention": ("publication.needs_attention",),
    "channel.needs_reconnect": ("channel.needs_reconnect",),
    "campaign.drafted": ("campaign.drafted",),
    "campaign.failed": ("campaign.failed",),
}
KIND_OF_EVENT = {source: kind for kind, sources in KINDS.items() for source in sources}

# Standard Webhooks' schedule: the first attempt at once, then after 5 s, 5 min, 30 min, 2 h, 5 h,
# 10 h and 10 h; the ninth failure gives up (about 28 hours in all).
RETRY_DELAYS = (5.0, 300.0, 1800.0, 7200.0, 18000.0, 36000.0, 36000.0)
MAX_ATTEMPTS = len(RETRY_DELAYS) + 1
JITTER = 0.1  # each wait is up to 10% longer, so a receiver back up is not hit by every retry at once
THREADS = 8
MAX_URL = 2000
MAX_ANSWER = 64 * 1024  # bytes of a receiver's answer read (and kept, shortened, as the error)
USER_AGENT = "crosspost-webhooks"


# -- subscriptions ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Subscribed:
    subscription: dict[str, Any]
    secret: str  # "whsec_...": shown once, never again


def subscribe(
    db: Database,
    settings: Settings,
    *,
    org: str,
    url: str,
    kinds: Sequence[str],
    now: datetime,
    actor: str | None = None,
    description: str | None = None,
) -> Subscribed:
    """Subscribe ``url`` to ``kinds`` of ``org``'s events ("*": all); returns the signing secret."""
    with db.transaction() as session:
        organisation = org_named(session, org)
        authorize(session, actor, Action.MANAGE_WEBHOOKS, [organisation.id], subject=f"of {org}")
        chosen = checked_kinds(kinds)
        check_url(url, settings.webhook_allowed_hosts)
        secret = "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()
        row = WebhookSubscription(
            org_id=organisation.id,
            url=url,
            kinds=chosen,
            secret=encrypt_credentials({"secret": secret}, settings).decode(),
            description=_description(description),
            active=True,
            created_by=actor,
            created_at=now,
        )
        session.add(row)
        session.flush()
        record_event(
            session,
            "webhook.subscribed",
            now=now,
            actor=actor,
            message=f"webhook {row.id} of {org}: {redact_url(url)} ({', '.join(chosen)})",
            data={"org": org, "webhook": row.id},
        )
        return Subscribed(subscription=_view(row, organisation.name), secret=secret)


def list_subscriptions(db: Database, *, org: str, actor: str | None = None) -> list[dict[str, Any]]:
    with db.read() as session:
        organisation = org_named(session, org)
        authorize(session, actor, Action.MANAGE_WEBHOOKS, [organisation.id], subject=f"of {org}")
        rows = session.scalars(
            select(WebhookSubscription)
            .where(WebhookSubscription.org_id == organisation.id)
            .order_by(WebhookSubscription.id)
        )
        return [_view(row, organisation.name) for row in rows]


def get_subscription(db: Database, subscription_id: int, *, actor: str | None = None) -> dict[str, Any]:
    with db.read() as session:
        row, org = _subscription(session, subscription_id, actor)
        return _view(row, org)


def update_subscription(
    db: Database,
    settings: Settings,
    subscription_id: int,
    *,
    now: datetime,
    actor: str | None = None,
    url: str | None = None,
    kinds: Sequence[str] | None = None,
    description: str | None = None,
    active: bool | None = None,
) -> dict[str, Any]:
    """Change what is given; a new URL is checked like a new subscription's."""
    with db.transaction() as session:
        row, org = _subscription(session, subscription_id, actor, lock=True)
        changed = []
        if url is not None:
            check_url(url, settings.webhook_allowed_hosts)
            row.url = url
            changed.append(f"url {redact_url(url)}")
        if kinds is not None:
            row.kinds = checked_kinds(kinds)
            changed.append(f"kinds {', '.join(row.kinds)}")
        if description is not None:
            row.description = _description(description)
            changed.append("description")
        if active is not None:
            row.active = active
            changed.append("active" if active else "paused")
        if changed:
            record_event(
                session,
                "webhook.changed",
                now=now,
                actor=actor,
                message=f"webhook {row.id} of {org}: {'; '.join(changed)}",
                data={"org": org, "webhook": row.id},
            )
        return _view(row, org)


def remove_subscription(db: Database, subscription_id: int, *, now: datetime, actor: str | None = None) -> None:
    """Remove a subscription and its delivery log."""
    with db.transaction() as session:
        row, org = _subscription(session, subscription_id, actor, lock=True)
        session.execute(delete(WebhookDelivery).where(WebhookDelivery.subscription_id == row.id))
        session.delete(row)
        record_event(
            session,
            "webhook.removed",
            now=now,
            actor=actor,
            message=f"webhook {subscription_id} of {org}: {redact_url(row.url)}",
            data={"org": org, "webhook": subscription_id},
        )


def checked_kinds(kinds: Iterable[str]) -> list[str]:
    chosen = [kind.strip() for kind in kinds if kind.strip()]
    if "*" in chosen or "all" in chosen:
        return list(KINDS)
    unknown = sorted(set(chosen) - set(KINDS))
    if unknown:
        raise InvalidInput(f"unknown event kind {', '.join(map(repr, unknown))}; the kinds are {', '.join(KINDS)}")
    if not chosen:
        raise InvalidInput(f"name at least one event kind (or *): {', '.join(KINDS)}")
    return sorted(set(chosen), key=list(KINDS).index)


def _description(text: str | None) -> str | None:
    if text is not None and len(text) > 300:
        raise InvalidInput(f"the description is {len(text)} characters; at most 300")
    return text or None


def _subscription(
    session: Session, subscription_id: int, actor: str | None, *, lock: bool = False
) -> tuple[WebhookSubscription, str]:
    row = session.get(WebhookSubscription, subscription_id, with_for_update=lock)
    if row is None:
        raise NotFound(f"no webhook with id {subscription_id}")
    org = session.get(Organisation, row.org_id)
    assert org is not None
    authorize(session, actor, Action.MANAGE_WEBHOOKS, [org.id], subject=f"webhook {subscription_id} of {org.name}")
    return row, org.name


def _view(row: WebhookSubscription, org: str) -> dict[str, Any]:
    return {
        "id": row.id,
        "org": org,
        "url": redact_url(row.url),
        "kinds": list(row.kinds),
        "description": row.description,
        "active": row.active,
        "created_by": row.created_by,
        "created_at": row.created_at.isoformat(),
    }


# -- URLs --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str  # lower case, IDNA-encoded; an IPv6 literal without brackets
    port: int
    path: str  # path and query, as sent
    addresses: tuple[tuple[socket.AddressFamily, Any], ...]  # checked: where the connection goes


def check_url(url: str, allowed_hosts: frozenset[str]) -> Target:
    """``url`` parsed and resolved, every address checked (``InvalidInput`` naming the problem)."""
    shown = redact_url(url)
    if len(url) > MAX_URL:
        raise InvalidInput(f"the URL is {len(url)} characters; at most {MAX_URL}")
    try:
        parts = urlsplit(url)
        host, port = parts.hostname, parts.port
    except ValueError as exc:  # an unclosed [, a port that is no number or over 65535
        raise InvalidInput(f"{shown}: not a valid URL ({exc})") from None
    if parts.scheme not in ("http", "https") or not host:
        raise InvalidInput(f"{shown}: a webhook URL must be http:// or https:// with a host")
    if port == 0 or any(ch in url for ch in "\r\n\t "):
        raise InvalidInput(f"{shown}: not a valid URL")
    if ":" not in host:
        try:
            host = host.encode("idna").decode("ascii")
        except UnicodeError:
            raise InvalidInput(f"{shown}: {host!r} is not a valid host name") from None
    port = port or (443 if parts.scheme == "https" else 80)
    try:
        answers = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise InvalidInput(f"{shown}: cannot resolve {host} ({getattr(exc, 'strerror', None) or exc})") from None
    allowed = host in {h.lower() for h in allowed_hosts}
    if not allowed:
        for *_, sockaddr in answers:
            reason = refusal(ipaddress.ip_address(str(sockaddr[0]).partition("%")[0]))
            if reason:
                raise InvalidInput(
                    f"{shown}: {host} resolves to {reason}; webhooks are not sent there "
                    "(allow the host in CROSSPOST_WEBHOOK_ALLOWED_HOSTS if it is yours)"
                )
    path = quote(parts.path or "/", safe="/%:@!$&'()*+,;=-._~")
    if parts.query:
        path += "?" + quote(parts.query, safe="/%:@!$&'()*+,;=-._~?")
    addresses = tuple((family, sockaddr) for family, _type, _proto, _name, sockaddr in answers)
    return Target(parts.scheme, host, port, path, addresses)


# -- fan-out -----------------------------------------------------------------------------------------


def fan_out(db: Database, settings: Settings, *, now: datetime) -> int:
    """One batch of the event log into deliveries; returns how many deliveries were made."""
    made = 0

    def handle(session: Session, events: Sequence[Event]) -> None:
        nonlocal made
        made += _fan_out(session, settings, events, now)

    eventlog.follow(db, CURSOR, handle, now=now, kinds=list(KIND_OF_EVENT))
    return made


def _fan_out(session: Session, settings: Settings, events: Sequence[Event], now: datetime) -> int:
    news = [e for e in events if e.kind in KIND_OF_EVENT and not (e.from_state and e.from_state == e.to_state)]
    if not news:
        return 0
    # a paused subscription's deliveries are made all the same, and sent once it is active again
    subscriptions = list(session.scalars(select(WebhookSubscription)))
    if not subscriptions:
        return 0
    context = _Context.load(session, news)
    rows = []
    for event in news:
        kind = KIND_OF_EVENT[event.kind]
        orgs = context.orgs_of(event)
        payload: dict[str, Any] | None = None
        for subscription in subscriptions:
            # a subscription hears of what happens after it was made, not of the history before
            if subscription.org_id not in orgs or kind not in subscription.kinds or event.at < subscription.created_at:
                continue
            payload = payload or context.payload(event, kind, settings)
            rows.append(
                {
                    "subscription_id": subscription.id,
                    "event_id": event.id,
                    "message_id": _message_id(),
                    "kind": kind,
                    "payload": payload,
                    "state": "pending",
                    "attempts": 0,
                    "next_attempt_at": now,
                    "created_at": now,
                }
            )
    if not rows:
        return 0
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    # a second reader of the same events (another dispatcher, a restart) inserts nothing
    statement = insert(WebhookDelivery).on_conflict_do_nothing(index_elements=["subscription_id", "event_id"])
    result = session.execute(statement.returning(WebhookDelivery.id), rows)
    return len(result.all())


def _message_id() -> str:
    return "msg_" + secrets.token_urlsafe(18)


@dataclass
class _Context:
    """What a batch of events refers to, read once: posts, publications, channels, campaigns."""

    posts: dict[int, Post]
    publications: dict[int, Publication]
    channels: dict[int, Channel]
    post_channels: dict[int, set[int]]  # post -> its channels
    campaign_orgs: dict[int, int | None]
    org_names: dict[int, str]

    @classmethod
    def load(cls, session: Session, events: Sequence[Event]) -> _Context:
        post_ids = {e.post_id for e in events if e.post_id is not None}
        publications = {
            p.id: p
            for p in session.scalars(
                select(Publication).where(
                    Publication.id.in_({e.publication_id for e in events if e.publication_id is not None})
                    | Publication.post_id.in_(post_ids)
                )
            )
        }
        post_channels: dict[int, set[int]] = {}
        for publication in publications.values():
            post_channels.setdefault(publication.post_id, set()).add(publication.channel_id)
        channel_ids = {e.channel_id for e in events if e.channel_id is not None}
        channel_ids |= {p.channel_id for p in publications.values()}
        campaign_ids = {int(e.data["campaign"]) for e in events if isinstance((e.data or {}).get("campaign"), int)}
        return cls(
            posts={p.id: p for p in session.scalars(select(Post).where(Post.id.in_(post_ids)))},
            publications=publications,
            channels={c.id: c for c in session.scalars(select(Channel).where(Channel.id.in_(channel_ids)))},
            post_channels=post_channels,
            campaign_orgs=dict(
                session.execute(select(Campaign.id, Campaign.org_id).where(Campaign.id.in_(campaign_ids))).all()
            ),
            org_names=dict(session.execute(select(Organisation.id, Organisation.name)).all()),
        )

    def orgs_of(self, event: Event) -> set[int]:
        """Whose event it is: the post's organisation and those of the channels it concerns (the
        post's channels for a post's event), the channel's, the campaign's."""
        orgs: set[int | None] = set()
        if event.post_id is not None:
            post = self.posts.get(event.post_id)
            orgs.add(post.org_id if post else None)
            if event.channel_id is None:
                channels = self.post_channels.get(event.post_id, set()) & set(self.channels)
                orgs |= {self.channels[c].org_id for c in channels}
        if event.channel_id is not None and event.channel_id in self.channels:
            orgs.add(self.channels[event.channel_id].org_id)
        campaign = (event.data or {}).get("campaign")
        if isinstance(campaign, int):
            orgs.add(self.campaign_orgs.get(campaign))
        return {org for org in orgs if org is not None}

    def payload(self, event: Event, kind: str, settings: Settings) -> dict[str, Any]:
        post = self.posts.get(event.post_id) if event.post_id is not None else None
        publication = self.publications.get(event.publication_id) if event.publication_id is not None else None
        channel = self.channels.get(event.channel_id) if event.channel_id is not None else None
        base = settings.web_base_url.rstrip("/")  # where crosspost's API and web app answer
        links: dict[str, str] = {}
        if post is not None:
            links["post"] = f"{base}/api/v1/posts/{post.id}"
        if publication is not None and publication.remote_url and kind == "publication.published":
            links["published"] = publication.remote_url
        data: dict[str, Any] = {
            "event_id": event.id,
            "event": event.kind,
            "organisation": self.org_names.get(post.org_id) if post and post.org_id else None,
            "post_id": event.post_id,
            "publication_id": event.publication_id,
            "channel": channel.name if channel else None,
            "platform": channel.platform if channel else None,
            "state": event.to_state or (post.review if post and kind.startswith("post.") else None),
            "actor": event.actor,
            "message": event.message,
            "links": links,
        }
        if post is not None and post.title:
            data["title"] = post.title
        if isinstance((event.data or {}).get("campaign"), int):
            data["campaign_id"] = event.data["campaign"]
        return {"type": kind, "timestamp": _iso(event.at), "data": data}


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


# -- delivery ----------------------------------------------------------------------------------------


def sign(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` header: v1, then base64 HMAC-SHA256 of "id.timestamp.body" keyed
    with the secret's bytes (the base64 after ``whsec_``)."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{message_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()


def body_of(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()


_pool: ThreadPoolExecutor | None = None
_in_flight: set[Future[None]] = set()
_pool_lock = threading.Lock()


def deliver_due(runtime: Runtime, *, now: datetime, wait: bool = False) -> list[Future[None]]:
    """Claim what is due (as many as there are free threads, at most ``webhook_batch``) and send it
    from the pool; returns the sends started (``wait``: after they ended)."""
    global _pool
    with _pool_lock:
        _in_flight.difference_update([f for f in _in_flight if f.done()])
        room = min(runtime.settings.webhook_batch, 2 * THREADS - len(_in_flight))
        if _pool is None:
            _pool = ThreadPoolExecutor(THREADS, thread_name_prefix="crosspost-webhook")
        pool = _pool
    claimed = _claim(runtime.db, now=now, limit=room, lease=_lease(runtime.settings)) if room > 0 else []
    futures = [pool.submit(_attempt, runtime, delivery_id) for delivery_id in claimed]
    with _pool_lock:
        _in_flight.update(futures)
    if wait:
        wait_for(futures)
    return futures


def settle(timeout: float | None = None) -> None:
    """Wait for the sends in flight in this process (tests, shutting down)."""
    with _pool_lock:
        pending = list(_in_flight)
    wait_for(pending, timeout=timeout)


def _lease(settings: Settings) -> timedelta:
    # longer than one send can take (its watchdog ends it at webhook_timeout): a row claimed by a
    # process that died is due again after this
    return timedelta(seconds=2 * settings.webhook_timeout + 30)


def _claim(db: Database, *, now: datetime, limit: int, lease: timedelta) -> list[int]:
    with db.transaction() as session:
        due = session.execute(
            select(WebhookDelivery.id, WebhookDelivery.next_attempt_at)
            .join(WebhookSubscription, WebhookSubscription.id == WebhookDelivery.subscription_id)
            .where(
                WebhookDelivery.state == "pending",
                WebhookDelivery.next_attempt_at <= now,
                WebhookSubscription.active.is_(True),
            )
            .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id)
            .limit(limit)
        ).all()
        claimed = []
        for delivery_id, seen in due:
            # guarded: another dispatcher that claimed it first moved next_attempt_at
            moved = session.execute(
                update(WebhookDelivery)
                .where(
                    WebhookDelivery.id == delivery_id,
                    WebhookDelivery.state == "pending",
                    WebhookDelivery.next_attempt_at == seen,
                )
                .values(next_attempt_at=now + lease)
            )
            if moved.rowcount:  # type: ignore[attr-defined]
                claimed.append(delivery_id)
        return claimed


def _attempt(runtime: Runtime, delivery_id: int) -> None:
    try:
        attempt(runtime, delivery_id)
    except Exception:
        log.exception("webhook delivery %s failed; it is tried again when its lease ends", delivery_id)


@dataclass(frozen=True)
class Outcome:
    status: int | None
    error: str | None

    @property
    def delivered(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


def attempt(runtime: Runtime, delivery_id: int, *, retry: bool = True) -> dict[str, Any]:
    """Send one claimed delivery and log the attempt: delivered, due again later, or failed."""
    settings = runtime.settings
    with runtime.db.read() as session:
        delivery = session.get(WebhookDelivery, delivery_id)
        if delivery is None:
            raise NotFound(f"no webhook delivery with id {delivery_id}")
        subscription = session.get(WebhookSubscription, delivery.subscription_id)
        assert subscription is not None
        url, sealed, payload, message_id = subscription.url, subscription.secret, delivery.payload, delivery.message_id
        secret = _secret(sealed, settings, subscription.id)
    outcome = send(settings, url, secret, message_id, payload, runtime.clock())
    finished = runtime.clock()
    with runtime.db.transaction() as session:
        row = session.get(WebhookDelivery, delivery_id, with_for_update=True)
        if row is None:
            raise NotFound(f"no webhook delivery with id {delivery_id}")  # removed with its subscription meanwhile
        row.attempts += 1
        row.last_status, row.last_error = outcome.status, outcome.error
        if outcome.delivered:
            row.state, row.next_attempt_at, row.delivered_at = "delivered", None, finished
        elif retry and row.attempts < MAX_ATTEMPTS:
            wait = RETRY_DELAYS[row.attempts - 1] * (1 + random.uniform(0, JITTER))
            row.state, row.next_attempt_at = "pending", finished + timedelta(seconds=wait)
        else:
            row.state, row.next_attempt_at = "failed", None
        return delivery_view(row)


def _secret(sealed: str, settings: Settings, subscription_id: int) -> str:
    try:
        data = decrypt_credentials(sealed.encode(), settings, f"webhook {subscription_id}")
    except ConfigurationError:
        raise ConfigurationError(
            f"cannot decrypt the secret of webhook {subscription_id}: CROSSPOST_SECRET_KEY is not the one it was "
            "stored with (remove it and subscribe again)"
        ) from None
    assert data is not None
    return str(data["secret"])


def send(settings: Settings, url: str, secret: str, message_id: str, payload: dict[str, Any], now: datetime) -> Outcome:
    """One POST, checked and signed; any failure is an outcome, never an exception."""
    try:
        target = check_url(url, settings.webhook_allowed_hosts)
    except InvalidInput as refused:
        return Outcome(None, str(refused))
    body = body_of(payload)
    timestamp = int(now.timestamp())
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign(secret, message_id, timestamp, body),
    }
    connection = _Pinned(target, settings.webhook_timeout)
    try:
        connection.request("POST", target.path, body=body, headers=headers)
        response = connection.getresponse()
        try:
            answer = response.read(MAX_ANSWER)
        finally:
            response.close()
    except (OSError, http.client.HTTPException) as exc:
        reason = "no answer within the time limit" if connection.expired else (str(exc) or type(exc).__name__)
        return Outcome(None, redact(f"{redact_url(url)}: {reason}"))
    finally:
        connection.close()
    if 200 <= response.status < 300:
        return Outcome(response.status, None)
    if 300 <= response.status < 400:
        location = response.getheader("Location") or "no Location"
        return Outcome(response.status, redact(f"redirects are not followed ({response.status} to {location})"))
    text = answer[:300].decode("utf-8", "replace").strip()
    return Outcome(response.status, redact(f"the receiver answered {response.status}" + (f": {text}" if text else "")))


class _Pinned(http.client.HTTPConnection):
    """http.client connected to an address ``check_url`` checked (no second lookup), TLS verified
    for the host name, ended by a watchdog at the time limit whatever the receiver does."""

    def __init__(self, target: Target, timeout: float) -> None:
        super().__init__(target.host, target.port, timeout=timeout)
        self.target = target
        self.expired = False
        self.default_port = 443 if target.scheme == "https" else 80  # the Host header names no default port
        self._watchdog = threading.Timer(timeout, self._expire)
        self._watchdog.daemon = True
        self._watchdog.start()

    def _expire(self) -> None:
        self.expired = True
        if self.sock is not None:
            with suppress(OSError):
                self.sock.shutdown(socket.SHUT_RDWR)

    def connect(self) -> None:
        failure: OSError | None = None
        for family, sockaddr in self.target.addresses:
            sock = socket.socket(family, socket.SOCK_STREAM)
            sock.settimeout(self.timeout)
            try:
                sock.connect(sockaddr)
            except OSError as exc:
                sock.close()
                failure = exc
                continue
            if self.target.scheme == "https":
                sock = _tls().wrap_socket(sock, server_hostname=self.target.host)
            self.sock = sock
            if self.expired:
                self._expire()
            return
        raise failure or OSError("no address to connect to")

    def close(self) -> None:
        self._watchdog.cancel()
        super().close()


_context: ssl.SSLContext | None = None


def _tls() -> ssl.SSLContext:
    global _context
    if _context is None:
        _context = ssl.create_default_context()
    return _context


# -- the log, replay, test -----------------------------------------------------------------------------


def delivery_view(row: WebhookDelivery) -> dict[str, Any]:
    return {
        "id": row.id,
        "webhook": row.subscription_id,
        "event_id": row.event_id,
        "message_id": row.message_id,
        "kind": row.kind,
        "state": row.state,
        "attempts": row.attempts,
        "next_attempt_at": row.next_attempt_at.isoformat() if row.next_attempt_at else None,
        "last_status": row.last_status,
        "last_error": row.last_error,
        "created_at": row.created_at.isoformat(),
        "delivered_at": row.delivered_at.isoformat() if row.delivered_at else None,
    }


def list_deliveries(
    db: Database,
    subscription_id: int,
    *,
    actor: str | None = None,
    limit: int = 50,
    before: int | None = None,
    state: str | None = None,
) -> list[dict[str, Any]]:
    """A subscription's deliveries, newest first (``before``: ids below it, for the next page)."""
    if state is not None and state not in ("pending", "delivered", "failed"):
        raise InvalidInput(f"unknown delivery state {state!r}: pending, delivered or failed")
    with db.read() as session:
        _subscription(session, subscription_id, actor)
        query = (
            select(WebhookDelivery)
            .where(WebhookDelivery.subscription_id == subscription_id)
            .order_by(WebhookDelivery.id.desc())
            .limit(limit)
        )
        if before is not None:
            query = query.where(WebhookDelivery.id < before)
        if state is not None:
            query = query.where(WebhookDelivery.state == state)
        return [delivery_view(row) for row in session.scalars(query)]


def replay(db: Database, delivery_id: int, *, now: datetime, actor: str | None = None) -> dict[str, Any]:
    """Send a delivery again, with its ``webhook-id`` and body, through the whole retry schedule."""
    with db.transaction() as session:
        row = session.get(WebhookDelivery, delivery_id, with_for_update=True)
        if row is None:
            raise NotFound(f"no webhook delivery with id {delivery_id}")
        _, org = _subscription(session, row.subscription_id, actor)
        row.state, row.attempts, row.next_attempt_at, row.delivered_at = "pending", 0, now, None
        record_event(
            session,
            "webhook.replayed",
            now=now,
            actor=actor,
            message=f"delivery {row.id} ({row.kind}) of webhook {row.subscription_id} of {org} queued again",
            data={"org": org, "webhook": row.subscription_id, "delivery": row.id},
        )
        return delivery_view(row)


def send_test(runtime: Runtime, subscription_id: int, *, actor: str | None = None) -> dict[str, Any]:
    """Send a ``webhook.test`` ping now and return how it went (one attempt, logged, not retried)."""
    now = runtime.clock()
    with runtime.db.transaction() as session:
        subscription, org = _subscription(session, subscription_id, actor)
        row = WebhookDelivery(
            subscription_id=subscription.id,
            event_id=None,
            message_id=_message_id(),
            kind=TEST_KIND,
            payload={
                "type": TEST_KIND,
                "timestamp": _iso(now),
                "data": {"webhook": subscription.id, "organisation": org, "message": "a test from crosspost"},
            },
            state="pending",
            attempts=0,
            next_attempt_at=now + _lease(runtime.settings),  # in flight: no dispatcher takes it meanwhile
            created_at=now,
        )
        session.add(row)
        session.flush()
        delivery_id = row.id
    return attempt(runtime, delivery_id, retry=False)
