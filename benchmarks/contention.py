"""Contention benchmark: does one slow command block the others on SQLite? (issue 11, finding 5)

    python benchmarks/contention.py [--source DIR] [--max-seconds 90]

For each scenario a real `crosspost post edit` runs as its own process on a fresh SQLite install
while this process measures, from outside and with the standard library only:

* `post list`: the real command (`scheduler.cli.main`), run again and again in a process of its
  own started before the edit, so that Python's start-up and first imports are behind it; the
  slowest answer among those asked while the edit runs, against the median before it started;
* the write lock, taken and released every 50 ms as the dispatcher's claim takes it: the longest
  wait is how long a due post could stay unclaimed.

Scenarios: an edit to a 100,000-character text on X (refused), the "a." * 800 text of the issue on
X (refused; it took 46 s), and a one-character edit of a 24,000-character text that a policy counts
as trivial (accepted; it took 50 s). ``--source`` runs another checkout's code (say an export of
a863fdf) for comparison; an edit still running after ``--max-seconds`` is stopped.
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
KEY = "contention-benchmark-secret-key-0123456789"
TEXT_24K = "The collaboration presents new results on the Higgs boson. " * 400
POLICY = (
    'trivial_edit_chars = 3\n[[rule]]\nname = "an editor"\nimportance = "*"\nformat = "*"\n'
    'roles = ["editor"]\nrequired = 1\n'
)


@dataclass
class Result:
    scenario: str
    text: str
    outcome: str
    edit_s: float
    lists_during: int
    slowest_list_s: float
    failed_lists: int
    idle_list_s: float
    max_lock_wait_s: float


class Install:
    """A data directory and the `crosspost` command of one source tree."""

    def __init__(self, source: Path, data_dir: Path) -> None:
        self.env = {
            **os.environ,
            "PYTHONPATH": str(source),
            "CROSSPOST_DATA_DIR": str(data_dir),
            "CROSSPOST_SECRET_KEY": KEY,
        }
        for name in ("CROSSPOST_BROKER_URL", "CROSSPOST_DATABASE_URL", "CROSSPOST_USER", "CROSSPOST_MEDIA_LISTEN"):
            self.env.pop(name, None)
        self.database = data_dir / "crosspost.db"
        self.cwd = data_dir.parent

    def start(self, *args: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [sys.executable, "-m", "scheduler.cli", *args],
            env=self.env,
            cwd=self.cwd,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def run(self, *args: str) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "scheduler.cli", *args],
            env=self.env,
            cwd=self.cwd,
            capture_output=True,
            text=True,
            timeout=120,
        )
        if done.returncode != 0:
            raise SystemExit(f"setup failed: crosspost {' '.join(args)[:80]}: {done.stderr.strip()[-300:]}")
        return done.stdout

    def lister(self) -> subprocess.Popen[str]:
        """A process that runs `crosspost post list` again and again and prints, for each, when it
        started (the system's monotonic clock), how long it took and whether it answered."""
        lister = subprocess.Popen(
            [sys.executable, "-c", _LISTER],
            env=self.env,
            cwd=self.cwd,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        assert lister.stdout is not None
        assert lister.stdout.readline().strip() == "ready"
        return lister


_LISTER = """
import contextlib, io, sys, time
from scheduler.cli import main

def listed():
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        try:
            main(["post", "list"])
        except SystemExit as exited:
            return exited.code in (0, None)
        except Exception:  # a863fdf: "database is locked" after 30 s, as a traceback
            return False
    return True

listed()  # imports, caches
print("ready", flush=True)
while True:
    started = time.monotonic()
    answered = listed()
    print(started, time.monotonic() - started, int(answered), flush=True)
    time.sleep(0.05)
"""


def probe_lock(database: Path, stop: threading.Event, waits: list[float]) -> None:
    """Take and release the write lock every 50 ms, as a dispatcher's claim does; record each wait."""
    connection = sqlite3.connect(database, isolation_level=None, timeout=300)
    try:
        while not stop.is_set():
            started = time.monotonic()
            try:
                connection.execute("BEGIN IMMEDIATE")
                waits.append(time.monotonic() - started)
                connection.execute("ROLLBACK")
            except sqlite3.OperationalError:
                waits.append(time.monotonic() - started)
            stop.wait(0.05)
    finally:
        connection.close()


def scenario(name: str, label: str, install: Install, edit_args: list[str], max_seconds: float) -> Result:
    waits: list[float] = []
    stop = threading.Event()
    prober = threading.Thread(target=probe_lock, args=(install.database, stop, waits))
    lister = install.lister()
    time.sleep(1.0)  # a few answers with nothing else running
    prober.start()
    started = time.monotonic()
    edit = install.start(*edit_args)
    try:
        edit.communicate(timeout=max_seconds)
        ended = time.monotonic()
        outcome = "accepted" if edit.returncode == 0 else f"refused (exit {edit.returncode})"
    except subprocess.TimeoutExpired:
        edit.kill()
        edit.communicate()
        ended = time.monotonic()
        outcome = f"stopped after {max_seconds:.0f} s"
    stop.set()
    prober.join()
    time.sleep(0.2)
    lister.terminate()
    rows, _ = lister.communicate()
    calls = [(float(a), float(b), c == "1") for a, b, c in (line.split() for line in rows.splitlines() if line)]
    idle = sorted(took for at, took, _ in calls if at + took < started) or [0.0]
    during = [(took, answered) for at, took, answered in calls if at < ended and at + took > started]
    return Result(
        name,
        label,
        outcome,
        ended - started,
        len(during),
        max((took for took, _ in during), default=0.0),
        sum(1 for _, answered in during if not answered),
        idle[len(idle) // 2],
        max(waits, default=0.0),
    )


def prepare(source: Path, data_dir: Path) -> Install:
    install = Install(source, data_dir)
    for line in (
        ("channel", "add", "--platform", "x", "--name", "bench-x", "--dry-run"),
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
            "bench-hook",
            "--org",
            "cms",
            "--dry-run",
            "--option",
            "url=https://example.org/hook",
        ),
        ("post", "create", "--text", "hello", "--channel", "bench-x", "--at", "2030-01-01T10:00+00:00"),
    ):
        install.run(*line)
    policy = data_dir.parent / "policy.toml"
    policy.write_text(POLICY)
    install.run("policy", "set", "--org", "cms", str(policy))
    install.run(
        "post", "create", "--as", "ana", "--text", TEXT_24K, "--channel", "bench-hook", "--at", "2030-01-01T10:00+00:00"
    )
    install.run("post", "approve", "2", "--as", "eve")
    return install


def print_table(results: list[Result]) -> None:
    headers = [
        "scenario",
        "text",
        "edit",
        "edit time",
        "post list during the edit",
        "post list idle",
        "longest lock wait",
    ]
    rows = [
        [
            r.scenario,
            r.text,
            r.outcome,
            f"{r.edit_s:.2f} s",
            f"{r.lists_during} answers, slowest {r.slowest_list_s:.2f} s"
            + (f", {r.failed_lists} failed" if r.failed_lists else ""),
            f"{r.idle_list_s:.2f} s",
            f"{r.max_lock_wait_s:.3f} s",
        ]
        for r in results
    ]
    widths = [max(len(str(row[i])) for row in [headers, *rows]) for i in range(len(headers))]
    for line in [headers, ["-" * w for w in widths], *rows]:
        print("| " + " | ".join(str(cell).ljust(w) for cell, w in zip(line, widths, strict=True)) + " |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--source", type=Path, default=ROOT, help="the source tree whose crosspost runs")
    parser.add_argument("--max-seconds", type=float, default=90.0, help="stop an edit still running after this")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="crosspost-contention-") as folder:
        install = prepare(args.source.resolve(), Path(folder) / "data")
        scenarios = [
            ("X, 100,000 characters", '"a." * 50,000', ["post", "edit", "1", "--text", "a." * 50_000]),
            ("X, the issue's text", '"a." * 800', ["post", "edit", "1", "--text", "a." * 800]),
            (
                "trivial edit, 24,000 characters",
                "one letter added",
                ["post", "edit", "2", "--as", "ana", "--text", TEXT_24K.replace("Higgs", "Higgs!", 1)],
            ),
        ]
        results = [scenario(name, label, install, edit, args.max_seconds) for name, label, edit in scenarios]
    print(f"source: {args.source.resolve()}")
    print_table(results)


if __name__ == "__main__":
    main()
