"""Campaigns: content attached to an awareness day, drafted ahead and signed off every year
(as `crosspost campaign add|edit|remove`)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Response
from pydantic import BaseModel, ConfigDict, Field

from scheduler.api.auth import Caller, RuntimeDep
from scheduler.api.media_refs import MediaRef, media_inputs
from scheduler.api.routes._access import is_host_admin, visible_orgs
from scheduler.errors import Refused
from scheduler.when import FIRST_YEAR, LAST_YEAR

router = APIRouter(tags=["campaigns"])

CampaignId = Annotated[int, Path(ge=1, le=2**31 - 1, description="The campaign's id")]
Zone = Field(None, max_length=100, description="IANA zone")


def _may_see(runtime: Any, user: str) -> tuple[set[int], bool]:
    with runtime.db.read() as session:
        return set(visible_orgs(session, user)), is_host_admin(session, user)


@router.get("/campaigns", summary="Campaigns of the caller's organisations or on their channels")
def list_campaigns(caller: Caller, runtime: RuntimeDep) -> list[dict[str, Any]]:
    from scheduler.calendar.visibility import visible_campaigns

    mine, instance_wide = _may_see(runtime, caller.user)
    return visible_campaigns(runtime.db, mine, instance_wide=instance_wide)


def _view(runtime: Any, campaign_id: int, user: str, warnings: list[str] | None = None) -> dict[str, Any]:
    from scheduler.calendar import campaigns
    from scheduler.calendar.visibility import campaign_owners, may_see_campaign

    view = campaigns.campaign_view(runtime.db, campaign_id, now=runtime.clock())  # 404 first
    mine, instance_wide = _may_see(runtime, user)
    if not may_see_campaign(campaign_owners(runtime.db).get(campaign_id, {None}), mine, instance_wide=instance_wide):
        raise Refused(f"rule 'roles': campaign {campaign_id} belongs to none of {user}'s organisations")
    return view if warnings is None else view | {"warnings": warnings}


@router.get("/campaigns/{campaign_id}", summary="One campaign: its next post, warnings, and the posts it made")
def get_campaign(campaign_id: CampaignId, caller: Caller, runtime: RuntimeDep) -> dict[str, Any]:
    return _view(runtime, campaign_id, caller.user)


class NewCampaign(BaseModel):
    model_config = ConfigDict(extra="forbid")

    observance: str = Field(min_length=1, max_length=200, description="The observance's id (GET /calendar/observances)")
    channels: list[Annotated[str, Field(max_length=100)]] = Field(min_length=1, max_length=50)
    text: str = Field(
        min_length=1, max_length=100_000, description="Template: {year} {yy} {ordinal} {edition} {name} {hashtags}"
    )
    year: int | None = Field(None, ge=FIRST_YEAR, le=LAST_YEAR, description="Only this year (default: every year)")
    at: str | None = Field(None, max_length=10, description="Publish time on the day, HH:MM (default 10:00)")
    tz: str | None = Zone
    lead_days: int = Field(14, ge=0, le=365, description="Create the post this many days ahead, for sign-off")
    title: str | None = Field(None, max_length=500)
    link: str | None = Field(None, max_length=2000)
    importance: str = Field("routine", max_length=100)
    audience: list[Annotated[str, Field(max_length=100)]] | None = Field(
        None, max_length=30, description="Zones where the post must fall on the day"
    )
    media: list[MediaRef] = Field(default_factory=list, max_length=20, description="Uploaded media (POST /media)")
    org: str | None = Field(None, max_length=100, description="The organisation the posts belong to")


@router.post("/campaigns", status_code=201, summary="Attach content to an observance, posted every year")
def add_campaign(body: NewCampaign, caller: Caller, runtime: RuntimeDep, response: Response) -> dict[str, Any]:
    from scheduler.calendar import campaigns

    with media_inputs(runtime, body.media) as files:
        campaign_id, warnings = campaigns.add_campaign(
            runtime.db,
            runtime.settings,
            observance_id=body.observance,
            channels=body.channels,
            text=body.text,
            year=body.year,
            publish_time=body.at or campaigns.DEFAULT_TIME,
            zone=body.tz or campaigns.DEFAULT_ZONE,
            lead_days=body.lead_days,
            title=body.title,
            link=body.link,
            importance=body.importance,
            audience_zones=body.audience or campaigns.DEFAULT_AUDIENCE,
            media=files,
            org=body.org or caller.org,
            actor=caller.user,
            now=runtime.clock(),
        )
    response.headers["Location"] = f"/api/v1/campaigns/{campaign_id}"
    return _view(runtime, campaign_id, caller.user, warnings)


class CampaignChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    channels: list[Annotated[str, Field(max_length=100)]] | None = Field(
        None, min_length=1, max_length=50, description="The channels from now on"
    )
    text: str | None = Field(None, min_length=1, max_length=100_000)
    at: str | None = Field(None, max_length=10, description="Publish time on the day, HH:MM")
    tz: str | None = Zone
    lead_days: int | None = Field(None, ge=0, le=365)
    title: str | None = Field(None, max_length=500, description="'' removes it")
    link: str | None = Field(None, max_length=2000, description="'' removes it")
    importance: str | None = Field(None, max_length=100)
    media: list[MediaRef] | None = Field(None, max_length=20, description="Replaces the media; [] removes it")


@router.patch("/campaigns/{campaign_id}", summary="Change a campaign for the years to come (its author or an editor)")
def edit_campaign(campaign_id: CampaignId, body: CampaignChange, caller: Caller, runtime: RuntimeDep) -> dict[str, Any]:
    from scheduler.calendar import campaigns

    with media_inputs(runtime, body.media or []) as files:
        warnings = campaigns.edit_campaign(
            runtime.db,
            runtime.settings,
            campaign_id,
            text=body.text,
            title=body.title,
            link=body.link,
            channels=body.channels,
            publish_time=body.at,
            zone=body.tz,
            lead_days=body.lead_days,
            importance=body.importance,
            media=None if body.media is None else files,
            actor=caller.user,
            now=runtime.clock(),
        )
    return _view(runtime, campaign_id, caller.user, warnings)


@router.delete(
    "/campaigns/{campaign_id}",
    status_code=204,
    response_class=Response,
    summary="Stop a campaign (its author or an editor); posts it made stay",
)
def remove_campaign(campaign_id: CampaignId, caller: Caller, runtime: RuntimeDep) -> Response:
    from scheduler.calendar import campaigns

    campaigns.remove_campaign(runtime.db, campaign_id, now=runtime.clock(), actor=caller.user)
    return Response(status_code=204)
