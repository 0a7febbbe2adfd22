"""SQLAlchemy models: the database is the only source of truth for what is scheduled and its state."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    false,
    text,
    true,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


class UTCDateTime(TypeDecorator[datetime]):
    """Stored as naive UTC on every backend, returned as aware UTC; refuses naive input."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


class Base(DeclarativeBase):
    type_annotation_map = {datetime: UTCDateTime, dict[str, Any]: JSON, list[str]: JSON}


class Organisation(Base):
    """The host collaboration or a partner; owns channels and has its own approval policy."""

    __tablename__ = "organisations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    display_name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(10), default="host")  # host | partner
    policy: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # None: the default policy
    # the secret part of the organisation's subscribable .ics feed URL; None: no feed
    feed_token: Mapped[str | None] = mapped_column(String(64), unique=True, index=True)
    created_at: Mapped[datetime]


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    display_name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(320))
    password_hash: Mapped[str | None] = mapped_column(String(200))  # Argon2id (scheduler.accounts)
    # the TOTP second factor's secret, encrypted with the settings secret; None: no second factor
    totp_secret: Mapped[str | None] = mapped_column(Text)
    password_changed_at: Mapped[datetime | None]
    disabled_at: Mapped[datetime | None]
    created_at: Mapped[datetime]


class Membership(Base):
    """A user's role in one organisation: contributor < editor < approver < admin."""

    __tablename__ = "memberships"
    __table_args__ = (UniqueConstraint("user_id", "org_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"), index=True)
    role: Mapped[str] = mapped_column(String(20))


class Channel(Base):
    """A named account on a platform, e.g. ``cms-x`` on X."""

    __tablename__ = "channels"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    platform: Mapped[str] = mapped_column(String(30))
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    language: Mapped[str | None] = mapped_column(String(16))
    dry_run: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[str] = mapped_column(String(30), default="active")
    credentials: Mapped[bytes | None] = mapped_column(LargeBinary)  # Fernet token, never plain text
    options: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # the options that are secrets (a webhook's URL: its path often is the key), as a Fernet token
    secret_options: Mapped[bytes | None] = mapped_column(LargeBinary)
    org_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id"), index=True)
    created_at: Mapped[datetime]


class Post(Base):
    """One piece of content, adapted per channel by its publications."""

    __tablename__ = "posts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    text: Mapped[str] = mapped_column(Text, default="")
    title: Mapped[str | None] = mapped_column(String(300))
    link: Mapped[str | None] = mapped_column(Text)
    language: Mapped[str | None] = mapped_column(String(16))
    # the base text may go out on channels of another language (post create --any-language)
    any_language: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    author: Mapped[str | None] = mapped_column(String(200))
    version: Mapped[int] = mapped_column(Integer, default=1)
    content_hash: Mapped[str] = mapped_column(String(64))
    org_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id"), index=True)
    importance: Mapped[str] = mapped_column(String(30), default="routine", server_default="routine")
    format: Mapped[str] = mapped_column(String(30), default="social", server_default="social")
    priority: Mapped[str] = mapped_column(String(10), default="normal", server_default="normal")
    # draft | submitted | changes_requested | approved (editorial.py); approved when nothing is required
    review: Mapped[str] = mapped_column(String(20), default="approved", server_default="approved")
    share_id: Mapped[int | None] = mapped_column(Integer)  # set on a partner's copy of a shared post
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    variants: Mapped[list[PostVariant]] = relationship(
        order_by="PostVariant.id", cascade="all, delete-orphan", lazy="selectin"
    )
    media: Mapped[list[PostMedia]] = relationship(
        order_by="PostMedia.position", cascade="all, delete-orphan", lazy="selectin"
    )
    # loaded on demand: the worker's hot path reads a post without its publications
    publications: Mapped[list[Publication]] = relationship(back_populates="post", order_by="Publication.id")


class StoredFile:
    """The columns of a file in the content-addressed media store, as a post or a campaign holds it."""

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    position: Mapped[int] = mapped_column(Integer)
    path: Mapped[str] = mapped_column(Text)  # inside the content-addressed media store
    original_name: Mapped[str] = mapped_column(Text)
    sha256: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(10))  # image | video
    mime: Mapped[str] = mapped_column(String(100))
    bytes: Mapped[int] = mapped_column(BigInteger)
    width: Mapped[int | None] = mapped_column(Integer)
    height: Mapped[int | None] = mapped_column(Integer)
    alt_text: Mapped[str | None] = mapped_column(Text)
    # the point (0..1 from the left, 0..1 from the top) every crop keeps; None: found automatically
    focus_x: Mapped[float | None] = mapped_column(Float)
    focus_y: Mapped[float | None] = mapped_column(Float)


