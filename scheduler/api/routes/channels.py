"""Channels: list, status, posting schedule, new credentials, and signing in again by OAuth.

Signing in again (``POST /channels/{name}/reconnect``) answers the platform's authorization URL,
as ``crosspost channel connect`` prints it. The browser comes back to
``GET /channels/{name}/oauth/callback``, which exchanges the code and stores the tokens as the
person who started the sign-in. What the callback needs (the PKCE verifier, the app's secret)
waits ten minutes in the database, sealed (``scheduler.accounts.oauth_sign_ins``): any API process
finishes it, once.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from scheduler.api.auth import Caller, RuntimeDep
from scheduler.api.problems import ApiProblem
from scheduler.api.routes._access import channel_named, is_host_admin, require_view, visible_orgs
from scheduler.runtime import Runtime

if TYPE_CHECKING:
    from scheduler.store import Channel

router = APIRouter(tags=["channels"])

ChannelName = Annotated[str, Path(max_length=100, description="The channel's name, e.g. collab-x")]


class ChannelView(BaseModel):
    name: str
    org: str | None = Field(description="The organisation that owns it; null: none")
    platform: str
    timezone: str
    language: str | None
    dry_run: bool = Field(description="Writes to the outbox instead of publishing")
    status: str = Field(description="active, or needs_reconnect when its sign-in ran out")
    has_credentials: bool
    options: dict[str, Any] = Field(description="Platform options; secret ones show where they go, not their key")


class ChannelStatus(ChannelView):
    paused: bool = Field(description="Publishing is paused everywhere (POST /pause)")
    blackouts_now: list[str] = Field(description="Blackouts running now on this channel or on every channel")
    schedule: str | None = Field(description="Its posting schedule, in words; null: none set")
    token_expires_at: datetime | None = Field(description="When the access token runs out, if known")
    refreshable: bool = Field(description="The token is refreshed before it runs out (a refresh token is kept)")
    sign_in_ends_at: datetime | None = Field(
        description="When signing in again becomes necessary (the refresh token's end, or the access token's "
        "when it cannot be refreshed), if known"
    )


def _view(channel: Channel, org: str | None, runtime: Runtime) -> ChannelView:
    from scheduler.credentials import shown_options

    return ChannelView(
        name=channel.name,
        org=org,
        platform=channel.platform,
        timezone=channel.timezone,
        language=channel.language,
        dry_run=channel.dry_run,
        status=channel.status,
        has_credentials=channel.credentials is not None,
        options=shown_options(channel.options, channel.secret_options, runtime.settings, channel.name),
    )


def _org_names(session: Any) -> dict[int, str]:
    from sqlalchemy import select

    from scheduler.store import Organisation

    return dict(session.execute(select(Organisation.id, Organisation.name)).all())


@router.get("/channels", summary="The channels of the caller's organisations")
def list_channels(caller: Caller, runtime: RuntimeDep) -> list[ChannelView]:
    from scheduler import posts

    with runtime.db.read() as session:
        mine = set(visible_orgs(session, caller.user))
        instance_wide = is_host_admin(session, caller.user)  # channels of no organisation
        names = _org_names(session)
    return [
        _view(channel, names.get(channel.org_id) if channel.org_id else None, runtime)
        for channel in posts.list_channels(runtime.db)
        if (channel.org_id in mine) or (channel.org_id is None and instance_wide)
    ]


@router.get("/channels/{name}", summary="One channel: platform, dry run, paused, sign-in expiry")
def channel_status(name: ChannelName, caller: Caller, runtime: RuntimeDep) -> ChannelStatus:
    from sqlalchemy import select

    from scheduler.credentials import decrypt_credentials, sign_in_times
    from scheduler.planning import timetable
    from scheduler.store import Blackout

    now = runtime.clock()
    with runtime.db.read() as session:
        channel = channel_named(session, name)
        require_view(session, caller.user, channel.org_id, f"channel {name}")
        org = _org_names(session).get(channel.org_id) if channel.org_id else None
        paused = timetable.is_paused(session)
        schedule = timetable.schedule_of(session, channel.id)
        running = session.scalars(
            select(Blackout.name).where(
                Blackout.starts_at <= now,
                Blackout.ends_at > now,
                (Blackout.channel_id.is_(None)) | (Blackout.channel_id == channel.id),
            )
        ).all()
    credentials = decrypt_credentials(channel.credentials, runtime.settings, channel.name) or {}
    times = sign_in_times(credentials)
    return ChannelStatus(
        **_view(channel, org, runtime).model_dump(),
        paused=paused,
        blackouts_now=list(running),
        schedule=schedule.describe() if schedule else None,
        token_expires_at=times.token_expires_at,
        refreshable=times.refreshable,
        sign_in_ends_at=times.sign_in_ends_at,
    )


# -- posting schedule ----------------------------------------------------------------------------


class NewSchedule(BaseModel):
    model_config = ConfigDict(extra="forbid")

    slots: list[Annotated[str, Field(min_length=1, max_length=200)]] = Field(
        min_length=1, max_length=50, description="Days and wall times in the channel's zone, e.g. 'mon-fri 09:00,13:00'"
    )
    max_per_day: int | None = Field(None, ge=1, le=1000, description="At most this many posts a day")
    min_spacing: str | None = Field(None, max_length=20, description="At least this long between posts, e.g. 90m or 2h")


class ScheduleView(BaseModel):
    channel: str
    schedule: str = Field(description="The schedule in words")
    document: dict[str, Any] = Field(description="The schedule as stored")


@router.put("/channels/{name}/schedule", summary="Set a channel's posting schedule (admin)")
def set_schedule(name: ChannelName, body: NewSchedule, caller: Caller, runtime: RuntimeDep) -> ScheduleView:
    from scheduler.planning import timetable

    schedule = timetable.set_schedule(
        runtime.db,
        channel=name,
        slots=body.slots,
        max_per_day=body.max_per_day,
        min_spacing=body.min_spacing,
        now=runtime.clock(),
        actor=caller.user,
    )
    return ScheduleView(channel=name, schedule=schedule.describe(), document=schedule.to_document())


# -- credentials and signing in again -------------------------------------------------------------


class NewCredentials(BaseModel):
    model_config = ConfigDict(extra="forbid")

    credentials: dict[str, Any] = Field(
        description="The account's tokens, as `crosspost channel reconnect --credentials FILE` reads them",
        max_length=50,
    )


class Reconnected(BaseModel):
    channel: str
    status: str
    released: int = Field(description="Publications that waited for the channel and go out now")


@router.put("/channels/{name}/credentials", summary="Give a channel new tokens (admin); what waited goes out")
def set_credentials(name: ChannelName, body: NewCredentials, caller: Caller, runtime: RuntimeDep) -> Reconnected:
    from scheduler import posts
    from scheduler.documents import MAX_NESTING, nesting

    if nesting(body.credentials) > MAX_NESTING:
        raise ApiProblem(422, f"credentials nest deeper than {MAX_NESTING} levels", field="credentials")
    released = posts.reconnect_channel(
        runtime.db,
        runtime.settings,
        channel=name,
        credentials=body.credentials,
        now=runtime.clock(),
        actor=caller.user,
    )
    return Reconnected(channel=name, status="active", released=len(released))


class SignIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    client_id: str = Field(min_length=1, max_length=500, description="Your app's client id (TikTok: client key)")
    client_secret: str | None = Field(None, max_length=500, description="Your app's client secret, where it has one")
    redirect_uri: str | None = Field(
        None,
        max_length=2000,
        pattern=r"^https?://",
        description="The redirect URI registered with the app; default: this API's callback for the channel. "
        "It must lead the browser to GET /api/v1/channels/{name}/oauth/callback with the platform's query",
    )


class SignInStarted(BaseModel):
    channel: str
    authorization_url: str = Field(description="Open it in a browser, sign in and allow crosspost")
    redirect_uri: str
    expires_at: datetime = Field(description="The sign-in must be finished by then")


@router.post(
    "/channels/{name}/reconnect",
    status_code=201,
    summary="Start signing a channel in again (admin): answers the platform's authorization URL",
)
def start_sign_in(
    name: ChannelName, body: SignIn, caller: Caller, runtime: RuntimeDep, request: Request
) -> SignInStarted:
    from adapters import oauth
    from scheduler.accounts import oauth_sign_ins
    from scheduler.editorial.authorization import Action, authorize

    with runtime.db.read() as session:
        channel = channel_named(session, name)
        # refused now rather than after the person signed in: the callback checks again
        authorize(session, caller.user, Action.RECONNECT_CHANNEL, [channel.org_id], subject=name)
        platform = channel.platform
    uri = body.redirect_uri or str(request.url_for("finish_sign_in", name=name))
    authorization = oauth.authorization(platform, body.client_id, uri, runtime.settings)
    expires_at = oauth_sign_ins.keep(
        runtime.db,
        runtime.settings,
        channel=name,
        user=caller.user,
        acting=caller.acting,
        platform=platform,
        state=authorization.state,
        verifier=authorization.verifier,
        redirect_uri=uri,
        client_id=body.client_id,
        client_secret=body.client_secret,
        now=runtime.clock(),
    )
    return SignInStarted(channel=name, authorization_url=authorization.url, redirect_uri=uri, expires_at=expires_at)


@router.get(
    "/channels/{name}/oauth/callback",
    summary="Where the platform sends the browser back: stores the new tokens (no token needed: the state is the key)",
)
def finish_sign_in(
    name: ChannelName,
    runtime: RuntimeDep,
    request: Request,
    state: Annotated[str, Query(min_length=1, max_length=200)],
    code: Annotated[str | None, Query(max_length=2000)] = None,
    error: Annotated[str | None, Query(max_length=200)] = None,
    error_description: Annotated[str | None, Query(max_length=2000)] = None,
) -> Reconnected:
    from adapters import oauth
    from adapters.errors import AdapterError, AuthExpired
    from scheduler import posts
    from scheduler.accounts import oauth_sign_ins
    from scheduler.acting import acting_as

    waiting = oauth_sign_ins.take(runtime.db, runtime.settings, channel=name, state=state, now=runtime.clock())
    if waiting is None:  # taken in the same statement: a replayed redirect, or a racing process, finds none
        raise ApiProblem(422, f"no sign-in of {name} waits for this state (it expired, or was finished)", field="state")
    # rebuilt from what was kept; its URL was for the browser only
    authorization = oauth.Authorization(waiting.platform, "", state, waiting.verifier, waiting.redirect_uri)
    try:
        code = oauth.code_from_redirect(authorization, str(request.url))
        tokens = oauth.exchange(authorization, code, waiting.client_id, waiting.client_secret, runtime.settings)
    except AuthExpired as refused:
        raise ApiProblem(422, str(refused), title="Sign-in refused") from None
    except AdapterError as failed:  # the platform could not be reached: nothing changed, start again
        raise ApiProblem(409, f"{name}: {failed}", title="Sign-in not finished") from None
    with acting_as(waiting.acting):  # as the person who started it, through their token
        released = posts.reconnect_channel(
            runtime.db, runtime.settings, channel=name, credentials=tokens, now=runtime.clock(), actor=waiting.user
        )
    return Reconnected(channel=name, status="active", released=len(released))
