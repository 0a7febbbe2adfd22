"""Secrets stay secret, through the real `crosspost` command (issue 11, finding 6): the secret key
itself, and the modes of the files that hold secrets."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from tests.helpers import Run, ok, refused


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
