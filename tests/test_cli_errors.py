"""Issue 11, finding 10: one line instead of a traceback, for each input the issue names.

Each of these printed a traceback on a863fdf. Usage errors are one line and exit 2 whatever Typer
(and whichever click) is installed; refused input is one line and exit 2 and stores nothing.
tests/test_cli_parsers.py drives the same parsers with generated input.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from scheduler.store import open_database
from tests.helpers import Run, ok, refused, table_counts


def _real(*args: str | bytes, **env: str) -> subprocess.CompletedProcess[str]:
    """`crosspost ARGS` as its own process (arguments may be bytes: a shell can pass any)."""
    return subprocess.run(
        [sys.executable, "-m", "scheduler.cli", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        timeout=60,
    )


def test_usage_errors_are_one_line_and_exit_2(cli: Run, tmp_path: Path) -> None:
    for args, says in [
        (("post", "list", "--bogus"), "No such option: --bogus"),
        (("post", "show"), "Missing argument"),
        (("post", "show", "abc"), "Invalid value"),
        (("post", "list", "--limit", "many"), "Invalid value for '--limit'"),
        (("nosuch",), "No such command"),
    ]:
        assert says in refused(cli(*args)), args
    bare = _real()  # a real process: the help on stdout, one line on stderr
    assert "no command given" in refused(bare)
    assert "post" in bare.stdout
    group = cli("post")
    assert "no command given; the commands of crosspost post" in refused(group)
    version = _real("--version")
    assert version.returncode == 0, version.stderr
    assert version.stdout.startswith("crosspost ")


def test_usage_errors_of_either_click_are_caught() -> None:
    """Typer 0.2x bundles its own copy of click (typer._click); earlier ones use click itself."""
    import click

    from scheduler.cli import _EXITS, _USAGE_ERRORS

    assert click.UsageError in _USAGE_ERRORS
    assert click.exceptions.Exit in _EXITS
    try:
        from typer._click import exceptions as bundled
    except ImportError:
        return
    assert bundled.UsageError in _USAGE_ERRORS


def test_text_that_is_not_utf8_is_refused(cli: Run, tmp_path: Path) -> None:
    ok(cli("channel", "add", "--platform", "x", "--name", "cms-x", "--dry-run"))
    bad = _real("post", "create", "--channel", "cms-x", "--now", "--text", b"caf\xe9 \xff")
    assert refused(bad) == r"error: argument 7 is not valid UTF-8 text (character 4): caf\xe9 \xff"
    assert "not valid UTF-8" in refused(cli("post", "create", "--channel", "cms-x", "--now", "--text", "a\udcff"))
    db = open_database(f"sqlite:///{tmp_path / 'data' / 'crosspost.db'}", migrate=False)
    assert table_counts(db)["posts"] == 0
    db.dispose()


def test_times_ids_and_years_out_of_range(cli: Run) -> None:
    ok(cli("channel", "add", "--platform", "x", "--name", "cms-x", "--dry-run"))
    late = refused(cli("post", "create", "--text", "hi", "--channel", "cms-x", "--at", "9999-12-31T23:59-12:00"))
    assert "give a time in the years 1900 to 2999" in late
    assert "less than or equal to 9223372036854775807" in refused(cli("post", "show", "99999999999999999999"))
    assert "greater than or equal to 1900" in refused(cli("calendar", "list", "--year", "0"))
    assert "the calendar covers" in refused(cli("calendar", "list", "--from", "9999-06-01"))
    assert "ten years" in refused(cli("calendar", "list", "--from", "2000-01-01", "--to", "2999-01-01"))


ICS = (
    "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//t//EN\r\nBEGIN:VEVENT\r\nSUMMARY:Open Day\r\n{}"
    "END:VEVENT\r\nEND:VCALENDAR\r\n"
)


@pytest.mark.parametrize(
    ("lines", "says"),
    [
        ("DTSTART;VALUE=DATE:2027139\r\n", "has a DTSTART that cannot be read"),
        ("DTSTART;VALUE=DATE:20270101\r\nDURATION:P99999999D\r\n", "an observance lasts whole days, at most 366"),
        ("DTSTART;VALUE=DATE:20270101\r\nDURATION:PXYZ\r\n", "has a DURATION that cannot be read"),
        ("DTSTART;VALUE=DATE:20270101\r\nRRULE:FREQ=YEARLY;UNTIL=abc\r\n", "has an RRULE that cannot be read"),
        ("DTSTART;VALUE=DATE:20270101\r\nRRULE:FREQ=YEARLY\r\nEXDATE:abc\r\n", "has an EXDATE that cannot be read"),
        ("DTSTART;VALUE=DATE:99991231\r\n", "the calendar covers 1900 to 2999"),
    ],
)
def test_bad_ics_values_are_refused_naming_the_event(cli: Run, tmp_path: Path, lines: str, says: str) -> None:
    path = tmp_path / "days.ics"
    path.write_text(ICS.format(lines))
    refusal = refused(cli("calendar", "import", str(path)))
    assert "'Open Day'" in refusal
    assert says in refusal
    assert ok(cli("calendar", "list", "--year", "2027", "--json")).count("open-day") == 0


def test_campaign_templates_take_only_plain_fields(cli: Run) -> None:
    ok(cli("channel", "add", "--platform", "webhook", "--name", "hook", "--option", "url=https://example.org/h"))
    for template, says in [
        ("{", "not a valid template"),
        ("{name!x}", "template fields take no format; write {name}"),
        ("{year:d}", "template fields take no format; write {year}"),
        ("{name:>300000000}", "template fields take no format"),  # asked for 300 million characters (1 GB)
    ]:
        refusal = refused(
            cli("campaign", "add", "--observance", "lgbtq-stem-day", "--channel", "hook", "--text", template)
        )
        assert says in refusal, template
    assert ok(cli("campaign", "list", "--json")).strip() == "[]"


def test_deeply_nested_policy_and_credentials_files_are_refused(cli: Run, tmp_path: Path) -> None:
    ok(cli("org", "add", "cms"))
    deep = "[" * 100_000 + "]" * 100_000
    for name, text in (("p.json", '{"rules": ' + deep + "}"), ("p.toml", "importances = " + deep + "\n")):
        (tmp_path / name).write_text(text)
        assert "nested" in refused(cli("policy", "set", "--org", "cms", str(tmp_path / name)))
    (tmp_path / "tokens.json").write_text('{"access_token": ' + deep + "}")
    creds = refused(
        cli("channel", "add", "--platform", "x", "--name", "x1", "--credentials", str(tmp_path / "tokens.json"))
    )
    assert "nested too deeply" in creds
    assert "is a directory" in refused(cli("channel", "add", "--platform", "x", "--name", "x2", "--credentials", "."))
    assert ok(cli("channel", "list", "--json")).strip() == "[]"


def test_a_rule_name_that_is_not_unicode_is_refused_and_policy_show_keeps_working(cli: Run, tmp_path: Path) -> None:
    ok(cli("org", "add", "cms"))
    path = tmp_path / "p.json"
    path.write_text(
        '{"rules": [{"name": "\\ud800", "importance": "*", "format": "*", "roles": ["editor"], "required": 1}]}'
    )
    assert "lone surrogate" in refused(cli("policy", "set", "--org", "cms", str(path)))
    assert "everything else: an editor" in ok(cli("policy", "show", "--org", "cms"))


def test_up_says_in_one_line_when_the_media_port_is_taken(tmp_path: Path, cli: Run) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = _real("up", CROSSPOST_MEDIA_LISTEN=f"127.0.0.1:{port}")
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert result.stderr.splitlines()[-1] == (
        f"error: cannot serve the media store on 127.0.0.1:{port}: Address already in use; "
        "stop what uses it or set CROSSPOST_MEDIA_LISTEN to another address"
    )
