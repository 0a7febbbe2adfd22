"""Secrets stay secret, through the real `crosspost` command (issue 11, finding 6): settings,
webhook URLs (stored encrypted, shown as their host only, never quoted in errors, logs or the
append-only event log), the secret key itself, and the modes of the files that hold them."""

from __future__ import annotations

import contextlib
import json
import logging
import sqlite3
import stat
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from scheduler.runtime import build_runtime
from tests.helpers import Run, ok, publish_due, refused

HOOK_PATH = "/services/T0CMS/B0HOOK/s3cr3tPathPart0123"
HOOK_TOKEN = "tok456Query789"
HOOK_PASSWORD = "hookPassw0rd"
SECRETS = (HOOK_PATH.rsplit("/", 1)[1], HOOK_TOKEN, HOOK_PASSWORD)


class _Refusing(BaseHTTPRequestHandler):
    """A webhook receiver that refuses, quoting the request line back (many do)."""

    protocol_version = "HTTP/1.1"

    def log_message(self, *_: object) -> None:
        pass

    def do_POST(self) -> None:
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            body = f"no hook at {self.path} (Authorization: {self.headers.get('Authorization')})".encode()
            self.send_response(400)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)


@pytest.fixture
def receiver() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Refusing)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    yield f"127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def _hook_url(where: str) -> str:
    return f"http://hooks:{HOOK_PASSWORD}@{where}{HOOK_PATH}?token={HOOK_TOKEN}"


def _assert_hidden(text: str) -> None:
    for secret in SECRETS:
        at = text.find(secret)
        assert at < 0, f"{secret!r} in ...{text[max(0, at - 80) : at + 80]!r}..."


def _stored_bytes(data: Path) -> str:
    """Everything SQLite holds on disk, the write-ahead log included."""
    return b"".join(path.read_bytes() for path in data.glob("crosspost.db*")).decode("latin-1")


def test_config_masks_every_password_and_token(cli: Run) -> None:
    env = {
        "CROSSPOST_DATABASE_URL": "postgresql://db.internal/crosspost?user=cp&password=dbPassw0rd",
        "CROSSPOST_BROKER_URL": "redis://:brokerPassw0rd@redis.internal:6379/0",
        "CROSSPOST_X_API_URL": "https://ann:xPassw0rd@proxy.example.org/x",
        "CROSSPOST_PUBLIC_BASE_URL": "https://cdn.example.org/media?access_token=cdnTok3n0123",
    }
    for shown in (ok(cli("config", **env)), ok(cli("config", "--json", **env))):
        for secret in ("dbPassw0rd", "brokerPassw0rd", "xPassw0rd", "cdnTok3n0123"):
            assert secret not in shown
        assert "redis.internal:6379/0" in shown  # where things are is still shown
        assert "https://ann:********@proxy.example.org/x" in shown
    values = json.loads(ok(cli("config", "--json", **env)))
    assert values["database_url"] == "postgresql://db.internal/crosspost?user=cp&password=********"
    assert values["secret_key"] == "********"


