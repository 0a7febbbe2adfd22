"""`crosspost token ...`: API tokens; and the reading of a new password for `crosspost user password`."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from scheduler.cli._output import print_json, print_table
from scheduler.cli._people import AsUser, actor
from scheduler.editorial.roles import ROLES
from scheduler.errors import InvalidInput

token_app = typer.Typer(help="API tokens: made (shown once), listed, revoked.", no_args_is_help=True)


@token_app.command("create")
def token_create(
    user: Annotated[str, typer.Option(help="Whose token")],
    org: Annotated[str, typer.Option(help="The organisation it acts in (only there)")],
    role: Annotated[str, typer.Option(help=f"At most this role ({' | '.join(ROLES)}), and at most the user's")],
    name: Annotated[str, typer.Option(help="To tell it apart later, e.g. 'CI pipeline'")],
    expires_days: Annotated[int | None, typer.Option(min=1, max=3650, help="Lifetime in days (default 90)")] = None,
    no_expiry: Annotated[bool, typer.Option("--no-expiry", help="Never expires (revoke it when done)")] = False,
    as_user: AsUser = None,
) -> None:
    """Make an API token and print it once: it is stored only as a hash."""
    from datetime import timedelta

    from scheduler.accounts import tokens
    from scheduler.runtime import build_runtime

    if no_expiry and expires_days is not None:
        raise InvalidInput("give --expires-days or --no-expiry, not both")
    lifetime = None if no_expiry else timedelta(days=expires_days or 90)
    runtime = build_runtime()
    made = tokens.create_token(
        runtime.db,
        user=user,
        org=org,
        role=role,
        name=name,
        now=runtime.clock(),
        expires_in=lifetime,
        actor=actor(as_user),
    )
    until = made.expires_at.isoformat(timespec="minutes") if made.expires_at else "never (revoke it when done)"
    print(made.token)
    print(
        f"token {made.id} ({made.name}) for {made.user} in {made.org} as {made.role}, expires {until}; "
        "copy it now: it is not shown again",
        file=sys.stderr,
    )


@token_app.command("list")
def token_list(
    user: Annotated[str | None, typer.Option(help="Only this user's")] = None,
    org: Annotated[str | None, typer.Option(help="Only this organisation's")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON")] = False,
) -> None:
    """List tokens (never their secrets: the first characters tell them apart)."""
    from scheduler.accounts import tokens
    from scheduler.runtime import build_runtime

    rows = tokens.list_tokens(build_runtime().db, user=user, org=org)
    if as_json:
        print_json(rows)
        return
    print_table(
        ["id", "name", "prefix", "user", "org", "role", "expires", "last used", "revoked"],
        [
            [
                row["id"],
                row["name"],
                row["prefix"] + "...",
                row["user"],
                row["org"],
                row["role"],
                (row["expires_at"] or "never")[:16],
                (row["last_used_at"] or "-")[:16],
                (row["revoked_at"] or "")[:16],
            ]
            for row in rows
        ],
    )


@token_app.command("revoke")
def token_revoke(
    token_id: Annotated[int, typer.Argument(metavar="ID", help="The token's id (crosspost token list)")],
    as_user: AsUser = None,
) -> None:
    """Revoke a token at once (its owner, or an admin of its organisation)."""
    from scheduler.accounts import tokens
    from scheduler.runtime import build_runtime

    runtime = build_runtime()
    tokens.revoke_token(runtime.db, token_id, now=runtime.clock(), actor=actor(as_user))
    print(f"token {token_id} revoked")


def read_new_password(user: str, *, from_stdin: bool) -> str:
    """A new password from standard input (its first line) or typed twice at a hidden prompt;
    never from the command line, where other users of the machine could read it."""
    from scheduler.accounts.passwords import check_policy

    if from_stdin:
        line = sys.stdin.readline()
        if not line:
            raise InvalidInput("--stdin: nothing on standard input; send the password as its first line")
        password = line.rstrip("\r\n")
    else:
        if not sys.stdin.isatty():
            raise InvalidInput("no terminal to type the password into: send it on standard input with --stdin")
        password = typer.prompt(f"New password for {user}", hide_input=True)
        check_policy(user, password)  # before asking again
        if typer.prompt("Again", hide_input=True) != password:
            raise InvalidInput("the two passwords differ; nothing was changed")
    check_policy(user, password)
    return password
