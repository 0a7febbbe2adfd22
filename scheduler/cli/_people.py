"""Who acts: the `--as NAME` option (or CROSSPOST_USER) shared by every command that acts as a person."""

from __future__ import annotations

from typing import Annotated

import typer

from scheduler.errors import InvalidInput

AsUser = Annotated[
    str | None,
    typer.Option(
        "--as",
        envvar="CROSSPOST_USER",
        show_envvar=True,
        help="Act as this user (default: the operator, who may manage but never sign off)",
    ),
]


def actor(as_user: str | None) -> str | None:
    """The acting user, or None for the operator (an empty CROSSPOST_USER counts as unset)."""
    if as_user is None or not as_user.strip():
        return None
    return as_user.strip()


def person(as_user: str | None, action: str) -> str:
    """The acting user for actions only a named person may take (sign-off, comments)."""
    name = actor(as_user)
    if name is None:
        raise InvalidInput(
            f"{action} is done by a named person, never by the operator: give --as NAME or set CROSSPOST_USER"
        )
    return name
