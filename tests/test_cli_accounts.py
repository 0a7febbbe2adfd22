"""Accounts through the `crosspost` command: tokens made, listed and revoked; passwords, invitation
links and sign-out everywhere, as the operator at the server."""

from __future__ import annotations

import io
import json
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest

from scheduler.accounts.sessions import sign_in
from scheduler.accounts.tokens import Unauthenticated, authenticate
from scheduler.editorial import people
from scheduler.runtime import build_runtime
from scheduler.store import open_database
from tests.helpers import Run, ok, refused

PASSWORD = "correct horse battery staple"


@pytest.fixture
def run(cli: Run, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, sqlite_template: Path) -> Run:
    (tmp_path / "data").mkdir()
    shutil.copyfile(sqlite_template, tmp_path / "data" / "crosspost.db")  # migrated once for the session
    # Argon2 at its lowest cost: hashing is tested in tests/accounts, not here
    monkeypatch.setenv("CROSSPOST_PASSWORD_HASH_MEMORY_KIB", "8")
    monkeypatch.setenv("CROSSPOST_PASSWORD_HASH_TIME_COST", "1")
    db = open_database(f"sqlite:///{tmp_path / 'data' / 'crosspost.db'}", migrate=False)
    now = datetime.now(UTC)
    people.add_org(db, name="cms", now=now)
    people.add_org(db, name="lhcb", kind="partner", now=now)
    for name, org, role in (("ana", "cms", "editor"), ("boss", "cms", "admin"), ("pat", "lhcb", "admin")):
        people.add_user(db, name=name, now=now)
        people.set_role(db, user=name, org=org, role=role, now=now)
    db.dispose()
    return cli


def _stdin(monkeypatch: pytest.MonkeyPatch, text: str) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(text))


def test_a_token_is_printed_once_listed_without_its_secret_and_revoked(run: Run) -> None:
    made = run("token", "create", "--user", "ana", "--org", "cms", "--role", "contributor", "--name", "ci")
    assert made.returncode == 0, made.stderr
    token = made.stdout.strip()
    assert token.startswith("cp_")
    assert "for ana in cms as contributor" in made.stderr
    assert "it is not shown again" in made.stderr
    runtime = build_runtime()
    found = authenticate(runtime.db, token, now=datetime.now(UTC))
    assert (found.user, found.org, found.role) == ("ana", "cms", "contributor")
    listed = json.loads(ok(run("token", "list", "--user", "ana", "--json")))
    assert [(row["name"], row["role"]) for row in listed] == [("ci", "contributor")]
    assert token not in ok(run("token", "list"))
    assert listed[0]["prefix"] in ok(run("token", "list", "--org", "cms"))
    assert listed[0]["expires_at"] is not None
    assert "revoked" in ok(run("token", "revoke", str(found.token_id), "--as", "ana"))
    with pytest.raises(Unauthenticated, match="was revoked"):
        authenticate(runtime.db, token, now=datetime.now(UTC))
    runtime.db.dispose()


def test_token_refusals_name_the_problem(run: Run) -> None:
    base = ["token", "create", "--user", "ana", "--org", "cms", "--name", "t"]
    assert "ana is editor in cms; a token cannot be admin" in refused(run(*base, "--role", "admin"))
    assert "not both" in refused(run(*base, "--role", "editor", "--expires-days", "3", "--no-expiry"))
    # a partner's admin cannot make a token for a host's member
    assert "rule 'roles'" in refused(run(*base, "--role", "editor", "--as", "pat"))
    forever = run(*base, "--role", "editor", "--no-expiry", "--as", "boss")
    assert "expires never" in forever.stderr
    assert json.loads(ok(run("token", "list", "--json")))[0]["expires_at"] is None
    assert "no token 99" in refused(run("token", "revoke", "99"), code=1)
    assert "rule 'roles'" in refused(run("token", "revoke", "1", "--as", "pat"))


def test_a_password_from_stdin_never_from_the_command_line(run: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    _stdin(monkeypatch, "short\n")
    assert "at least 12" in refused(run("user", "password", "ana", "--stdin"))
    _stdin(monkeypatch, "")
    assert "nothing on standard input" in refused(run("user", "password", "ana", "--stdin"))
    _stdin(monkeypatch, PASSWORD + "\n")
    assert "password of ana set" in ok(run("user", "password", "ana", "--stdin"))
    runtime = build_runtime()
    assert sign_in(runtime.db, runtime.settings, "ana", PASSWORD, None, now=datetime.now(UTC)).token
    assert "web session ended" in ok(run("user", "sign-out-everywhere", "ana"))
    # there is no option that takes the password itself
    assert refused(run("user", "password", "ana", PASSWORD)).startswith("error: Got unexpected extra argument")
    _stdin(monkeypatch, PASSWORD + "\n")  # not a terminal: no prompt to type into
    assert "--stdin" in refused(run("user", "password", "ana"))
    runtime.db.dispose()


def test_an_invitation_link_is_printed_and_sets_the_password_once(run: Run) -> None:
    from scheduler.accounts.invitations import accept_invitation

    printed = run("user", "invite", "ana", "--valid-days", "2")
    assert printed.returncode == 0, printed.stderr
    url = printed.stdout.strip()
    assert url.startswith("http://127.0.0.1:8000/invite/")
    assert "valid once" in printed.stderr
    runtime = build_runtime()
    now = datetime.now(UTC)
    assert accept_invitation(runtime.db, runtime.settings, url.rsplit("/", 1)[1], PASSWORD, now=now) == "ana"
    assert sign_in(runtime.db, runtime.settings, "ana", PASSWORD, None, now=now).token
    assert "no user named 'ghost'" in refused(run("user", "invite", "ghost"), code=1)
    assert "was not set" in ok(run("user", "totp-off", "ana"))
    runtime.db.dispose()


def test_the_operator_disables_and_enables_an_account(cli: Run) -> None:
    ok(cli("org", "add", "lab"))
    ok(cli("user", "add", "leaver"))
    ok(cli("user", "role", "leaver", "--org", "lab", "--role", "editor"))
    assert "leaver: disabled" in ok(cli("user", "disable", "leaver"))
    assert "leaver was already disabled" in ok(cli("user", "disable", "leaver"))
    assert "leaver: enabled" in ok(cli("user", "enable", "leaver"))
    assert "no user named 'nobody'" in refused(cli("user", "disable", "nobody"), code=1)
