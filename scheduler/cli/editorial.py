"""`crosspost org ...`, `crosspost user ...` and `crosspost policy ...`: organisations, people, policies."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from scheduler.cli._output import print_json, print_table
from scheduler.cli._people import AsUser, actor
from scheduler.editorial.roles import ROLES
from scheduler.errors import InvalidInput

org_app = typer.Typer(help="Organisations: the host collaboration and its partners.", no_args_is_help=True)
user_app = typer.Typer(help="People and their roles in organisations.", no_args_is_help=True)
policy_app = typer.Typer(help="Approval policies: who signs off what (docs/policy.md).", no_args_is_help=True)

JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON")]


# -- organisations -------------------------------------------------------------------------------


@org_app.command("add")
def org_add(
    name: Annotated[str, typer.Argument(help="A short unique name, e.g. cms")],
    display_name: Annotated[str | None, typer.Option(help="The name people read")] = None,
    kind: Annotated[str, typer.Option(help="host or partner")] = "host",
) -> None:
    """Add an organisation (it uses the default approval policy until one is set)."""
    from scheduler.editorial import people
    from scheduler.runtime import build_runtime

    runtime = build_runtime()
    org = people.add_org(runtime.db, name=name, display_name=display_name, kind=kind, now=runtime.clock())
    print(f"organisation {org.name} added ({org.kind})")


@org_app.command("list")
def org_list(as_json: JsonFlag = False) -> None:
    """List organisations with their members, channels and policy."""
    from scheduler.editorial import people
    from scheduler.runtime import build_runtime

    rows = people.list_orgs(build_runtime().db)
    if as_json:
        print_json(rows)
        return
    print_table(
        ["organisation", "kind", "policy", "members", "channels"],
        [
            [
                row["name"],
                row["kind"],
                row["policy"],
                ", ".join(f"{name} ({role})" for name, role in row["members"].items()),
                ", ".join(row["channels"]),
            ]
            for row in rows
        ],
    )


@org_app.command("feed")
def org_feed(
    org: Annotated[str, typer.Argument(help="The organisation")],
    rotate: Annotated[bool, typer.Option("--rotate", help="Give it a new URL; the old one stops working")] = False,
    as_user: AsUser = None,
) -> None:
    """Print the secret URL of the organisation's calendar feed (.ics: its posts and the awareness days)."""
    from scheduler.calendar.feed import feed_url
    from scheduler.runtime import build_runtime

    runtime = build_runtime()
    base = runtime.settings.web_base_url
    print(feed_url(runtime.db, org, actor=actor(as_user), base_url=base, now=runtime.clock(), rotate=rotate))


# -- people --------------------------------------------------------------------------------------


@user_app.command("add")
def user_add(
    name: Annotated[str, typer.Argument(help="A short unique user name, e.g. ana")],
    display_name: Annotated[str | None, typer.Option(help="The name people read")] = None,
    email: Annotated[str | None, typer.Option(help="Where to reach them")] = None,
) -> None:
    """Add a person (give them a role with `crosspost user role`)."""
    from scheduler.editorial import people
    from scheduler.runtime import build_runtime

    runtime = build_runtime()
    user = people.add_user(runtime.db, name=name, display_name=display_name, email=email, now=runtime.clock())
    print(f"user {user.name} added")


@user_app.command("role")
def user_role(
    name: Annotated[str, typer.Argument(help="The user")],
    org: Annotated[str, typer.Option(help="The organisation")],
    role: Annotated[str | None, typer.Option(help=" | ".join(ROLES))] = None,
    remove: Annotated[bool, typer.Option("--remove", help="Take the user out of the organisation")] = False,
    as_user: AsUser = None,
) -> None:
    """Give a user a role in an organisation, or remove them from it."""
    from scheduler.editorial import people
    from scheduler.runtime import build_runtime

    if (role is None) == (not remove):
        raise InvalidInput(f"give either --role ({', '.join(ROLES)}) or --remove")
    runtime = build_runtime()
    people.set_role(runtime.db, user=name, org=org, role=role, now=runtime.clock(), actor=actor(as_user))
    if remove:
        print(f"{name} removed from {org}")
    else:
        assert role is not None
        print(f"{name} is now {role.strip().lower()} of {org}")


@user_app.command("list")
def user_list(as_json: JsonFlag = False) -> None:
    """List users and their roles."""
    from scheduler.editorial import people
    from scheduler.runtime import build_runtime

    rows = people.list_users(build_runtime().db)
    if as_json:
        print_json(rows)
        return
    print_table(
        ["user", "name", "email", "roles"],
        [
            [
                row["name"],
                row["display_name"],
                row["email"],
                ", ".join(f"{org}: {role}" for org, role in sorted(row["roles"].items())),
            ]
            for row in rows
        ],
    )


# -- policies ------------------------------------------------------------------------------------


def _read(file: Path) -> str:
    try:
        return file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InvalidInput(f"policy file {file} does not exist") from None
    except IsADirectoryError:
        raise InvalidInput(f"policy file {file} is a directory") from None
    except UnicodeDecodeError:
        raise InvalidInput(f"policy file {file} is not UTF-8 text") from None


def _rules(count: int) -> str:
    return "1 rule" if count == 1 else f"{count} rules"


@policy_app.command("show")
def policy_show(
    org: Annotated[str, typer.Option(help="The organisation")],
    as_json: JsonFlag = False,
) -> None:
    """Print an organisation's policy as a policy file (TOML), or as JSON."""
    from scheduler.editorial import signoff
    from scheduler.editorial.policy import policy_as_toml
    from scheduler.runtime import build_runtime

    policy = signoff.show_policy(build_runtime().db, org=org)
    if as_json:
        print_json(policy.to_document())
    else:
        print(policy_as_toml(policy), end="")


@policy_app.command("set")
def policy_set(
    file: Annotated[Path, typer.Argument(help="Policy file (TOML, or JSON)")],
    org: Annotated[str, typer.Option(help="The organisation")],
    as_user: AsUser = None,
) -> None:
    """Check FILE and make it the organisation's policy; a bad file changes nothing."""
    from scheduler.editorial import signoff
    from scheduler.runtime import build_runtime

    text = _read(file)
    runtime = build_runtime()
    policy = signoff.set_policy(
        runtime.db, org=org, text=text, source=str(file), now=runtime.clock(), actor=actor(as_user)
    )
    print(f"policy of {org} set: {_rules(len(policy.rules))}")


@policy_app.command("check")
def policy_check(file: Annotated[Path, typer.Argument(help="Policy file (TOML, or JSON)")]) -> None:
    """Check a policy file without changing anything."""
    from scheduler.editorial.policy import parse_policy

    policy = parse_policy(_read(file), source=str(file))
    print(f"ok: {_rules(len(policy.rules))}")
