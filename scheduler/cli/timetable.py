"""`crosspost queue ...`, `crosspost pause` and `crosspost resume`: posting schedules, the queue, blackouts."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import typer

from scheduler.cli._output import print_json, print_table
from scheduler.cli._people import AsUser, actor
from scheduler.cli._types import id_argument

app = typer.Typer(
    help="Posting schedules and the queue: slots, daily limits, spacing, blackouts.", no_args_is_help=True
)
blackout_app = typer.Typer(help="Blackouts: times when nothing publishes.", no_args_is_help=True)
app.add_typer(blackout_app, name="blackout")

JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON")]


def _local(instant: str, zone: str) -> str:
    from scheduler.when import get_zone

    return f"{datetime.fromisoformat(instant).astimezone(get_zone(zone)):%a %Y-%m-%d %H:%M %Z}"


def _utc(instant: str) -> str:
    return f"{datetime.fromisoformat(instant):%Y-%m-%d %H:%M} UTC"


def _moves(moved: dict[str, int]) -> list[str]:
    return [f"  {channel}: {count} publication{'' if count == 1 else 's'} moved" for channel, count in moved.items()]


@app.command("set")
def set_(
    channel: Annotated[str, typer.Argument(help="The channel")],
    slot: Annotated[list[str], typer.Option(help="Days and wall times, e.g. 'mon-fri 09:00,13:00' (repeatable)")],
    max_per_day: Annotated[int | None, typer.Option(min=1, max=1000, help="At most this many posts a day")] = None,
    min_spacing: Annotated[str | None, typer.Option(help="At least this long between posts, e.g. 90m or 2h")] = None,
    as_user: AsUser = None,
) -> None:
    """Set a channel's posting schedule (slots are wall times in the channel's zone)."""
    from scheduler.planning import timetable
    from scheduler.runtime import build_runtime

    runtime = build_runtime()
    schedule = timetable.set_schedule(
        runtime.db,
        channel=channel,
        slots=slot,
        max_per_day=max_per_day,
        min_spacing=min_spacing,
        now=runtime.clock(),
        actor=actor(as_user),
    )
    print(f"{channel}: {schedule.describe()}")


@app.command("show")
def show(
    channel: Annotated[str, typer.Argument(help="The channel")],
    days: Annotated[int, typer.Option(min=1, max=366, help="How many days ahead")] = 7,
    as_json: JsonFlag = False,
) -> None:
    """The channel's slots for the next days, in its time zone, and what holds each."""
    from scheduler.planning import timetable
    from scheduler.runtime import build_runtime

    runtime = build_runtime()
    view = timetable.queue_view(runtime.db, channel=channel, now=runtime.clock(), days=days)
    if as_json:
        print_json(view)
        return
    zone = view["zone"]
    if view["paused"]:
        print("publishing is paused (crosspost resume)")
    if view["schedule"] is None:
        print(f"{channel} has no posting schedule; set one with: crosspost queue set {channel} --slot 'mon-fri 09:00'")
        if view["upcoming"]:
            print_table(["due", "post"], [[_local(row["at"], zone), row["holder"]] for row in view["upcoming"]])
        return
    print(f"{channel}: {view['schedule']}")
    rows = [(row["at"], _slot_cell(row)) for row in view["slots"]]
    # posts between the slots (a fixed time) count against their day too: shown where they fall
    until = datetime.fromisoformat(view["until"])
    rows += [
        (row["at"], _post_cell(row))
        for row in view["upcoming"]
        if not row["on_slot"] and datetime.fromisoformat(row["at"]) < until
    ]
    rows.sort(key=lambda row: datetime.fromisoformat(row[0]))
    print_table(["slot", "holder"], [[_local(at, zone), cell] for at, cell in rows])


def _slot_cell(slot: dict[str, Any]) -> str:
    if slot["status"] == "taken":
        return str(slot["holder"])
    if slot["status"] == "blocked":
        return f"blocked: {slot['reason']}"
    return "free"


def _post_cell(post: dict[str, Any]) -> str:
    how = "fixed time, not a slot" if post["fixed"] else "not a slot"
    return f"{post['holder']}: {how}" + (f"; {post['counts']}" if post["counts"] else "")


@blackout_app.command("add")
def blackout_add(
    name: Annotated[str, typer.Argument(help="Why, e.g. 'annual closure'")],
    start: Annotated[str, typer.Option("--from", help="Start: 'YYYY-MM-DD HH:MM' with --tz, or an ISO instant")],
    end: Annotated[str, typer.Option("--to", help="End (exclusive), written the same way")],
    tz: Annotated[str | None, typer.Option(help="IANA time zone of --from and --to")] = None,
    channel: Annotated[str | None, typer.Option(help="Only this channel (default: every channel)")] = None,
    as_user: AsUser = None,
) -> None:
    """Publish nothing between two times; what was due inside moves to after it."""
    from scheduler.planning import timetable
    from scheduler.runtime import build_runtime

    runtime = build_runtime()
    now = runtime.clock()
    blackout_id, moved = timetable.add_blackout(
        runtime.db, name=name, start=start, end=end, tz=tz, channel=channel, now=now, actor=actor(as_user)
    )
    [added] = [row for row in timetable.list_blackouts(runtime.db, now=now) if row["id"] == blackout_id]
    print(
        f"blackout {added['id']} {name!r}: {_utc(added['starts_at'])} to {_utc(added['ends_at'])} "
        f"on {'every channel' if channel is None else channel}"
    )
    for line in _moves(moved):
        print(line)


@blackout_app.command("list")
def blackout_list(as_json: JsonFlag = False) -> None:
    """Blackouts running or still to come."""
    from scheduler.planning import timetable
    from scheduler.runtime import build_runtime

    runtime = build_runtime()
    rows = timetable.list_blackouts(runtime.db, now=runtime.clock())
    if as_json:
        print_json(rows)
        return
    print_table(
        ["id", "name", "from", "to", "channel"],
        [[row["id"], row["name"], _utc(row["starts_at"]), _utc(row["ends_at"]), row["channel"]] for row in rows],
    )


@blackout_app.command("remove")
def blackout_remove(
    blackout_id: Annotated[int, id_argument("ID", "The blackout's id (queue blackout list)")],
    as_user: AsUser = None,
) -> None:
    """Remove a blackout."""
    from scheduler.planning import timetable
    from scheduler.runtime import build_runtime

    runtime = build_runtime()
    timetable.remove_blackout(runtime.db, blackout_id, now=runtime.clock(), actor=actor(as_user))
    print(f"blackout {blackout_id} removed")


def pause(
    reason: Annotated[str | None, typer.Option(help="Why, for the event log")] = None,
    as_user: AsUser = None,
) -> None:
    """Stop publishing everywhere until `crosspost resume` (nothing is claimed meanwhile)."""
    from scheduler.planning import timetable
    from scheduler.runtime import build_runtime

    runtime = build_runtime()
    timetable.pause(runtime.db, now=runtime.clock(), reason=reason, actor=actor(as_user))
    print(f"publishing paused: {reason}" if reason else "publishing paused")


def resume(as_user: AsUser = None) -> None:
    """Publish again; what fell due during the pause is spread out within each channel's limits."""
    from scheduler.planning import timetable
    from scheduler.runtime import build_runtime

    runtime = build_runtime()
    moved = timetable.resume(runtime.db, now=runtime.clock(), actor=actor(as_user))
    if not moved:
        print("publishing resumed; no publication had to move")
        return
    print("publishing resumed; moved to new times:")
    for line in _moves(moved):
        print(line)