class PostMedia(StoredFile, Base):
    __tablename__ = "post_media"

    post_id: Mapped[int] = mapped_column(ForeignKey("posts.id", ondelete="CASCADE"), index=True)


class PostVariant(Base):
    """The post's text in another language, or for one channel; signed off on its own hash."""

    __tablename__ = "post_variants"
    __table_args__ = (UniqueConstraint("post_id", "language", "channel_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    post_id: Mapped[int] = mapped_column(ForeignKey("posts.id", ondelete="CASCADE"), index=True)
    language: Mapped[str | None] = mapped_column(String(16))
    channel_id: Mapped[int | None] = mapped_column(ForeignKey("channels.id"))
    text: Mapped[str] = mapped_column(Text)
    title: Mapped[str | None] = mapped_column(String(300))
    content_hash: Mapped[str] = mapped_column(String(64))
    updated_at: Mapped[datetime]


def _partial(name: str, column: Any, *, where: str) -> Index:
    """A partial index on PostgreSQL and SQLite; ``where`` spells booleans as ``{true}``/``{false}``."""
    return Index(
        name,
        column,
        postgresql_where=text(where.format(true="true", false="false")),
        sqlite_where=text(where.format(true="1", false="0")),
    )


class Publication(Base):
    """A post on one channel, with the state machine of ``scheduler.publishing.states``."""

    __tablename__ = "publications"
    __table_args__ = (
        UniqueConstraint("post_id", "channel_id"),
        Index("ix_publications_state_due", "state", "due_at"),
        # The dispatcher's periodic queries read only rows they may act on, however large the
        # backlog (issue 15): partial indexes whose WHERE is the query's own condition, written
        # as the query renders it (literals, SQLAlchemy's boolean spelling per dialect) so both
        # planners can prove the match.
        _partial(
            "ix_publications_dispatchable",
            text("coalesce(next_attempt_at, due_at)"),
            where="state IN ('scheduled', 'retry_wait') AND media_ready IS {true}",
        ),
        _partial(
            "ix_publications_needing_media",
            "media_requested_at",
            where="media_ready IS {false} AND state IN ('awaiting_signoff', 'scheduled', 'retry_wait')",
        ),
        _partial("ix_publications_queued_lease", "lease_until", where="state = 'queued'"),
        _partial("ix_publications_publishing_lease", "lease_until", where="state = 'publishing'"),
        _partial("ix_publications_unknown_next", "next_attempt_at", where="state = 'unknown'"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    post_id: Mapped[int] = mapped_column(ForeignKey("posts.id"), index=True)
    channel_id: Mapped[int] = mapped_column(ForeignKey("channels.id"), index=True)
    state: Mapped[str] = mapped_column(String(20), index=True)
    due_at: Mapped[datetime] = mapped_column(index=True)
    due_zone: Mapped[str | None] = mapped_column(String(64))
    next_attempt_at: Mapped[datetime | None]
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    dispatch_token: Mapped[str | None] = mapped_column(String(36))
    lease_owner: Mapped[str | None] = mapped_column(String(200))
    lease_until: Mapped[datetime | None]
    idempotency_key: Mapped[str] = mapped_column(String(36))
    published_version: Mapped[int | None] = mapped_column(Integer)
    remote_id: Mapped[str | None] = mapped_column(String(200))
    remote_url: Mapped[str | None] = mapped_column(Text)
    last_error: Mapped[str | None] = mapped_column(Text)
    published_at: Mapped[datetime | None]
    # Renditions for this channel are made ahead of time; a row is dispatched only once they exist.
    media_ready: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    # "as soon as it is signed off" (post create --now, the API's "now"): no sign-off deadline, and
    # the due time becomes the moment of the sign-off
    immediate: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    media_requested_at: Mapped[datetime | None]
    variant_id: Mapped[int | None] = mapped_column(ForeignKey("post_variants.id", ondelete="SET NULL"))
    # placed by the channel's posting schedule ("add to queue"): the queue may move it for a higher priority
    from_queue: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    queued_at: Mapped[datetime | None]
    deadline_warned: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # the platform's handle, saved by the adapter before its irreversible step (ports.PublishContext)
    checkpoint: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # when the row last entered ``unknown``: reconciliation's lookups and its window count from here
    unknown_since: Mapped[datetime | None]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    post: Mapped[Post] = relationship(back_populates="publications", lazy="joined")
    channel: Mapped[Channel] = relationship(lazy="joined")


class Rendition(Base):
    """A file made for one publication's channel from one of the post's media (or a thumbnail)."""

    __tablename__ = "renditions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    publication_id: Mapped[int] = mapped_column(ForeignKey("publications.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(12))  # image | video | thumbnail
    path: Mapped[str] = mapped_column(Text)  # relative to the media store
    original_name: Mapped[str] = mapped_column(Text)
    mime: Mapped[str] = mapped_column(String(100))
    bytes: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    width: Mapped[int | None] = mapped_column(Integer)
    height: Mapped[int | None] = mapped_column(Integer)
    alt_text: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]


class SignOff(Base):
    """Who signed which exact version (content hash) for which organisation, and when.

    Append-only like the event log (triggers refuse UPDATE and DELETE).
    """

    __tablename__ = "signoffs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime]
    post_id: Mapped[int] = mapped_column(Integer, index=True)
    post_version: Mapped[int] = mapped_column(Integer)
    variant: Mapped[str] = mapped_column(String(120))  # "base", "language es", "channel cms-x"
    content_hash: Mapped[str] = mapped_column(String(64))
    org: Mapped[str] = mapped_column(String(100))
    signer: Mapped[str] = mapped_column(String(100))
    role: Mapped[str] = mapped_column(String(20))
    rule: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(10))  # signed | carried (a trivial edit kept the sign-off)
    note: Mapped[str | None] = mapped_column(Text)


class Comment(Base):
    """A comment or change request on a post, with the version it was about."""

    __tablename__ = "comments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime]
    post_id: Mapped[int] = mapped_column(ForeignKey("posts.id", ondelete="CASCADE"), index=True)
    post_version: Mapped[int] = mapped_column(Integer)
    author: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(20))  # comment | change_request
    text: Mapped[str] = mapped_column(Text)


