"""Issue 11, finding 10: every parser of the command line, driven with generated input (Hypothesis).

Times and zones, ids, years and dates, .ics files, policy and credentials files, campaign templates
and whole command lines go through the real entry point (the in-process `cli` fixture). Whatever the
input: no traceback (an exception escaping `main` fails the test), an error is a non-zero exit with
an "error: " line on stderr (usage errors: one line, exit 2), and a refused command stores nothing.

Examples are bounded and derandomized so the suite stays fast and the same everywhere; set
CROSSPOST_FUZZ=1 for a longer, random run (new inputs every time).
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from scheduler.store import Campaign, Channel, CustomObservance, Database, Organisation, open_database
from tests.helpers import Run, ok, table_counts

_LONG = os.environ.get("CROSSPOST_FUZZ") == "1"


def fuzz(examples: int) -> Callable[[Any], Any]:
    return settings(
        max_examples=examples * 20 if _LONG else examples,
        derandomize=not _LONG,
        deadline=None,  # a command opens the database: tens of milliseconds, more on a loaded machine
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


# Command-line arguments: what a shell can pass (no NUL byte), including bytes that are not UTF-8
# (Python keeps them as lone surrogates).
_ARG_TEXT = st.text(st.characters(blacklist_characters="\x00"), max_size=30)
_NOT_UTF8 = st.binary(min_size=1, max_size=12).map(lambda raw: raw.decode("utf-8", "surrogateescape"))
ARG = st.one_of(_ARG_TEXT, _NOT_UTF8.filter(lambda text: "\x00" not in text))


def _stored(db: Database) -> dict[str, Any]:
    """What a refused command must not change."""
    counts: dict[str, Any] = table_counts(db)
    with db.transaction() as session:
        for model in (Channel, Campaign, CustomObservance, Organisation):
            counts[model.__tablename__] = session.scalar(select(func.count()).select_from(model))
        counts["policies"] = [row.policy for row in session.scalars(select(Organisation).order_by(Organisation.id))]
    return counts


@pytest.fixture
def checked(cli: Run, tmp_path: Path) -> Iterator[Callable[..., subprocess.CompletedProcess[str]]]:
    """`crosspost ARGS` with the checks every generated input must pass."""
    ok(cli("org", "add", "cms"))  # creates the database
    db = open_database(f"sqlite:///{tmp_path / 'data' / 'crosspost.db'}", migrate=False)

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        before = _stored(db)
        result = cli(*args)  # an exception escaping main() fails here, with its traceback
        assert "Traceback" not in result.stderr, result.stderr
        if result.returncode == 0:
            return result
        assert result.returncode in (1, 2), (args, result.returncode, result.stderr)
        assert result.stderr.startswith("error: "), (args, result.stderr)
        assert _stored(db) == before, (args, result.stderr)
        return result

    yield run
    db.dispose()


def _usage_error(result: subprocess.CompletedProcess[str]) -> bool:
    return result.returncode == 2 and len(result.stderr.splitlines()) == 1


# -- times and zones --------------------------------------------------------------------------------------------

_OFFSETS = ["", "", "Z", "+00:00", "-12:00", "+14:00", "+23:59", "-23:59", "+0530", "+24:00", "+1", "z"]
_ISO = st.builds(
    lambda y, mo, d, h, mi, sep, off: f"{y:04d}-{mo:02d}-{d:02d}{sep}{h:02d}:{mi:02d}{off}",
    st.integers(0, 9999),
    st.integers(0, 13),
    st.integers(0, 32),
    st.integers(0, 25),
    st.integers(0, 61),
    st.sampled_from(["T", " ", "t"]),
    st.sampled_from(_OFFSETS),
)
_ZONES = ["Europe/Zurich", "UTC", "America/Los_Angeles", "Pacific/Kiritimati", "Asia/Kathmandu", "Etc/GMT+12"]
ZONE = st.one_of(st.none(), st.sampled_from(_ZONES), ARG)


def test_times_and_zones(checked: Callable[..., subprocess.CompletedProcess[str]]) -> None:
    ok(checked("channel", "add", "--platform", "webhook", "--name", "hook", "--option", "url=https://example.org/h"))

    @fuzz(60)
    @given(at=st.one_of(_ISO, ARG), tz=ZONE, edit=st.booleans())
    def check(at: str, tz: str | None, edit: bool) -> None:
        zone = [] if tz is None else ["--tz", tz]
        if edit:
            checked("post", "edit", "1", "--at", at, *zone)
        else:
            checked("post", "create", "--text", "hello", "--channel", "hook", "--at", at, *zone)

    ok(checked("post", "create", "--text", "first", "--channel", "hook", "--at", "2090-01-01T10:00+00:00"))
    check()
    assert (
        "year" in checked("post", "create", "--text", "x", "--channel", "hook", "--at", "9999-12-31T23:59-12:00").stderr
    )


# -- ids, counts, years and dates -------------------------------------------------------------------------------

NUMBER = st.one_of(st.integers(-(2**70), 2**70).map(str), st.sampled_from(["0", "-1", "1e3", "0x10", " 7"]), ARG)


def test_ids_and_counts(checked: Callable[..., subprocess.CompletedProcess[str]]) -> None:
    @fuzz(60)
    @given(
        command=st.sampled_from(
            [
                ["post", "show"],
                ["post", "cancel"],
                ["post", "review"],
                ["post", "edit", "{}", "--text", "x"],
                ["post", "list", "--limit"],
                ["events", "--after"],
                ["events", "--post"],
                ["campaign", "show"],
                ["campaign", "remove"],
                ["queue", "blackout", "remove"],
            ]
        ),
        number=NUMBER,
    )
    def check(command: list[str], number: str) -> None:
        args = [number if part == "{}" else part for part in command]
        if "{}" not in command:
            args.append(number)
        result = checked(*args)
        if result.returncode == 2 and number.lstrip("-").isdigit() and abs(int(number)) >= 2**63:
            assert _usage_error(result), result.stderr  # out of the database's range: a usage error

    check()
    assert _usage_error(checked("post", "show", "99999999999999999999"))


def test_years_and_dates(checked: Callable[..., subprocess.CompletedProcess[str]]) -> None:
    dates = st.one_of(
        st.builds(
            lambda y, m, d: f"{y:04d}-{m:02d}-{d:02d}", st.integers(0, 9999), st.integers(0, 13), st.integers(0, 32)
        ),
        ARG,
    )

    @fuzz(50)
    @given(year=NUMBER, start=st.none() | dates, end=st.none() | dates, export=st.booleans())
    def check(year: str, start: str | None, end: str | None, export: bool) -> None:
        if export:
            checked("calendar", "export", "--year", year, "--output", "out.ics")
            return
        span = (["--from", start] if start is not None else []) + (["--to", end] if end is not None else [])
        checked("calendar", "list", *(span or ["--year", year]), "--json")

    check()
    assert _usage_error(checked("calendar", "list", "--year", "0"))
    ok(checked("calendar", "list", "--year", "2999"))
    ok(checked("calendar", "export", "--year", "2999", "--output", "2999.ics"))


# -- files: .ics, policies, credentials -------------------------------------------------------------------------

_DATE = st.one_of(
    st.builds(
        lambda y, m, d: f";VALUE=DATE:{y:04d}{m:02d}{d:02d}",
        st.integers(0, 9999),
        st.integers(0, 13),
        st.integers(0, 32),
    ),
    st.builds(lambda y: f":{y:04d}0101T000000Z", st.integers(0, 9999)),
    st.text(st.characters(blacklist_characters="\r\n\x00"), max_size=12).map(lambda text: ":" + text),
)
_DURATION = st.one_of(
    st.builds(lambda n, unit: f"P{n}{unit}", st.integers(-5, 10**9), st.sampled_from(["D", "W", "DT1H", ""])),
    st.sampled_from(["-P1D", "PT5H", "P", "PXYZ", "P1Y"]),
)
_RRULE = st.lists(
    st.sampled_from(
        [
            "FREQ=YEARLY",
            "FREQ=DAILY",
            "BYMONTH=3",
            "BYMONTH=13",
            "BYMONTHDAY=31",
            "BYDAY=2MO",
            "BYDAY=XX",
            "UNTIL=20300101",
            "UNTIL=abc",
            "UNTIL=00000101",
            "UNTIL=99991231",
            "COUNT=3",
            "INTERVAL=0",
            "BYYEARDAY=400",
        ]
    ),
    max_size=4,
).map(";".join)


@st.composite
def ics_file(draw: st.DrawFn) -> bytes:
    if draw(st.integers(0, 9)) == 0:
        return draw(st.binary(max_size=200))
    events = []
    for _ in range(draw(st.integers(1, 3))):
        lines = [f"SUMMARY:{draw(st.sampled_from(['Open Day', 'Science Week', '', 'Día']))}"]
        lines.append("DTSTART" + draw(_DATE))
        choice = draw(st.integers(0, 3))
        if choice == 1:
            lines.append("DTEND" + draw(_DATE))
        elif choice == 2:
            lines.append("DURATION:" + draw(_DURATION))
        if draw(st.booleans()):
            lines.append("RRULE:" + draw(_RRULE))
            for name in ("EXDATE", "RDATE"):
                if draw(st.booleans()):
                    lines.append(name + draw(_DATE))
        events.append("BEGIN:VEVENT\r\n" + "\r\n".join(lines) + "\r\nEND:VEVENT\r\n")
    return ("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//t//EN\r\n" + "".join(events) + "END:VCALENDAR\r\n").encode(
        "utf-8", "surrogateescape"
    )


def test_ics_files(checked: Callable[..., subprocess.CompletedProcess[str]], tmp_path: Path) -> None:
    path = tmp_path / "days.ics"

    @fuzz(60)
    @given(data=ics_file())
    def check(data: bytes) -> None:
        path.write_bytes(data)
        checked("calendar", "import", str(path))

    check()


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats() | st.text(max_size=12),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12,
)
_RULE_KEYS = ["name", "importance", "format", "roles", "users", "required", "deadline_hours", "rules", "typo"]
_RULE = st.dictionaries(st.sampled_from(_RULE_KEYS), _JSON | st.sampled_from(["*", ["editor"], 1, 24.0]), max_size=7)
_POLICY = st.fixed_dictionaries(
    {"rules": st.lists(_RULE, max_size=3)},
    optional={
        "importances": _JSON | st.just(["routine", "major"]),
        "formats": _JSON,
        "trivial_edit_chars": _JSON | st.integers(-5, 10**25),
        "deadline_warning_hours": _JSON | st.floats(),
        "allow_self_signoff": _JSON,
    },
)


def _deep(depth: int) -> str:
    return "[" * depth + "]" * depth


def _toml_value(value: Any) -> str:
    """TOML for the scalars and arrays JSON also has (None, which TOML lacks, becomes a string)."""
    if value is None:
        return '"null"'
    if isinstance(value, bool | int | str):
        return json.dumps(value)
    if isinstance(value, float):
        return {"inf": "inf", "-inf": "-inf", "nan": "nan"}.get(str(value), repr(value))
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(item) for item in value) + "]"
    return "{" + ", ".join(f"{json.dumps(key)} = {_toml_value(item)}" for key, item in value.items()) + "}"


def _as_toml(document: dict[str, Any]) -> str:
    lines = [f"{json.dumps(key)} = {_toml_value(value)}" for key, value in document.items() if key != "rules"]
    for rule in document.get("rules", []):
        lines.append("[[rule]]")
        lines += [f"{json.dumps(key)} = {_toml_value(value)}" for key, value in rule.items()]
    return "\n".join(lines) + "\n"


POLICY_TEXT = st.one_of(
    _POLICY.map(lambda document: json.dumps(document, allow_nan=True)),
    _POLICY.map(_as_toml),
    st.integers(50, 3000).map(lambda depth: '{"rules": ' + _deep(depth) + "}"),
    st.integers(50, 3000).map(lambda depth: "importances = " + _deep(depth) + "\n"),
    st.just('{"rules": [{"name": "\\ud800", "importance": "*", "format": "*", "roles": ["editor"], "required": 1}]}'),
    st.text(max_size=60),
)


def test_policy_files(checked: Callable[..., subprocess.CompletedProcess[str]], tmp_path: Path) -> None:
    path = tmp_path / "policy.toml"

    @fuzz(80)
    @given(text=POLICY_TEXT, store=st.booleans())
    def check(text: str, store: bool) -> None:
        path.write_bytes(text.encode("utf-8", "surrogatepass"))
        checked(*(["policy", "set", "--org", "cms"] if store else ["policy", "check"]), str(path))
        checked("policy", "show", "--org", "cms")  # whatever was stored can be shown

    check()


CREDENTIALS = st.one_of(
    st.dictionaries(st.text(max_size=10), _JSON, max_size=5).map(json.dumps),
    _JSON.map(json.dumps),
    st.integers(50, 3000).map(lambda depth: '{"token": ' + _deep(depth) + "}"),
    st.just('{"access_token": "\\udc80"}'),
    st.text(max_size=40),
)


def test_credentials_files(checked: Callable[..., subprocess.CompletedProcess[str]], tmp_path: Path) -> None:
    path = tmp_path / "tokens.json"
    names = iter(range(10**6))

    @fuzz(40)
    @given(text=CREDENTIALS)
    def check(text: str) -> None:
        path.write_bytes(text.encode("utf-8", "surrogatepass"))
        name = f"x{next(names)}"
        checked("channel", "add", "--platform", "x", "--name", name, "--dry-run", "--credentials", str(path))

    check()
    assert "is a directory" in checked("channel", "add", "--platform", "x", "--name", "d", "--credentials", ".").stderr


# -- campaign templates -----------------------------------------------------------------------------------------

TEMPLATE = st.one_of(
    st.text(st.sampled_from("{}!:>.[]0 rsdxyamen"), max_size=24),
    st.sampled_from(["{", "}", "{name!x}", "{year:d}", "{name:>300000000}", "{name.__class__}", "{0}", "{}"]),
    st.lists(
        st.sampled_from(["{year}", "{yy}", "{ordinal}", "{edition}", "{name}", "{hashtags}", " ", "{{", "}}"]),
        max_size=6,
    ).map("".join),
)


def test_campaign_templates(checked: Callable[..., subprocess.CompletedProcess[str]]) -> None:
    ok(checked("channel", "add", "--platform", "webhook", "--name", "hook", "--option", "url=https://example.org/h"))

    @fuzz(50)
    @given(template=TEMPLATE)
    def check(template: str) -> None:
        checked("campaign", "add", "--observance", "lgbtq-stem-day", "--channel", "hook", "--text", template)

    check()
    for bad in ("{", "{name!x}", "{year:d}", "{name:>300000000}"):
        refusal = checked("campaign", "add", "--observance", "lgbtq-stem-day", "--channel", "hook", "--text", bad)
        assert refusal.returncode == 2, refusal.stderr


# -- whole command lines ----------------------------------------------------------------------------------------

_WORDS = [
    "post", "create", "list", "show", "edit", "channel", "add", "calendar", "campaign", "policy", "queue",
    "events", "--text", "--at", "--tz", "--channel", "--json", "--limit", "--year", "--bogus", "--help", "-c",
    "--version", "1", "0", "-1", "hook", "",
]  # fmt: skip


def test_command_lines(checked: Callable[..., subprocess.CompletedProcess[str]]) -> None:
    @fuzz(80)
    @given(args=st.lists(st.one_of(st.sampled_from(_WORDS), ARG), max_size=6))
    def check(args: list[str]) -> None:
        if "up" in args or "worker" in args or "dispatcher" in args or "demo" in args or "--follow" in args:
            return  # long-running commands
        result = checked(*args)
        if result.returncode == 2 and ("--bogus" in args or not args):
            assert len(result.stderr.splitlines()) == 1, result.stderr

    check()
