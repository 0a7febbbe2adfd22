"""`crosspost webhook ...`: an organisation's outbound webhooks (docs/webhooks.md)."""

from __future__ import annotations

from typing import Annotated

import typer

from scheduler.cli._output import fail, print_json, print_table
from scheduler.cli._people import AsUser, actor
from scheduler.cli._types import id_argument

app = typer.Typer(help="Outbound webhooks: organisations' URLs that receive events, signed.", no_args_is_help=True)

JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON")]
WebhookId = Annotated[int, id_argument("WEBHOOK_ID", "The webhook (crosspost webhook list)")]
DeliveryId = Annotated[int, id_argument("DELIVERY_ID", "The delivery (crosspost webhook deliveries)")]


@app.command("add")
def add(
    url: Annotated[str, typer.Option(help="http(s) URL that receives the events")],
    org: Annotated[str, typer.Option(help="The organisation whose events it receives")],
    kind: Annotated[
        list[str] | None, typer.Option("--kind", help="An event kind, repeatable (default: all; docs/webhooks.md)")
    ] = None,
    description: Annotated[str | None, typer.Option(help="What it is for")] = None,
    as_user: AsUser = None,
) -> None:
    """Subscribe a URL to an organisation's events; prints the signing secret once."""
    from scheduler.notify import webhooks
    from scheduler.runtime import build_runtime

    runtime = build_runtime()
    made = webhooks.subscribe(
        runtime.db,
        runtime.settings,
        org=org,
        url=url,
        kinds=kind or ["*"],
        description=description,
        now=runtime.clock(),
        actor=actor(as_user),
    )
    hook = made.subscription
    print(f"webhook {hook['id']} of {hook['org']}: {hook['url']} ({', '.join(hook['kinds'])})")
    print(f"secret (shown only now): {made.secret}")


@app.command("list")
def list_(
    org: Annotated[str, typer.Option(help="The organisation")], as_user: AsUser = None, as_json: JsonFlag = False
) -> None:
    """An organisation's webhooks."""
    from scheduler.notify import webhooks
    from scheduler.runtime import build_runtime

    rows = webhooks.list_subscriptions(build_runtime().db, org=org, actor=actor(as_user))
    if as_json:
        print_json(rows)
        return
    print_table(
        ["id", "url", "kinds", "active", "description"],
        [
            [r["id"], r["url"], ", ".join(r["kinds"]), "yes" if r["active"] else "paused", r["description"] or ""]
            for r in rows
        ],
    )


@app.command("remove")
def remove(webhook_id: WebhookId, as_user: AsUser = None) -> None:
    """Remove a webhook and its delivery log."""
    from scheduler.notify import webhooks
    from scheduler.runtime import build_runtime

    runtime = build_runtime()
    webhooks.remove_subscription(runtime.db, webhook_id, now=runtime.clock(), actor=actor(as_user))
    print(f"webhook {webhook_id} removed")


@app.command("deliveries")
def deliveries(
    webhook_id: WebhookId,
    state: Annotated[str | None, typer.Option(help="pending, delivered or failed")] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 50,
    as_user: AsUser = None,
    as_json: JsonFlag = False,
) -> None:
    """A webhook's deliveries, newest first: attempts, the receiver's last answer, the next attempt."""
    from scheduler.notify import webhooks
    from scheduler.runtime import build_runtime

    rows = webhooks.list_deliveries(build_runtime().db, webhook_id, actor=actor(as_user), limit=limit, state=state)
    if as_json:
        print_json(rows)
        return
    print_table(
        ["id", "kind", "state", "attempts", "status", "next attempt", "webhook-id", "error"],
        [
            [
                r["id"],
                r["kind"],
                r["state"],
                r["attempts"],
                r["last_status"] or "",
                r["next_attempt_at"] or "",
                r["message_id"],
                r["last_error"] or "",
            ]
            for r in rows
        ],
    )


@app.command("replay")
def replay(delivery_id: DeliveryId, as_user: AsUser = None) -> None:
    """Send a delivery again (same webhook-id and body), by the next dispatcher round."""
    from scheduler.notify import webhooks
    from scheduler.runtime import build_runtime

    runtime = build_runtime()
    row = webhooks.replay(runtime.db, delivery_id, now=runtime.clock(), actor=actor(as_user))
    print(f"delivery {row['id']} ({row['kind']}, {row['message_id']}) queued again")


@app.command("test")
def send_test(webhook_id: WebhookId, as_user: AsUser = None) -> None:
    """Send a webhook.test ping now and say how it went (exit 1 if it was not delivered)."""
    from scheduler.notify import webhooks
    from scheduler.runtime import build_runtime

    row = webhooks.send_test(build_runtime(), webhook_id, actor=actor(as_user))
    if row["state"] != "delivered":
        fail(f"webhook {webhook_id}: not delivered: {row['last_error']}", code=1)
    print(f"webhook {webhook_id}: delivered ({row['last_status']})")