class Share(Base):
    """The host offers an approved post to a partner, who may adopt it on its own channels."""

    __tablename__ = "shares"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    post_id: Mapped[int] = mapped_column(ForeignKey("posts.id"), index=True)
    from_org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"))
    to_org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"))
    may_edit: Mapped[bool] = mapped_column(Boolean, default=False)
    state: Mapped[str] = mapped_column(String(12))  # offered | adopted | withdrawn
    derived_post_id: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class ChannelSchedule(Base):
    """A channel's time slots, daily maximum and spacing (``scheduler.planning.slots.PostingSchedule``)."""

    __tablename__ = "posting_schedules"

    channel_id: Mapped[int] = mapped_column(ForeignKey("channels.id", ondelete="CASCADE"), primary_key=True)
    document: Mapped[dict[str, Any]] = mapped_column(JSON)
    updated_at: Mapped[datetime]


class Blackout(Base):
    """Nothing publishes in [starts_at, ends_at), on one channel or (channel_id NULL) on all."""

    __tablename__ = "blackouts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime] = mapped_column(index=True)
    channel_id: Mapped[int | None] = mapped_column(ForeignKey("channels.id", ondelete="CASCADE"))
    created_at: Mapped[datetime]


class Worker(Base):
    """A worker node (a Celery worker or `crosspost up`) and its heartbeat.

    A node that stops beating held messages no broker will hand back soon (reserved ETA messages
    wait for Redis' visibility timeout): the dispatcher re-sends what was queued when it saw the
    node go silent (``scheduler.publishing.workers``).
    """

    __tablename__ = "workers"

    id: Mapped[str] = mapped_column(String(200), primary_key=True)
    hostname: Mapped[str] = mapped_column(String(200))
    pid: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime]
    beat_at: Mapped[datetime]
    stopped_at: Mapped[datetime | None]
    lost_at: Mapped[datetime | None]  # when a dispatcher acted on its silence (or its stop)


class Control(Base):
    """Instance-wide switches, e.g. the global pause."""

    __tablename__ = "controls"

    name: Mapped[str] = mapped_column(String(50), primary_key=True)
    value: Mapped[dict[str, Any]] = mapped_column(JSON)
    updated_at: Mapped[datetime]


