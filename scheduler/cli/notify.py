"""`crosspost notify ...`: how people hear of events (docs/notifications.md): preferences per kind,
chat targets (apprise URLs) of organisations and people, and a test message."""

from __future__ import annotations

from typing import Annotated

import typer

from scheduler.cli._output import print_json, print_table
from scheduler.cli._people import AsUser, actor
from scheduler.cli._types import id_argument

app = typer.Typer(help="Notifications to people: email and chat (docs/notifications.md).", no_args_is_help=True)
target_app = typer.Typer(help="Chat targets (apprise URLs) of organisations and people.", no_args_is_help=True)
app.add_typer(target_app, name="target")

JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON")]
TargetId = Annotated[int, id_argument("TARGET_ID", "The chat target (crosspost notify target list)")]


@app.command("prefs")
def prefs(
    user: Annotated[str, typer.Argument(help="The person")],
    kind: Annotated[str | None, typer.Argument(help="A kind to change, e.g. post.submitted")] = None,
    mode: Annotated[str | None, typer.Argument(help="now, digest (daily) or off")] = None,
    as_json: JsonFlag = False,
    as_user: AsUser = None,
) -> None:
    """Show how USER hears of each kind of event, or set one: notify prefs ana post.submitted digest."""
    from scheduler.errors import InvalidInput
    from scheduler.notify import notifications
    from scheduler.runtime import build_runtime

    if kind is not None and mode is None:
        raise InvalidInput(f"say how {user} hears of {kind}: now, digest or off")
    runtime = build_runtime()
    if kind is not None and mode is not None:
        shown = notifications.set_preference(runtime.db, user, kind, mode, actor=actor(as_user))
    else:
        shown = notifications.preferences(runtime.db, user, actor=actor(as_user))
    if as_json:
        print_json(shown)
        return
    print_table(["kind", "mode", "about"], [[k, m, notifications.KINDS[k]] for k, m in shown.items()])


@target_app.command("add")
def target_add(
    url: Annotated[str, typer.Argument(help="An apprise URL, e.g. slack://TokenA/TokenB/TokenC")],
    org: Annotated[str | None, typer.Option("--org", help="For this organisation (its admins add it)")] = None,
    user: Annotated[str | None, typer.Option("--user", help="For this person")] = None,
    kind: Annotated[
        list[str] | None, typer.Option("--kind", help="Only this kind (repeat); default: every kind")
    ] = None,
    as_user: AsUser = None,
) -> None:
    """Add a chat target; the URL is checked with apprise and stored encrypted."""
    from scheduler.notify import notifications
    from scheduler.runtime import build_runtime

    runtime = build_runtime()
    target = notifications.add_target(
        runtime.db,
        runtime.settings,
        url=url,
        org=org,
        user=user,
        kinds=kind or [],
        now=runtime.clock(),
        actor=actor(as_user),
    )
    whose = f"organisation {target['org']}" if target["org"] else target["user"]
    print(
        f"chat target {target['id']} added for {whose}: {target['url']} ({', '.join(target['kinds']) or 'every kind'})"
    )


@target_app.command("list")
def target_list(
    org: Annotated[str | None, typer.Option("--org", help="This organisation's")] = None,
    user: Annotated[str | None, typer.Option("--user", help="This person's")] = None,
    as_json: JsonFlag = False,
    as_user: AsUser = None,
) -> None:
    """List chat targets (all of them, or an organisation's or a person's); URLs show their scheme only."""
    from scheduler.notify import notifications
    from scheduler.runtime import build_runtime

    runtime = build_runtime()
    rows = notifications.list_targets(runtime.db, runtime.settings, org=org, user=user, actor=actor(as_user))
    if as_json:
        print_json(rows)
        return
    print_table(
        ["id", "organisation", "user", "url", "kinds"],
        [[r["id"], r["org"], r["user"], r["url"], ", ".join(r["kinds"]) or "all"] for r in rows],
    )


@target_app.command("remove")
def target_remove(target_id: TargetId, as_user: AsUser = None) -> None:
    """Remove a chat target, and the messages it still had to send."""
    from scheduler.notify import notifications
    from scheduler.runtime import build_runtime

    runtime = build_runtime()
    notifications.remove_target(runtime.db, target_id, now=runtime.clock(), actor=actor(as_user))
    print(f"chat target {target_id} removed")


@app.command("test")
def send_test(
    user: Annotated[str, typer.Option("--user", help="The person to send a test message to")],
    as_user: AsUser = None,
) -> None:
    """Send a test message now to the person's email and personal chat targets; exit 1 if one fails."""
    from scheduler.notify import notifications
    from scheduler.runtime import build_runtime

    outcomes = notifications.send_test(build_runtime(), user, actor=actor(as_user))
    for line in outcomes:
        print(line)
    if any(": failed:" in line for line in outcomes):
        raise SystemExit(1)
