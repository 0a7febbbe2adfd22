"""Outbound webhooks of an organisation (its admins): subscribe (the secret is shown once), list,
change, remove, the delivery log, replay a delivery, send a test (docs/webhooks.md)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from scheduler.api.auth import Caller, RuntimeDep

router = APIRouter(tags=["webhooks"])

OrgName = Annotated[str, Path(max_length=100, description="The organisation's name, e.g. collab")]
WebhookId = Annotated[int, Path(ge=1, le=2**31 - 1, description="The webhook (subscription)")]
DeliveryId = Annotated[int, Path(ge=1, le=2**31 - 1, description="One delivery of a webhook")]
KINDS_HELP = (
    "Event kinds: post.submitted, post.approved, post.changes_requested, publication.published, "
    "publication.failed, publication.unknown, publication.needs_attention, channel.needs_reconnect, "
    "campaign.drafted, campaign.failed; or * for all"
)


class NewWebhook(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str = Field(max_length=2000, description="http(s) URL that receives the events")
    kinds: list[Annotated[str, Field(max_length=60)]] = Field(max_length=20, description=KINDS_HELP)
    description: str | None = Field(None, max_length=300)


class WebhookChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str | None = Field(None, max_length=2000)
    kinds: list[Annotated[str, Field(max_length=60)]] | None = Field(None, max_length=20, description=KINDS_HELP)
    description: str | None = Field(None, max_length=300)
    active: bool | None = Field(None, description="false: pause deliveries (kept, sent once active again)")


class WebhookView(BaseModel):
    id: int
    org: str
    url: str = Field(description="Where it goes, secrets in it masked")
    kinds: list[str]
    description: str | None
    active: bool
    created_by: str | None
    created_at: str


class SubscribedView(WebhookView):
    secret: str = Field(description="whsec_...: verifies the webhook-signature header; shown only now")


class DeliveryView(BaseModel):
    id: int
    webhook: int
    event_id: int | None = Field(description="The event in the log; null for a test")
    message_id: str = Field(description="The webhook-id header, the same on every attempt")
    kind: str
    state: str = Field(description="pending, delivered or failed")
    attempts: int
    next_attempt_at: str | None
    last_status: int | None = Field(description="The receiver's last HTTP status; null: no answer")
    last_error: str | None
    created_at: str
    delivered_at: str | None


class DeliveryPage(BaseModel):
    items: list[DeliveryView]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last page")


@router.post(
    "/organisations/{org}/webhooks", status_code=201, summary="Subscribe a URL to events (the secret is shown once)"
)
def create_webhook(
    org: OrgName, body: NewWebhook, caller: Caller, runtime: RuntimeDep, response: Response
) -> SubscribedView:
    from scheduler.notify import webhooks

    made = webhooks.subscribe(
        runtime.db,
        runtime.settings,
        org=org,
        url=body.url,
        kinds=body.kinds,
        description=body.description,
        actor=caller.user,
        now=runtime.clock(),
    )
    response.headers["Location"] = f"/api/v1/webhooks/{made.subscription['id']}"
    return SubscribedView(**made.subscription, secret=made.secret)


@router.get("/organisations/{org}/webhooks", summary="An organisation's webhooks")
def list_webhooks(org: OrgName, caller: Caller, runtime: RuntimeDep) -> list[WebhookView]:
    from scheduler.notify import webhooks

    return [WebhookView(**row) for row in webhooks.list_subscriptions(runtime.db, org=org, actor=caller.user)]


@router.get("/webhooks/{webhook_id}", summary="One webhook")
def get_webhook(webhook_id: WebhookId, caller: Caller, runtime: RuntimeDep) -> WebhookView:
    from scheduler.notify import webhooks

    return WebhookView(**webhooks.get_subscription(runtime.db, webhook_id, actor=caller.user))


@router.patch("/webhooks/{webhook_id}", summary="Change a webhook's URL, kinds, description or pause it")
def change_webhook(webhook_id: WebhookId, body: WebhookChange, caller: Caller, runtime: RuntimeDep) -> WebhookView:
    from scheduler.notify import webhooks

    row = webhooks.update_subscription(
        runtime.db,
        runtime.settings,
        webhook_id,
        url=body.url,
        kinds=body.kinds,
        description=body.description,
        active=body.active,
        actor=caller.user,
        now=runtime.clock(),
    )
    return WebhookView(**row)


@router.delete("/webhooks/{webhook_id}", status_code=204, summary="Remove a webhook and its delivery log")
def delete_webhook(webhook_id: WebhookId, caller: Caller, runtime: RuntimeDep) -> Response:
    from scheduler.notify import webhooks

    webhooks.remove_subscription(runtime.db, webhook_id, actor=caller.user, now=runtime.clock())
    return Response(status_code=204)


@router.get("/webhooks/{webhook_id}/deliveries", summary="A webhook's deliveries, newest first, with a cursor")
def list_deliveries(
    webhook_id: WebhookId,
    caller: Caller,
    runtime: RuntimeDep,
    state: Annotated[str | None, Query(pattern="^(pending|delivered|failed)$")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=18, pattern=r"^[0-9]+$")] = None,
) -> DeliveryPage:
    from scheduler.notify import webhooks

    items: list[dict[str, Any]] = webhooks.list_deliveries(
        runtime.db,
        webhook_id,
        actor=caller.user,
        state=state,
        limit=limit + 1,
        before=int(cursor) if cursor else None,
    )
    more = len(items) > limit
    items = items[:limit]
    return DeliveryPage(
        items=[DeliveryView(**item) for item in items], next_cursor=str(items[-1]["id"]) if more and items else None
    )


@router.post("/webhooks/deliveries/{delivery_id}/replay", summary="Send a delivery again, with the same webhook-id")
def replay_delivery(delivery_id: DeliveryId, caller: Caller, runtime: RuntimeDep) -> DeliveryView:
    from scheduler.notify import webhooks

    return DeliveryView(**webhooks.replay(runtime.db, delivery_id, actor=caller.user, now=runtime.clock()))


@router.post("/webhooks/{webhook_id}/test", summary="Send a webhook.test ping now; answers how it went")
def test_webhook(webhook_id: WebhookId, caller: Caller, runtime: RuntimeDep) -> DeliveryView:
    from scheduler.notify import webhooks

    return DeliveryView(**webhooks.send_test(runtime, webhook_id, actor=caller.user))
