"""`crosspost org ...`, `crosspost user ...` and `crosspost policy ...`: organisations, people, policies."""

from __future__ import annotations

import sys
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


# -- accounts (scheduler/accounts; the operator's, at the server) ---------------------------------


@user_app.command("password")
def user_password(
    name: Annotated[str, typer.Argument(help="The user")],
    stdin: Annotated[bool, typer.Option("--stdin", help="Read it from standard input's first line")] = False,
) -> None:
    """Set a user's password (typed twice, or --stdin; never on the command line); ends their sessions."""
    from scheduler.accounts.passwords import set_password
    from scheduler.cli.accounts import read_new_password
    from scheduler.runtime import build_runtime

    password = read_new_password(name, from_stdin=stdin)
    runtime = build_runtime()
    set_password(runtime.db, runtime.settings, name, password, now=runtime.clock())
    print(f"password of {name} set; their web sessions are ended")


@user_app.command("invite")
def user_invite(
    name: Annotated[str, typer.Argument(help="The user")],
    valid_days: Annotated[int, typer.Option(min=1, max=30, help="How long the link works")] = 7,
) -> None:
    """Print a one-time link with which the user sets their password (an earlier unused one stops working)."""
    from datetime import timedelta

    from scheduler.accounts.invitations import invite
    from scheduler.runtime import build_runtime

    runtime = build_runtime()
    sent = invite(runtime.db, runtime.settings, name, now=runtime.clock(), valid_for=timedelta(days=valid_days))
    print(sent.url)
    print(f"valid once, until {sent.expires_at.isoformat(timespec='minutes')}; give it to {name} only", file=sys.stderr)


@user_app.command("sign-out-everywhere")
def user_sign_out_everywhere(name: Annotated[str, typer.Argument(help="The user")]) -> None:
    """End every web session of a user (a lost laptop); API tokens stay: crosspost token revoke."""
    from scheduler.accounts.sessions import sign_out_everywhere
    from scheduler.runtime import build_runtime

    runtime = build_runtime()
    ended = sign_out_everywhere(runtime.db, name, now=runtime.clock())
    print(f"{name}: {ended} web session{'' if ended == 1 else 's'} ended")


@user_app.command("totp-off")
def user_totp_off(name: Annotated[str, typer.Argument(help="The user")]) -> None:
    """Turn off a user's second factor (a lost phone); they set up a new one after signing in."""
    from scheduler.accounts.totp import disable_totp
    from scheduler.runtime import build_runtime

    runtime = build_runtime()
    was_on = disable_totp(runtime.db, name, now=runtime.clock())
    print(f"second factor of {name} {'turned off' if was_on else 'was not set'}")


@user_app.command("disable")
def user_disable(name: Annotated[str, typer.Argument(help="The user")]) -> None:
    """Disable an account (someone who left): no sign-in, web sessions ended, API tokens refused;
    their posts and sign-offs stay. `crosspost user enable` undoes it."""
    _set_disabled(name, disabled=True)


@user_app.command("enable")
def user_enable(name: Annotated[str, typer.Argument(help="The user")]) -> None:
    """Enable a disabled account again (its tokens work again unless revoked or expired)."""
    _set_disabled(name, disabled=False)


def _set_disabled(name: str, *, disabled: bool) -> None:
    from scheduler.accounts.sessions import set_disabled
    from scheduler.runtime import build_runtime

    runtime = build_runtime()
    changed = set_disabled(runtime.db, name, disabled=disabled, now=runtime.clock())
    word = "disabled" if disabled else "enabled"
    print(f"{name}: {word}" if changed else f"{name} was already {word}")


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