def test_a_webhook_url_is_stored_encrypted_and_never_shown_or_logged(
    cli: Run, receiver: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    data = tmp_path / "data"
    ok(cli("channel", "add", "--platform", "webhook", "--name", "hook", "--option", f"url={_hook_url(receiver)}"))
    # a receiver that is not there: the HTTP library quotes the path in its error
    ok(cli("channel", "add", "--platform", "webhook", "--name", "gone", "--option", f"url={_hook_url('127.0.0.1:9')}"))
    listed = ok(cli("channel", "list", "--json"))
    _assert_hidden(listed)
    shown = {channel["name"]: channel["options"]["url"] for channel in json.loads(listed)}
    assert shown == {"hook": f"http://{receiver}/********", "gone": "http://127.0.0.1:9/********"}
    with sqlite3.connect(data / "crosspost.db") as db:
        [(options, sealed)] = db.execute("SELECT options, secret_options FROM channels WHERE name = 'hook'").fetchall()
    assert json.loads(options) == {}
    assert sealed is not None
    _assert_hidden(_stored_bytes(data))

    post = json.loads(
        ok(cli("post", "create", "--text", "hi", "--channel", "hook", "--channel", "gone", "--now", "--json"))
    )
    caplog.set_level(logging.DEBUG)
    runtime = build_runtime()
    try:
        publish_due(runtime)
    finally:
        runtime.db.dispose()

    view = json.loads(ok(cli("post", "show", str(post["id"]), "--json")))
    errors = {p["channel"]: p["last_error"] for p in view["publications"]}
    assert errors["hook"].startswith("webhook answered 400: no hook at ********")
    assert "Bearer" not in errors["hook"] or "********" in errors["hook"]
    assert errors["gone"]  # the connection was refused: the error says so, without the URL
    for error in errors.values():
        _assert_hidden(error)
    _assert_hidden(ok(cli("post", "show", str(post["id"]))))
    _assert_hidden(ok(cli("events", "--json")))
    _assert_hidden(caplog.text)
    _assert_hidden(_stored_bytes(data))  # nothing in the database, the append-only event log included


def test_an_empty_or_short_secret_key_is_refused_with_how_to_make_one(
    cli: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for key in ("", "   ", "short-key"):
        line = refused(cli("channel", "list", CROSSPOST_SECRET_KEY=key), code=1)
        assert "CROSSPOST_SECRET_KEY is" in line
        assert "secrets.token_urlsafe(32)" in line
    assert not (tmp_path / "data" / "crosspost.db").exists()  # refused before anything was stored

    monkeypatch.delenv("CROSSPOST_SECRET_KEY")
    key_file = tmp_path / "data" / "secret.key"
    key_file.parent.mkdir()
    key_file.write_text("\n")
    line = refused(cli("channel", "list"), code=1)
    assert f"the secret key in {key_file} is empty" in line
    assert "secrets.token_urlsafe(32)" in line

    key_file.unlink()  # a new one is generated when first needed, private
    tokens = tmp_path / "tokens.json"
    tokens.write_text('{"token": "receiver-token-0123456789"}')
    ok(
        cli(
            "channel",
            "add",
            "--platform",
            "webhook",
            "--name",
            "hook",
            "--option",
            "url=https://example.org/h",
            "--credentials",
            str(tokens),
        )
    )
    assert len(key_file.read_text().strip()) >= 32
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600


def test_the_data_directory_and_the_database_are_private(cli: Run, tmp_path: Path) -> None:
    data = tmp_path / "data"
    ok(cli("channel", "add", "--platform", "x", "--name", "cms-x", "--dry-run"))
    assert stat.S_IMODE(data.stat().st_mode) == 0o700
    for path in data.glob("crosspost.db*"):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    # an installation made before: opened up again, and made private on the next command
    data.chmod(0o755)
    (data / "crosspost.db").chmod(0o644)
    ok(cli("channel", "list"))
    assert stat.S_IMODE(data.stat().st_mode) == 0o700
    assert stat.S_IMODE((data / "crosspost.db").stat().st_mode) == 0o600


def test_webhook_urls_stored_in_plain_text_before_are_encrypted_on_upgrade(cli: Run, tmp_path: Path) -> None:
    from alembic import command

    from scheduler.store import Database

    data = tmp_path / "data"
    data.mkdir(mode=0o700)
    old = Database(f"sqlite:///{data / 'crosspost.db'}")
    command.upgrade(old.alembic_config(), "0006")  # the schema before webhook URLs were sealed
    with old.engine.begin() as connection:
        connection.exec_driver_sql(
            "INSERT INTO channels (name, platform, timezone, dry_run, status, options, created_at) "
            "VALUES ('hook', 'webhook', 'UTC', 0, 'active', ?, '2027-01-01 00:00:00')",
            (json.dumps({"url": _hook_url("127.0.0.1:9"), "lookup_url": "https://example.org/lookup/s3cr3tLookup1"}),),
        )
    old.dispose()

    listed = json.loads(ok(cli("channel", "list", "--json")))  # upgrades, then seals
    assert listed[0]["options"] == {"url": "http://127.0.0.1:9/********", "lookup_url": "https://example.org/********"}
    with sqlite3.connect(data / "crosspost.db") as db:
        [(options,)] = db.execute("SELECT options FROM channels").fetchall()
    assert json.loads(options) == {}
    _assert_hidden(_stored_bytes(data))
    runtime = build_runtime()
    try:
        from scheduler.publishing.publications import channel_options

        with runtime.db.transaction() as session:
            from scheduler.store import Channel

            channel = session.query(Channel).one()
            assert channel_options(channel.options, channel.secret_options, runtime.settings, "hook") == {
                "url": _hook_url("127.0.0.1:9"),
                "lookup_url": "https://example.org/lookup/s3cr3tLookup1",
            }
    finally:
        runtime.db.dispose()


def test_log_records_are_redacted_messages_and_tracebacks(cli: Run, caplog: pytest.LogCaptureFixture) -> None:
    ok(cli("channel", "list"))  # every process start installs the redaction of log records
    log = logging.getLogger("crosspost.test")
    with caplog.at_level(logging.INFO):
        log.warning("posting to %s failed", _hook_url("hooks.example.org"))
        try:
            raise RuntimeError(f"refused: Authorization: Bearer abc123def456, url {_hook_url('h.example.org')}")
        except RuntimeError:
            log.exception("publication 1: unexpected error")
    assert "http://hooks:********@hooks.example.org" in caplog.text
    assert "Bearer ********" in caplog.text
    for secret in ("abc123def456", HOOK_PASSWORD, HOOK_TOKEN):  # the path of a URL never decrypted is not known
        assert secret not in caplog.text
