"""Issue 11, finding 5: one command must never block the others on SQLite.

Every transaction used to take SQLite's write lock up front (BEGIN IMMEDIATE), reads included, and
`post edit` counted the text and compared it with the old one inside its write transaction: X's
counting pattern is near-cubic on some texts ("a." * 800 took 46 s) and the trivial-edit
comparison quadratic (24,000 characters: 50 s). Meanwhile `post list` waited 44 s and a due post
stayed queued. These run the real command, in separate processes, against one SQLite file.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from tests.helpers import Run, ok, refused


def _process(*args: str) -> subprocess.Popen[str]:
    """`crosspost ARGS` as a separate process, with the environment the `cli` fixture set up."""
    return subprocess.Popen(
        [sys.executable, "-m", "scheduler.cli", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=dict(os.environ),
    )


def _finish(process: subprocess.Popen[str], timeout: float) -> subprocess.CompletedProcess[str]:
    try:
        out, err = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate()
        raise
    return subprocess.CompletedProcess(process.args, process.returncode, out, err)


def _database(tmp_path: Path) -> Path:
    return tmp_path / "data" / "crosspost.db"


def test_reads_answer_while_another_process_holds_the_write_lock(cli: Run, tmp_path: Path) -> None:
    ok(cli("channel", "add", "--platform", "webhook", "--name", "hook", "--option", "url=https://example.org/h"))
    ok(cli("post", "create", "--text", "hello", "--channel", "hook", "--now"))
    writer = sqlite3.connect(_database(tmp_path), isolation_level=None, timeout=1)
    writer.execute("BEGIN IMMEDIATE")  # a writer in the middle of a long transaction
    try:
        started = time.monotonic()
        listed = _finish(_process("post", "list", "--json"), timeout=20)  # a863fdf: waits 30 s, then fails
        assert listed.returncode == 0, listed.stderr
        assert '"hello"' in listed.stdout
        shown = _finish(_process("post", "show", "1"), timeout=20)
        assert shown.returncode == 0, shown.stderr
        assert time.monotonic() - started < 20
    finally:
        writer.execute("ROLLBACK")
        writer.close()


def test_a_list_answers_during_a_refused_100000_character_edit(cli: Run, tmp_path: Path) -> None:
    ok(cli("channel", "add", "--platform", "x", "--name", "cms-x", "--dry-run"))
    ok(cli("post", "create", "--text", "hello", "--channel", "cms-x", "--at", "2030-01-01T10:00+00:00"))
    edit = _process("post", "edit", "1", "--text", "a." * 50_000)
    listed = _finish(_process("post", "list", "--json"), timeout=30)
    assert listed.returncode == 0, listed.stderr
    refusal = refused(_finish(edit, timeout=60))  # a863fdf: counted "a.a.a..." for hours, holding the lock
    assert "100,000 characters, far over the limit of 280" in refusal
    assert "not counted" in refusal
    shown = ok(cli("post", "show", "1"))
    assert "version 1" in shown  # nothing stored


def test_x_counting_stays_fast_on_long_dotted_words(cli: Run) -> None:
    ok(cli("channel", "add", "--platform", "x", "--name", "cms-x", "--dry-run"))
    ok(cli("post", "create", "--text", "hello", "--channel", "cms-x", "--at", "2030-01-01T10:00+00:00"))
    # 6,000 characters, one word: twitter-text's pattern needs minutes (a863fdf: in the write transaction)
    edit = _finish(_process("post", "edit", "1", "--text", "a." * 3000), timeout=30)
    assert "a word of 6000 characters does not fit in one post" in refused(edit)
    # dotted names that could be web addresses: the work is bounded, the text refused with the reason
    dotted = "a." * 200 + "a_.com"
    assert "too many dots between spaces" in refused(cli("post", "edit", "1", "--text", dotted))
    fine = "Results at https://cms.cern/news/a.b.c and home.cern. " * 3
    ok(cli("post", "edit", "1", "--text", fine))


def test_a_small_edit_of_a_long_text_keeps_its_sign_off_quickly(cli: Run, tmp_path: Path) -> None:
    for line in (
        ("org", "add", "cms"),
        ("user", "add", "ana"),
        ("user", "add", "eve"),
        ("user", "role", "ana", "--org", "cms", "--role", "contributor"),
        ("user", "role", "eve", "--org", "cms", "--role", "editor"),
        (
            "channel",
            "add",
            "--platform",
            "webhook",
            "--name",
            "hook",
            "--org",
            "cms",
            "--option",
            "url=https://e.org/h",
        ),
    ):
        ok(cli(*line))
    policy = tmp_path / "policy.toml"
    policy.write_text(
        'trivial_edit_chars = 3\n[[rule]]\nname = "an editor"\nimportance = "*"\nformat = "*"\n'
        'roles = ["editor"]\nrequired = 1\n'
    )
    ok(cli("policy", "set", "--org", "cms", str(policy)))
    text = "The collaboration presents new results on the Higgs boson. " * 1200  # 72,000 characters
    ok(cli("post", "create", "--as", "ana", "--text", text, "--channel", "hook", "--at", "2030-01-01T10:00+00:00"))
    ok(cli("post", "approve", "1", "--as", "eve"))
    # difflib's matcher took 50 s on a third of this (a863fdf; quadratic), inside the write transaction
    edit = _finish(_process("post", "edit", "1", "--as", "ana", "--text", text.replace("Higgs", "Higgs!", 1)), 30)
    assert edit.returncode == 0, edit.stderr
    assert "(approved)" in edit.stdout  # a trivial edit keeps the sign-off