class CustomObservance(Base):
    """An organisation's own awareness day, in the model of ``scheduler.calendar.observances.Observance``."""

    __tablename__ = "custom_observances"

    id: Mapped[str] = mapped_column(String(100), primary_key=True)
    org_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id"), index=True)
    document: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class Campaign(Base):
    """Content attached to an observance: every year (``year`` NULL) or one year."""

    __tablename__ = "campaigns"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    observance_id: Mapped[str] = mapped_column(String(100), index=True)
    org_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id"))
    year: Mapped[int | None] = mapped_column(Integer)
    channels: Mapped[list[str]] = mapped_column(JSON)
    text: Mapped[str] = mapped_column(Text)  # a template: {year} {yy} {ordinal} {name} {hashtags}
    title: Mapped[str | None] = mapped_column(String(300))
    link: Mapped[str | None] = mapped_column(Text)
    publish_time: Mapped[str] = mapped_column(String(5))  # HH:MM on the observance's first day
    zone: Mapped[str] = mapped_column(String(64))
    lead_days: Mapped[int] = mapped_column(Integer)
    importance: Mapped[str] = mapped_column(String(30))
    audience_zones: Mapped[list[str]] = mapped_column(JSON)
    created_by: Mapped[str | None] = mapped_column(String(100))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime]

    # attached once, in the media store; each year's post takes them and renders them per channel
    media: Mapped[list[CampaignMedia]] = relationship(
        order_by="CampaignMedia.position", cascade="all, delete-orphan", lazy="selectin"
    )


class CampaignMedia(StoredFile, Base):
    """A file of a campaign, as ``PostMedia`` is of a post: the same content-addressed store."""

    __tablename__ = "campaign_media"

    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"), index=True)


class CampaignPost(Base):
    """The post a campaign made for one year (or why it could not): made once, never twice."""

    __tablename__ = "campaign_posts"
    __table_args__ = (UniqueConstraint("campaign_id", "year"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"), index=True)
    year: Mapped[int] = mapped_column(Integer)
    post_id: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]


class Event(Base):
    """Append-only log of everything that happened; the stream the rest of the system reacts to.

    The migration installs triggers that refuse UPDATE and DELETE on this table.
    """

    __tablename__ = "events"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    at: Mapped[datetime] = mapped_column(index=True)
    kind: Mapped[str] = mapped_column(String(60), index=True)
    post_id: Mapped[int | None] = mapped_column(Integer, index=True)
    publication_id: Mapped[int | None] = mapped_column(Integer, index=True)
    channel_id: Mapped[int | None] = mapped_column(Integer)
    from_state: Mapped[str | None] = mapped_column(String(20))
    to_state: Mapped[str | None] = mapped_column(String(20))
    actor: Mapped[str | None] = mapped_column(String(200))
    # how the actor reached crosspost: "operator" (the CLI at the server, `--as` naming whom it acts
    # for), "token:<id>" (the API), "session" (the web app); None: crosspost itself
    via: Mapped[str | None] = mapped_column(String(60))
    message: Mapped[str | None] = mapped_column(Text)
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)


class Invitation(Base):
    """A link that lets a person set their password once; only its hash is kept."""

    __tablename__ = "invitations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_by: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]


class WebSession(Base):
    """A signed-in browser: the cookie holds the token, the database only its hash."""

    __tablename__ = "web_sessions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]
    expires_at: Mapped[datetime]  # the absolute timeout; the idle one counts from last_seen_at
    user_agent: Mapped[str | None] = mapped_column(String(300))


