"""The `crosspost` command: a thin shell over the scheduler's service functions.

Exit codes (docs/cli.md): 0 done; 1 the command could not be done (not found, a state that does
not allow it, configuration); 2 a usage error or refused input (nothing was stored); 130 stopped
by Ctrl-C. Errors are one line on stderr, never a traceback.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.metadata
import os
import sys
from typing import Annotated, Any

import typer

from scheduler.acting import Acting, acting_as
from scheduler.cli import channels, editorial, media, observances, posts, reports, run, timetable
from scheduler.cli._output import fail
from scheduler.errors import CrosspostError, InvalidInput

app = typer.Typer(
    name="crosspost",
    help="Queue one piece of content, publish it adapted to every channel, once, on time.",
    pretty_exceptions_enable=False,
    add_completion=False,
)


class _MissingCommand(InvalidInput):
    pass


def _version() -> str:
    try:
        return importlib.metadata.version("crosspost")
    except importlib.metadata.PackageNotFoundError:  # run from a source tree that was never installed
        return "unknown (not installed)"


def _print_version(value: bool) -> None:
    if value:
        print(f"crosspost {_version()}")
        raise typer.Exit()


@app.callback(invoke_without_command=True)
def _root(
    ctx: typer.Context,
    version: Annotated[
        bool, typer.Option("--version", callback=_print_version, is_eager=True, help="Print the version and exit")
    ] = False,
) -> None:
    """Queue one piece of content, publish it adapted to every channel, once, on time."""
    if ctx.invoked_subcommand is None:  # bare `crosspost`: the commands on stdout, a usage error on stderr
        print(ctx.get_help())
        raise _MissingCommand("no command given; the commands are listed above (crosspost COMMAND --help)")


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
app.add_typer(importlib.import_module("scheduler.cli.notify").app, name="notify")
app.add_typer(importlib.import_module("scheduler.cli.accounts").token_app, name="token")
app.add_typer(importlib.import_module("scheduler.cli.webhooks").app, name="webhook")
app.command("pause")(timetable.pause)
app.command("resume")(timetable.resume)
app.command("events")(posts.events)
app.command("report")(reports.report)
app.command("config")(run.config)
app.command("up")(run.up)
app.command("web")(run.web)
app.command("worker")(run.worker)
app.command("dispatcher")(run.dispatcher)
app.command("demo")(run.demo)


def _exceptions(name: str) -> tuple[type[BaseException], ...]:
    """Click's exception class ``name`` from click itself and from the copy of click that Typer
    bundles since 0.2x (typer._click): which one a parse error raises depends on the installed Typer."""
    found: list[type[BaseException]] = []
    for module_name in ("click.exceptions", "typer._click.exceptions", "typer.exceptions"):
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            continue
        cls = getattr(module, name, None)
        if isinstance(cls, type) and issubclass(cls, BaseException) and cls not in found:
            found.append(cls)
    return tuple(found)


_USAGE_ERRORS = _exceptions("UsageError")  # unknown option, missing or bad argument, no subcommand
_CLICK_ERRORS = _exceptions("ClickException")
_EXITS = _exceptions("Exit")
_ABORTS: tuple[type[BaseException], ...] = (*_exceptions("Abort"), KeyboardInterrupt)


def _one_line(text: str) -> str:
    return "; ".join(line.strip() for line in text.strip().splitlines() if line.strip())


def _usage_line(usage: Any) -> str:
    """A usage error as one line: click's message and where to look (a group's help, when no
    subcommand was given, goes to stdout first)."""
    ctx = getattr(usage, "ctx", None)
    path = getattr(ctx, "command_path", "") or "crosspost"
    if type(usage).__name__ == "NoArgsIsHelpError":  # `crosspost post`: the help is the message
        print(usage.format_message())
        return f"no command given; the commands of {path} are listed above ({path} COMMAND --help)"
    return f"{_one_line(usage.format_message())} (see {path} --help)"


def _undecodable(args: list[str]) -> str | None:
    """A command-line argument or CROSSPOST_ setting that is not valid UTF-8 (Python keeps such bytes
    as lone surrogates, which fail wherever the text is written: the database, a file, the terminal)."""
    named = [(f"argument {index}", arg) for index, arg in enumerate(args, start=1)]
    named += [(name, value) for name, value in os.environ.items() if name.startswith("CROSSPOST_")]
    for label, value in named:
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as bad:
            try:  # the bytes as they came (argv keeps them as surrogateescape characters)
                shown = value.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
            except UnicodeEncodeError:
                shown = value.encode("utf-8", "backslashreplace").decode("utf-8")
            return f"{label} is not valid UTF-8 text (character {bad.start + 1}): {shown[:60]}"
    return None


def _fail(message: str, code: int) -> None:
    """``fail``, with any character the terminal cannot take (a lone surrogate) shown escaped."""
    fail(message.encode("utf-8", "backslashreplace").decode("utf-8"), code=code)


_SERVICES = frozenset({"up", "worker", "dispatcher", "web", "demo"})


def main(argv: list[str] | None = None) -> None:
    """Entry point: refusals and usage errors print one clear line on stderr and exit non-zero,
    never a traceback, whichever click a Typer version brings."""
    args = sys.argv[1:] if argv is None else list(argv)
    undecodable = _undecodable(args)
    if undecodable is not None:
        _fail(undecodable, code=2)
    # a one-shot command is the operator at the server's console (acting for `--as` when given), and
    # its events say so; the long-running services act as crosspost itself
    via = contextlib.nullcontext() if args[:1] and args[0] in _SERVICES else acting_as(Acting(via="operator"))
    try:
        with via:
            code = app(args=args, prog_name="crosspost", standalone_mode=False)
    except InvalidInput as refused:
        _fail(str(refused), code=2)
    except CrosspostError as error:
        _fail(str(error), code=1)
    except _USAGE_ERRORS as usage:
        _fail(_usage_line(usage), code=2)
    except _EXITS as done:
        sys.exit(getattr(done, "exit_code", 0))
    except _ABORTS:
        _fail("aborted", code=130)
    except _CLICK_ERRORS as error:
        _fail(_one_line(getattr(error, "format_message", error.__str__)()), code=getattr(error, "exit_code", 1) or 1)
    if isinstance(code, int) and not isinstance(code, bool) and code != 0:
        sys.exit(code)  # `raise typer.Exit(n)` in a command comes back as a return value (standalone_mode=False)
