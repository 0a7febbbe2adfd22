"""The `crosspost` command: a thin shell over the scheduler's service functions."""

from __future__ import annotations

import sys

import click
import typer

from scheduler.cli import channels, editorial, media, observances, posts, reports, run, timetable
from scheduler.cli._output import fail
from scheduler.errors import CrosspostError, InvalidInput

app = typer.Typer(
    name="crosspost",
    help="Queue one piece of content, publish it adapted to every channel, once, on time.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.add_typer(channels.app, name="channel")
app.add_typer(posts.app, name="post")
app.add_typer(posts.text_app, name="text")
app.add_typer(run.db_app, name="db")
app.add_typer(media.app, name="media")
app.add_typer(editorial.org_app, name="org")
app.add_typer(editorial.user_app, name="user")
app.add_typer(editorial.policy_app, name="policy")
app.add_typer(timetable.app, name="queue")
app.add_typer(observances.calendar_app, name="calendar")
app.add_typer(observances.campaign_app, name="campaign")
app.command("pause")(timetable.pause)
app.command("resume")(timetable.resume)
app.command("events")(posts.events)
app.command("report")(reports.report)
app.command("config")(run.config)
app.command("up")(run.up)
app.command("worker")(run.worker)
app.command("dispatcher")(run.dispatcher)
app.command("demo")(run.demo)


def main(argv: list[str] | None = None) -> None:
    """Entry point: refusals print one clear line on stderr and exit non-zero, never a traceback."""
    try:
        app(args=argv, standalone_mode=False)
    except InvalidInput as refused:
        fail(str(refused), code=2)
    except CrosspostError as error:
        fail(str(error), code=1)
    except click.exceptions.Exit as done:
        sys.exit(done.exit_code)
    except click.exceptions.Abort:
        fail("aborted", code=130)
    except click.ClickException as usage:
        usage.show()
        sys.exit(usage.exit_code)