class ApiToken(Base):
    """A bearer token for the API: shown once, stored hashed, scoped to one organisation and a role."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    prefix: Mapped[str] = mapped_column(String(16))  # the first characters, to tell tokens apart in lists
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"), index=True)
    role: Mapped[str] = mapped_column(String(20))  # at most the user's role in org_id, checked on each use
    created_by: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    last_used_at: Mapped[datetime | None]


class LoginAttempt(Base):
    """Failed sign-ins, per account and per address: what login throttling counts."""

    __tablename__ = "login_attempts"
    __table_args__ = (Index("ix_login_attempts_key_at", "key", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(200))  # "user:<name>" or "ip:<address>"
    at: Mapped[datetime]


class IdempotencyKey(Base):
    """The first answer to a mutating API request, replayed for a repeated ``Idempotency-Key``."""

    __tablename__ = "idempotency_keys"
    __table_args__ = (UniqueConstraint("principal", "key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    principal: Mapped[str] = mapped_column(String(100))  # whose key: "token:<id>" or "session:<user id>"
    key: Mapped[str] = mapped_column(String(255))
    request_hash: Mapped[str] = mapped_column(String(64))  # method, path and body: a reused key with
    # another request is refused, not answered with the first one's response
    status_code: Mapped[int | None] = mapped_column(Integer)  # None: the first request is still running
    content_type: Mapped[str | None] = mapped_column(String(100))
    body: Mapped[bytes | None] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(index=True)


class WebhookSubscription(Base):
    """An organisation's URL that receives event kinds, signed the Standard Webhooks way."""

    __tablename__ = "webhook_subscriptions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"), index=True)
    url: Mapped[str] = mapped_column(Text)
    kinds: Mapped[list[str]] = mapped_column(JSON)
    secret: Mapped[str] = mapped_column(Text)  # "whsec_..." encrypted with the settings secret
    description: Mapped[str | None] = mapped_column(String(300))
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    created_by: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime]


class WebhookDelivery(Base):
    """One event for one subscription: sent, retried with backoff from here, logged."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        UniqueConstraint("subscription_id", "event_id"),
        Index("ix_webhook_deliveries_due", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    subscription_id: Mapped[int] = mapped_column(ForeignKey("webhook_subscriptions.id", ondelete="CASCADE"))
    event_id: Mapped[int | None] = mapped_column(BigInteger().with_variant(Integer, "sqlite"))  # None: a test
    message_id: Mapped[str] = mapped_column(String(64), unique=True)  # webhook-id, the same on every retry
    kind: Mapped[str] = mapped_column(String(60))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    state: Mapped[str] = mapped_column(String(20), default="pending")  # pending | delivered | failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None]  # None once delivered or given up
    last_status: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    delivered_at: Mapped[datetime | None]


class NotificationTarget(Base):
    """A chat destination (an apprise URL) for an organisation or one person."""

    __tablename__ = "notification_targets"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    org_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    url: Mapped[str] = mapped_column(Text)  # encrypted with the settings secret: it holds tokens
    kinds: Mapped[list[str]] = mapped_column(JSON)  # empty: every kind its people hear of
    created_at: Mapped[datetime]


class NotificationPreference(Base):
    """How a person hears of one kind of event: at once, in a daily digest, or not at all."""

    __tablename__ = "notification_preferences"
    __table_args__ = (UniqueConstraint("user_id", "kind"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(60))
    mode: Mapped[str] = mapped_column(String(10))  # now | digest | off


class Notification(Base):
    """One message to one person (or chat target) about one event: sent once, or kept for a digest."""

    __tablename__ = "notifications"
    __table_args__ = (
        UniqueConstraint("recipient", "kind", "event_id"),
        Index("ix_notifications_due", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    recipient: Mapped[str] = mapped_column(String(100))  # "user:<id>" (email) or "target:<id>" (chat)
    kind: Mapped[str] = mapped_column(String(60))
    event_id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"))
    subject: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    link: Mapped[str | None] = mapped_column(Text)
    mode: Mapped[str] = mapped_column(String(10))  # now | digest
    state: Mapped[str] = mapped_column(String(20), default="pending")  # pending | sent | failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]


class Cursor(Base):
    """How far a reader of the event log has got (webhook fan-out, notifications)."""

    __tablename__ = "cursors"

    name: Mapped[str] = mapped_column(String(60), primary_key=True)
    event_id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"))
    updated_at: Mapped[datetime]


class OAuthSignIn(Base):
    """A channel's sign-in by OAuth waiting for the platform's redirect, for any API process to finish
    once: keyed by the SHA-256 of its state, the PKCE verifier and the app's secret sealed."""

    __tablename__ = "oauth_sign_ins"

    state_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    channel_id: Mapped[int] = mapped_column(ForeignKey("channels.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    # the acting context of who started it: the callback acts as them, through the same token's scope
    via: Mapped[str] = mapped_column(String(100))
    org_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"), index=True)
    role: Mapped[str | None] = mapped_column(String(20))
    sealed: Mapped[bytes] = mapped_column(LargeBinary)  # Fernet: verifier, redirect URI, client id and secret
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime] = mapped_column(index=True)
