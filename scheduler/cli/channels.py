"""`crosspost channel add|list`."""

from __future__ import annotations

import webbrowser
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from scheduler.cli._files import json_object
from scheduler.cli._output import print_json, print_table
from scheduler.cli._people import AsUser, actor
from scheduler.errors import InvalidInput

if TYPE_CHECKING:
    from scheduler.settings import Settings


app = typer.Typer(help="Channels: named accounts on a platform.", no_args_is_help=True)


def _options(pairs: list[str]) -> dict[str, Any]:
    options: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise InvalidInput(f"--option {pair!r}: write it as KEY=VALUE")
        options[key] = value
    return options


def _credentials(path: Path | None) -> dict[str, Any] | None:
    return None if path is None else json_object(path, "credentials file")


@app.command("add")
def add(
    platform: Annotated[str, typer.Option(help="x, linkedin, tiktok, youtube or webhook")],
    name: Annotated[str, typer.Option(help="A short unique name, e.g. cms-x")],
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Write to the outbox instead of publishing")] = False,
    credentials: Annotated[Path | None, typer.Option(help="JSON file with the account's tokens")] = None,
    timezone: Annotated[str, typer.Option(help="IANA zone for wall times on this channel")] = "UTC",
    language: Annotated[str | None, typer.Option(help="Language of the channel, a BCP 47 tag: en, de-CH, ...")] = None,
    option: Annotated[list[str] | None, typer.Option(help="Platform option KEY=VALUE (repeatable)")] = None,
    org: Annotated[str | None, typer.Option(help="The organisation the channel belongs to")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
    as_user: AsUser = None,
) -> None:
    """Add a channel without prompts."""
    from adapters import adapter_class, check_channel
    from scheduler import posts
    from scheduler.runtime import build_runtime

    options = _options(option or [])
    adapter_class(platform)  # unknown platform: refused here with the known names
    check_channel(platform, dry_run=dry_run, options=options)
    if not dry_run and platform != "webhook" and credentials is None:
        raise InvalidInput(
            f"a live {platform} channel needs its tokens: --credentials FILE (JSON), or sign in with "
            f"crosspost channel connect --platform {platform} --name {name}; or add it with --dry-run"
        )
    runtime = build_runtime()
    channel = posts.add_channel(
        runtime.db,
        runtime.settings,
        name=name,
        platform=platform,
        timezone=timezone,
        language=language,
        dry_run=dry_run,
        options=options,
        credentials=_credentials(credentials),
        org=org,
        now=runtime.clock(),
        actor=actor(as_user),
    )
    view = _view(channel, org, runtime.settings)
    if as_json:
        print_json(view)
    else:
        details = [channel.platform] + (["dry run"] if channel.dry_run else []) + ([f"for {org}"] if org else [])
        print(f"channel {channel.name} added ({', '.join(details)})")


def _view(channel: Any, org: str | None, settings: Settings) -> dict[str, Any]:
    """A channel for people: secret options (a webhook's URL) show where they go, not their key."""
    from scheduler.credentials import shown_options

    return {
        "name": channel.name,
        "org": org,
        "platform": channel.platform,
        "timezone": channel.timezone,
        "language": channel.language,
        "dry_run": channel.dry_run,
        "status": channel.status,
        "has_credentials": channel.credentials is not None,
        "options": shown_options(channel.options, channel.secret_options, settings, channel.name),
    }


@app.command("list")
def list_(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """List channels."""
    from scheduler import posts
    from scheduler.editorial import people
    from scheduler.runtime import build_runtime

    runtime = build_runtime()
    db = runtime.db
    owners = {name: row["name"] for row in people.list_orgs(db) for name in row["channels"]}
    views = [_view(channel, owners.get(channel.name), runtime.settings) for channel in posts.list_channels(db)]
    if as_json:
        print_json(views)
        return
    rows = [
        [v["name"], v["platform"], v["timezone"], "yes" if v["dry_run"] else "no", v["status"], v["org"]] for v in views
    ]
    print_table(["channel", "platform", "timezone", "dry run", "status", "org"], rows)


@app.command("assign")
def assign(
    name: Annotated[str, typer.Argument(help="The channel")],
    org: Annotated[str | None, typer.Option(help="The organisation that owns it from now on")] = None,
    none: Annotated[bool, typer.Option("--none", help="Belong to no organisation (no sign-off needed)")] = False,
    as_user: AsUser = None,
) -> None:
    """Give an existing channel to an organisation: its approval policy applies from now on, also to
    the posts already waiting on the channel."""
    from scheduler import posts
    from scheduler.runtime import build_runtime

    if (org is None) == (not none):
        raise InvalidInput("give --org ORG or --none")
    runtime = build_runtime()
    settled = posts.assign_channel(runtime.db, channel=name, org=org, now=runtime.clock(), actor=actor(as_user))
    print(f"{name} belongs to {org or 'no organisation'}" + (f"; posts re-checked: {settled}" if settled else ""))


@app.command("reconnect")
def reconnect(
    name: Annotated[str, typer.Argument(help="The channel")],
    credentials: Annotated[Path, typer.Option(help="JSON file with the account's new tokens")],
    as_user: AsUser = None,
) -> None:
    """Give a channel new credentials (encrypted at rest); the posts that waited for it go out."""
    from scheduler import posts
    from scheduler.runtime import build_runtime

    tokens = _credentials(credentials)
    assert tokens is not None
    runtime = build_runtime()
    released = posts.reconnect_channel(
        runtime.db, runtime.settings, channel=name, credentials=tokens, now=runtime.clock(), actor=actor(as_user)
    )
    print(f"{name} reconnected; {len(released)} waiting publication(s) released")


@app.command("connect")
def connect(
    platform: Annotated[str, typer.Option(help="x, linkedin, tiktok or youtube")],
    name: Annotated[str, typer.Option(help="The channel: added if new, reconnected if it exists")],
    client_id: Annotated[str, typer.Option(envvar="CROSSPOST_CLIENT_ID", help="Your app's client id (key)")],
    client_secret: Annotated[
        str | None, typer.Option(envvar="CROSSPOST_CLIENT_SECRET", help="Your app's client secret")
    ] = None,
    port: Annotated[int, typer.Option(help="Local port for the browser's redirect")] = 8765,
    paste: Annotated[
        bool, typer.Option("--paste", help="No local listener: paste the URL the browser ends on")
    ] = False,
    redirect_uri: Annotated[
        str | None, typer.Option(help="Redirect URI registered with the app (default: the local listener)")
    ] = None,
    timezone: Annotated[str, typer.Option(help="IANA zone for wall times on this channel")] = "UTC",
    language: Annotated[str | None, typer.Option(help="Language of the channel, a BCP 47 tag: en, de-CH, ...")] = None,
    org: Annotated[str | None, typer.Option(help="The organisation the channel belongs to")] = None,
    as_user: AsUser = None,
) -> None:
    """Sign in to the platform in a browser (OAuth 2.0, PKCE where the platform takes it) and
    store the tokens, encrypted; they are refreshed before they expire."""
    from adapters import adapter_class, oauth
    from scheduler import languages, posts
    from scheduler.runtime import build_runtime

    adapter_class(platform)
    languages.parse_optional(language, what="--language")  # before the browser, not after it
    runtime = build_runtime()
    settings = runtime.settings
    uri = redirect_uri or f"http://127.0.0.1:{port}/callback"
    authorization = oauth.authorization(platform, client_id, uri, settings)

    def show(_: str) -> None:
        print(f"Open this address, sign in and allow crosspost:\n\n  {authorization.url}\n", flush=True)
        webbrowser.open(authorization.url)

    if paste:
        show(uri)
        redirected = typer.prompt("Paste the whole address your browser ended on")
    else:
        redirected = oauth.wait_for_redirect(port, timeout=300, ready=show)
    code = oauth.code_from_redirect(authorization, redirected)
    tokens = oauth.exchange(authorization, code, client_id, client_secret, settings)
    known = {channel.name for channel in posts.list_channels(runtime.db)}
    if name in known:
        posts.reconnect_channel(
            runtime.db, settings, channel=name, credentials=tokens, now=runtime.clock(), actor=actor(as_user)
        )
        print(f"{name} reconnected")
        return
    posts.add_channel(
        runtime.db,
        settings,
        name=name,
        platform=platform,
        timezone=timezone,
        language=language,
        credentials=tokens,
        org=org,
        now=runtime.clock(),
        actor=actor(as_user),
    )
    print(f"{name} connected on {platform}")
