"""How long a `crosspost` command takes from a cold process, against bare Python in the same run.

    python benchmarks/cli.py [--runs N]

Each command is run N times as a fresh process (what a person at a terminal waits for); the table
gives the median and the extra over `python -c pass`. The target (issue 12): `--help` and
`text check` within 0.3 s of bare Python start-up. `post list` reads a small database made first.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

COMMANDS: list[tuple[str, list[str]]] = [
    ("python -c pass", [sys.executable, "-c", "pass"]),
    ("crosspost --help", [sys.executable, "-m", "scheduler.cli", "--help"]),
    (
        "crosspost text check (LinkedIn)",
        [sys.executable, "-m", "scheduler.cli", "text", "check", "--platform", "linkedin", "Hello"],
    ),
    ("crosspost text check (X)", [sys.executable, "-m", "scheduler.cli", "text", "check", "--platform", "x", "Hello"]),
    ("crosspost post list", [sys.executable, "-m", "scheduler.cli", "post", "list"]),
]


def _time(command: list[str], env: dict[str, str], runs: int) -> float:
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(command, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=7)
    runs = parser.parse_args().runs
    with tempfile.TemporaryDirectory() as folder:
        env = {k: v for k, v in os.environ.items() if not k.startswith("CROSSPOST_")}
        env["CROSSPOST_DATA_DIR"] = str(Path(folder) / "data")
        setup = [sys.executable, "-m", "scheduler.cli"]
        subprocess.run(
            [*setup, "channel", "add", "--platform", "x", "--name", "b-x", "--dry-run"],
            env=env,
            check=True,
            capture_output=True,
        )
        for n in range(20):
            at = f"2030-01-{n + 1:02d}T10:00Z"
            subprocess.run(
                [*setup, "post", "create", "--text", f"post {n}", "-c", "b-x", "--at", at],
                env=env,
                check=True,
                capture_output=True,
            )
        timed = [(name, _time(command, env, runs)) for name, command in COMMANDS]
    bare = timed[0][1]
    print(f"| command | median of {runs} (s) | over bare Python (s) |")
    print("|---|---|---|")
    for name, seconds in timed:
        print(f"| {name} | {seconds:.3f} | {seconds - bare:+.3f} |")


if __name__ == "__main__":
    main()
