"""Who may do what where: every organisation-scoped command x role x organisation, through the CLI.

The actor is a member of ``cms`` (a host) with one role, or of nothing. Each command is aimed at an
object of ``cms`` (own), of ``atlas`` (another host) or of ``lhcb`` (a partner). The rule is one
for all: allowed exactly when the actor holds the command's minimum role in every organisation the
command touches (``scheduler/editorial/authorization.py``); instance-wide commands need an admin of a host.
A refusal is one line naming a rule, and changes nothing.

Every command of the CLI must have a row here or be listed as not organisation-scoped, with why:
a new command without either fails ``test_every_command_is_classified``.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import typer

from scheduler import posts
from scheduler.accounts.tokens import create_token
from scheduler.calendar import campaigns
from scheduler.cli import app
from scheduler.editorial import people, shares, signoff
from scheduler.editorial.policy import ROLES
from scheduler.notify import webhooks
from scheduler.notify.notifications import add_target
from scheduler.planning import timetable
from scheduler.runtime import Runtime
from scheduler.store import open_database
from tests.conftest import Clock, make_settings
from tests.helpers import Run, table_counts

ORGS = ("cms", "atlas", "lhcb")  # own, another host, a partner
ACTOR_ROLES = (*ROLES, None)  # None: a user in no organisation
NOW = datetime(2027, 3, 1, 9, 0, tzinfo=UTC)
SECRET = "authorization-table-secret-key-0123456789"


@dataclass(frozen=True)
class World:
    db_file: Path
    ids: dict[str, int]  # what the commands aim at, per organisation: "post:cms", "share-to:lhcb", ...
    files: dict[str, Path]


# command -> (the minimum role, or "instance" for instance-wide ones; its arguments for a target org)
Args = Callable[[World, str], list[str]]
SCOPED: dict[str, tuple[str, Args]] = {
    "channel add": (
        "admin",
        lambda w, o: ["channel", "add", "--platform", "x", "--name", f"new-{o}", "--dry-run", "--org", o],
    ),
    # taking another organisation's channel touches both: the taker's and the giver's
    "channel assign": ("admin", lambda w, o: ["channel", "assign", f"{o}-x", "--org", "cms"]),
    "channel reconnect": (
        "admin",
        lambda w, o: ["channel", "reconnect", f"{o}-x", "--credentials", str(w.files["credentials"])],
    ),
    "user role": ("admin", lambda w, o: ["user", "role", "newbie", "--org", o, "--role", "contributor"]),
    "policy set": ("admin", lambda w, o: ["policy", "set", str(w.files["policy"]), "--org", o]),
    "queue set": ("admin", lambda w, o: ["queue", "set", f"{o}-x", "--slot", "mon-fri 09:00"]),
    "queue blackout add": (
        "admin",
        lambda w, o: [
            "queue",
            "blackout",
            "add",
            "closure",
            "--from",
            "2027-08-01T00:00Z",
            "--to",
            "2027-08-02T00:00Z",
            "--channel",
            f"{o}-x",
        ],
    ),
    "queue blackout remove": ("admin", lambda w, o: ["queue", "blackout", "remove", str(w.ids[f"blackout:{o}"])]),
    "pause": ("instance", lambda w, o: ["pause", "--reason", "embargo"]),
    "resume": ("instance", lambda w, o: ["resume"]),
    "calendar import": ("admin", lambda w, o: ["calendar", "import", str(w.files["ics"]), "--org", o]),
    # reading the feed's secret URL (made on first read); --rotate needs an admin (tests/api/test_feeds.py)
    "org feed": ("contributor", lambda w, o: ["org", "feed", o]),
    "campaign add": (
        "contributor",
        lambda w, o: [
            "campaign",
            "add",
            "--observance",
            "lgbtq-stem-day",
            "--channel",
            f"{o}-x",
            "--org",
            o,
            "--text",
            "Today: {name}",
        ],
    ),
    # the actor is not the campaign's author (who may always edit it, as a contributor)
    "campaign edit": (
        "editor",
        lambda w, o: ["campaign", "edit", str(w.ids[f"campaign:{o}"]), "--text", "Edited: {name}"],
    ),
    "campaign remove": ("editor", lambda w, o: ["campaign", "remove", str(w.ids[f"campaign:{o}"])]),
    "post create": ("contributor", lambda w, o: ["post", "create", "--text", "hello", "--channel", f"{o}-x", "--now"]),
    "post edit": ("editor", lambda w, o: ["post", "edit", str(w.ids[f"post:{o}"]), "--text", "edited"]),
    "post cancel": ("editor", lambda w, o: ["post", "cancel", str(w.ids[f"post:{o}"])]),
    "post retry": ("editor", lambda w, o: ["post", "retry", str(w.ids[f"post:{o}"])]),
    "post variant": (
        "editor",
        lambda w, o: ["post", "variant", str(w.ids[f"post:{o}"]), "--text", "Hallo", "--language", "de"],
    ),
    "post submit": ("contributor", lambda w, o: ["post", "submit", str(w.ids[f"draft:{o}"])]),
    # the gate is membership; the policy then says whose sign-off counts (here: an editor or above)
    "post approve": ("editor", lambda w, o: ["post", "approve", str(w.ids[f"post:{o}"])]),
    "post comment": ("contributor", lambda w, o: ["post", "comment", str(w.ids[f"post:{o}"]), "--text", "nice"]),
    "post request-changes": (
        "editor",
        lambda w, o: ["post", "request-changes", str(w.ids[f"post:{o}"]), "--text", "shorter"],
    ),
    "post share": (
        "editor",
        lambda w, o: ["post", "share", str(w.ids[f"approved:{o}"]), "--with", "lhcb" if o != "lhcb" else "cms"],
    ),
    "post unshare": ("editor", lambda w, o: ["post", "unshare", str(w.ids[f"share-from:{o}"])]),
    "post adopt": (
        "contributor",
        lambda w, o: ["post", "adopt", str(w.ids[f"share-to:{o}"]), "--channel", f"{o}-x", "--now"],
    ),
    "notify target add": (
        "admin",
        lambda w, o: ["notify", "target", "add", "--org", o, "slack://T1JJ3T3L2/A1BRTD4JD/TIiajkdnlazkcOXrIdevi7FQ"],
    ),
    "notify target remove": ("admin", lambda w, o: ["notify", "target", "remove", str(w.ids[f"target:{o}"])]),
    # a token for someone else (one's own needs only membership: tests/test_cli_accounts.py)
    "token create": (
        "admin",
        lambda w, o: ["token", "create", "--user", f"{o}-author", "--org", o, "--role", "contributor", "--name", "t"],
    ),
    "token revoke": ("admin", lambda w, o: ["token", "revoke", str(w.ids[f"token:{o}"])]),
    "webhook add": ("admin", lambda w, o: ["webhook", "add", "--org", o, "--url", "https://93.184.215.14/hook"]),
    "webhook remove": ("admin", lambda w, o: ["webhook", "remove", str(w.ids[f"webhook:{o}"])]),
    "webhook replay": ("admin", lambda w, o: ["webhook", "replay", str(w.ids[f"delivery:{o}"])]),
    # its URL is refused when sent (loopback, allowed only when it was added): allowed means "not delivered"
    "webhook test": ("admin", lambda w, o: ["webhook", "test", str(w.ids[f"webhook:{o}"])]),
}

NOT_SCOPED: dict[str, str] = {
    "channel connect": "a browser sign-in; it stores through the same service as channel add / reconnect",
    **dict.fromkeys(
        [
            "calendar export",
            "calendar list",
            "calendar show",
            "campaign list",
            "campaign show",
            "channel list",
            "config",
            "events",
            "media adapt",
            "media specs",
            "policy check",
            "policy show",
            "post list",
            "post review",
            "post show",
            "post shares",
            "post signoffs",
            "queue show",
            "queue blackout list",
            "text check",
            "user list",
            "org list",
            "report",
            "post preview",
        ],
        "reads or checks only; on the server's CLI that is the operator's (the API scopes reads)",
    ),
    **dict.fromkeys(
        ["org add", "user add", "db upgrade", "up", "web", "worker", "dispatcher", "demo"],
        "the operator's alone: takes no --as",
    ),
    **dict.fromkeys(
        [
            "user password",
            "user invite",
            "user sign-out-everywhere",
            "user totp-off",
            "user disable",
            "user enable",
            "token list",
        ],
        "the operator's at the server, for any account, no --as (the API and web app let people do their own, "
        "tests/accounts); token list is a read",
    ),
    **dict.fromkeys(
        ["notify prefs", "notify test", "notify target list"],
        "a person's own settings, or a read: the person, an admin of their organisations or the operator "
        "(tests/notify, tests/api/test_api_notifications.py)",
    ),
    **dict.fromkeys(["webhook list", "webhook deliveries"], "reads; an organisation's admins through the API"),
}


def _commands() -> set[str]:
    found: set[str] = set()

    def walk(command: Any, prefix: list[str]) -> None:
        if hasattr(command, "commands"):  # a group (Typer may bundle its own click)
            for name, sub in command.commands.items():
                walk(sub, [*prefix, name])
        else:
            found.add(" ".join(prefix))

    walk(typer.main.get_command(app), [])
    return found


def test_every_command_is_classified() -> None:
    unclassified = _commands() - set(SCOPED) - set(NOT_SCOPED)
    assert not unclassified, f"add a row for {sorted(unclassified)} to SCOPED or NOT_SCOPED"
    assert not (set(SCOPED) | set(NOT_SCOPED)) - _commands()  # no rows for commands that are gone
    for command in SCOPED:  # every scoped command takes --as
        params = _params(command)
        assert "as_user" in params, f"{command} acts for a person but takes no --as"


def _params(command: str) -> set[str]:
    node: Any = typer.main.get_command(app)
    for part in command.split():
        node = node.commands[part]
    return {param.name for param in node.params if param.name}


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    """One database every case starts from a copy of: three organisations, each with a channel, a
    post awaiting sign-off, a draft, a campaign, a blackout and shares in and out."""
    root = tmp_path_factory.mktemp("world")
    settings = make_settings(root / "data", secret_key=SECRET, webhook_allowed_hosts=frozenset({"127.0.0.1"}))
    runtime = Runtime(settings=settings, db=open_database(settings.database_url), clock=Clock(NOW))
    db, now = runtime.db, NOW
    ids: dict[str, int] = {}
    people.add_user(db, name="newbie", now=now)
    for org in ORGS:
        people.add_org(db, name=org, kind="partner" if org == "lhcb" else "host", now=now)
        people.add_user(db, name=f"{org}-author", now=now)
        people.set_role(db, user=f"{org}-author", org=org, role="contributor", now=now)
        posts.add_channel(db, settings, name=f"{org}-x", platform="x", dry_run=True, org=org, now=now)
        due = (now + timedelta(days=10)).isoformat()
        ids[f"post:{org}"] = posts.create_post(
            db, settings, text=f"{org} news", channels=[f"{org}-x"], at=due, now=now, actor=f"{org}-author"
        )
        ids[f"draft:{org}"] = posts.create_post(
            db, settings, text=f"{org} draft", channels=[f"{org}-x"], at=due, now=now, actor=f"{org}-author", draft=True
        )
        people.add_user(db, name=f"{org}-signer", now=now)
        people.set_role(db, user=f"{org}-signer", org=org, role="editor", now=now)
        ids[f"approved:{org}"] = posts.create_post(
            db, settings, text=f"{org} result", channels=[f"{org}-x"], at=due, now=now, actor=f"{org}-author"
        )
        signoff.approve(db, ids[f"approved:{org}"], actor=f"{org}-signer", now=now)
        ids[f"campaign:{org}"], _ = campaigns.add_campaign(
            db,
            settings,
            observance_id="lgbtq-stem-day",
            channels=[f"{org}-x"],
            text="{name}",
            org=org,
            actor=f"{org}-author",
            now=now,
        )
        ids[f"blackout:{org}"], _ = timetable.add_blackout(
            db, name="quiet", start="2027-09-01T00:00Z", end="2027-09-02T00:00Z", channel=f"{org}-x", now=now
        )
        ids[f"target:{org}"] = add_target(db, settings, org=org, url="json://127.0.0.1:9/hook", now=now)["id"]
        ids[f"token:{org}"] = create_token(db, user=f"{org}-author", org=org, role="contributor", name="t", now=now).id
    loopback = settings.model_copy(update={"webhook_allowed_hosts": frozenset({"127.0.0.1"})})
    for org in ORGS:  # each one's webhook, with a delivery of its posts' events
        hook = webhooks.subscribe(db, loopback, org=org, url="http://127.0.0.1:9/hook", kinds=["*"], now=now)
        ids[f"webhook:{org}"] = hook.subscription["id"]
    webhooks.fan_out(db, settings, now=now)
    for org in ORGS:
        [ids[f"delivery:{org}"], *_] = [d["id"] for d in webhooks.list_deliveries(db, ids[f"webhook:{org}"])]
    for role in ROLES:
        people.add_user(db, name=f"cms-{role}", now=now)
        people.set_role(db, user=f"cms-{role}", org="cms", role=role, now=now)
    people.add_user(db, name="stranger", now=now)
    # shares: out of each organisation's post, and offered to each organisation
    for giver, taker in (("cms", "lhcb"), ("atlas", "cms"), ("lhcb", "atlas")):
        ids[f"share-from:{giver}"] = ids[f"share-to:{taker}"] = shares.share(
            db, ids[f"approved:{giver}"], to_org=taker, now=now
        )
    files = {
        "credentials": root / "credentials.json",
        "policy": root / "policy.toml",
        "ics": root / "days.ics",
    }
    files["credentials"].write_text('{"access_token": "t", "user_id": "1"}')
    files["policy"].write_text('[[rule]]\nname = "everything: an editor"\nroles = ["editor"]\nrequired = 1\n')
    files["ics"].write_text(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nBEGIN:VEVENT\r\nUID:open-day@example.org\r\n"
        "DTSTAMP:20270101T000000Z\r\nDTSTART;VALUE=DATE:20270915\r\nSUMMARY:Open Day\r\n"
        "RRULE:FREQ=YEARLY\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    )
    runtime.db.dispose()
    return World(db_file=root / "data" / "crosspost.db", ids=ids, files=files)


def _expected(minimum: str, role: str | None, org: str) -> bool:
    if role is None:
        return False
    rank = ROLES.index(role)
    if minimum == "instance":
        return rank >= ROLES.index("admin")  # cms is a host
    return org == "cms" and rank >= ROLES.index(minimum)


CASES = [
    pytest.param(command, role, org, id=f"{command}-{role or 'none'}-{org}")
    for command in sorted(SCOPED)
    for role in ACTOR_ROLES
    for org in (ORGS if SCOPED[command][0] != "instance" else ("cms",))
]


@pytest.mark.parametrize(("command", "role", "org"), CASES)
def test_who_may_do_what_where(
    world: World, cli: Run, tmp_path: Path, command: str, role: str | None, org: str
) -> None:
    (tmp_path / "data").mkdir(exist_ok=True)
    shutil.copyfile(world.db_file, tmp_path / "data" / "crosspost.db")
    minimum, arguments = SCOPED[command]
    actor = f"cms-{role}" if role else "stranger"
    before = _counts(tmp_path)
    result = cli(*arguments(world, org), "--as", actor, CROSSPOST_SECRET_KEY=SECRET)
    refused_by_rule = result.returncode != 0 and (
        "rule 'roles'" in result.stderr
        or "rule 'channels belong to their organisation'" in result.stderr
        or "may not sign off" in result.stderr
    )
    assert "Traceback" not in result.stderr
    if _expected(minimum, role, org):
        assert not refused_by_rule, result.stderr
    else:
        assert refused_by_rule, (result.returncode, result.stdout, result.stderr)
        assert len(result.stderr.strip().splitlines()) == 1
        assert _counts(tmp_path) == before  # nothing stored, no event


def _counts(tmp_path: Path) -> dict[str, int]:
    db = open_database(f"sqlite:///{tmp_path / 'data' / 'crosspost.db'}", migrate=False)
    try:
        return table_counts(db)
    finally:
        db.dispose()


def test_a_partner_admin_cannot_take_over_a_host_channel(cli: Run) -> None:
    """Finding 1 of the hostile-input review, as it was tried: assign, then a lax policy, then post."""
    env = {"CROSSPOST_SECRET_KEY": SECRET}
    for args in (
        ["org", "add", "host"],
        ["org", "add", "partner", "--kind", "partner"],
        ["user", "add", "mallory"],
        ["user", "role", "mallory", "--org", "partner", "--role", "admin"],
        ["channel", "add", "--platform", "x", "--name", "host-x", "--dry-run", "--org", "host"],
    ):
        assert cli(*args, **env).returncode == 0
    taken = cli("channel", "assign", "host-x", "--org", "partner", "--as", "mallory", **env)
    assert taken.returncode == 2
    assert taken.stderr.startswith("error: rule 'roles': to assign a channel (host-x) in host and partner")
    assert "mallory is not a member of host" in taken.stderr
    shown = cli("channel", "list", "--json", **env)
    assert '"org": "host"' in shown.stdout  # still the host's


def test_a_campaign_that_would_fail_on_the_day_is_refused_when_added(cli: Run) -> None:
    """Finding 2: checked at add as its yearly post would be: TikTok needs a video, and the
    importance must be one the policy knows."""
    env = {"CROSSPOST_SECRET_KEY": SECRET}
    for args in (
        ["org", "add", "cms"],
        ["user", "add", "ana"],
        ["user", "role", "ana", "--org", "cms", "--role", "contributor"],
        ["channel", "add", "--platform", "tiktok", "--name", "cms-tt", "--dry-run", "--org", "cms"],
        ["channel", "add", "--platform", "x", "--name", "cms-x", "--dry-run", "--org", "cms"],
    ):
        assert cli(*args, **env).returncode == 0
    base = ["campaign", "add", "--observance", "lgbtq-stem-day", "--org", "cms", "--as", "ana"]
    text_only = cli(*base, "--channel", "cms-tt", "--text", "Today is {name}", **env)
    assert text_only.returncode == 2
    assert "cms-tt (TikTok)" in text_only.stderr
    unknown = cli(*base, "--channel", "cms-x", "--text", "Today", "--importance", "earth-shattering", **env)
    assert unknown.returncode == 2
    assert "earth-shattering" in unknown.stderr
    assert cli("campaign", "list", "--json", **env).stdout.strip() == "[]"
