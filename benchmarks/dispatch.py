"""Dispatch benchmark: publications due at the same moment, through the real pipeline, to a loopback sink.

    python benchmarks/dispatch.py [--n 10000] [--modes embedded,redis] [--redis-url URL]
    python benchmarks/dispatch.py --backlog 0 1000000 [--rounds 200]

With --backlog, it measures instead what a backlog of N future publications costs the dispatcher
when nothing is due: for each N, a fresh PostgreSQL database, the backlog bulk-loaded
(benchmarks/backlog.py), then each periodic query or sweep run --rounds times, reporting its
time per round and the CPU its PostgreSQL backends spent per round, and the database's CPU while
the real dispatcher loop runs idle at its own intervals.

For each mode it measures two phases and prints a table:
  burst   N publications all due at the same instant T0: throughput = N / (last receipt - T0);
  paced   publications due one after another at half the burst throughput for --paced-seconds:
          lateness = receipt at the sink - due time (p50, p99, max).
Duplicates and losses are counted from the sink's record of Idempotency-Key headers.
In the same run it measures bare Celery: a no-op task on the same Redis, one prefork worker of
concurrency 2, acks_late and prefetch 1 as crosspost's worker.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import redis
import requests
from sqlalchemy import create_engine, insert, select, text

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.backlog import load_backlog  # noqa: E402
from scheduler import posts  # noqa: E402
from scheduler.publishing.embedded import run_embedded  # noqa: E402
from scheduler.runtime import Runtime, build_runtime  # noqa: E402
from scheduler.settings import Settings  # noqa: E402
from scheduler.store import Channel, Post, Publication  # noqa: E402


@dataclass
class Phase:
    mode: str
    phase: str
    count: int
    seconds: float
    lateness: list[float]
    duplicates: int
    lost: int
    cpu_ms: float | None = None  # CPU per publication of crosspost's processes, Redis and PostgreSQL

    @property
    def throughput(self) -> float:
        return self.count / self.seconds if self.seconds > 0 else float("nan")

    def pct(self, q: float) -> float:
        ordered = sorted(self.lateness)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_sink() -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "tests.fakes.sink", str(port)], cwd=ROOT, stdout=subprocess.PIPE)
    assert process.stdout is not None
    url = process.stdout.readline().decode().strip()
    return process, url


def schedule(runtime: Runtime, channel: str, due_times: list[datetime]) -> dict[str, datetime]:
    """Insert posts and publications in bulk (setup, not measured); returns idempotency key -> due."""
    now = datetime.now(UTC)
    keys = {str(uuid.uuid4()): due for due in due_times}
    with runtime.db.transaction() as session:
        channel_id = session.scalar(select(Channel.id).where(Channel.name == channel))
        post_rows = [
            {"text": f"benchmark {i}", "version": 1, "content_hash": "0" * 64, "created_at": now, "updated_at": now}
            for i in range(len(keys))
        ]
        post_ids = list(session.scalars(insert(Post).returning(Post.id), post_rows))
        session.execute(
            insert(Publication),
            [
                {
                    "post_id": post_id,
                    "channel_id": channel_id,
                    "state": "scheduled",
                    "due_at": due,
                    "attempts": 0,
                    "idempotency_key": key,
                    "created_at": now,
                    "updated_at": now,
                }
                for post_id, (key, due) in zip(post_ids, keys.items(), strict=True)
            ],
        )
    return keys


def measure(
    mode: str, phase: str, sink_url: str, expected: dict[str, datetime], start: datetime, timeout: float
) -> Phase:
    deadline = time.monotonic() + timeout
    target = requests.get(f"{sink_url}/count", timeout=30).json()["count"] + len(expected)
    while time.monotonic() < deadline and requests.get(f"{sink_url}/count", timeout=30).json()["count"] < target:
        time.sleep(0.5)
    time.sleep(1.0)  # let a duplicate, if any, arrive before counting
    stats: dict[str, Any] = requests.get(f"{sink_url}/stats", timeout=60).json()
    mine = [key for key in stats["keys"] if key in expected]
    times = {key: stats["times"][key] for key in set(mine)}
    lateness = [times[key] - expected[key].timestamp() for key in times]
    last = max(times.values()) if times else start.timestamp()
    return Phase(
        mode=mode,
        phase=phase,
        count=len(times),
        seconds=last - start.timestamp(),
        lateness=lateness,
        duplicates=len(mine) - len(set(mine)),
        lost=len(expected) - len(times),
    )


def _tree_cpu(pids: list[int]) -> float:
    """CPU seconds used so far by these processes and their descendants (every thread), from /proc."""
    ticks = os.sysconf("SC_CLK_TCK")
    total, seen, todo = 0.0, set(), list(pids)
    while todo:
        pid = todo.pop()
        if pid in seen:
            continue
        seen.add(pid)
        with contextlib.suppress(OSError, ValueError, IndexError):  # a process that just ended
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / ticks  # utime, stime
            for task in Path(f"/proc/{pid}/task").iterdir():
                todo += [int(child) for child in (task / "children").read_text().split()]
    return total


def run_phases(
    mode: str,
    runtime: Runtime,
    sink_url: str,
    n: int,
    paced_seconds: float,
    lead: float,
    cpu: Any = None,
) -> list[Phase]:
    """``cpu``: a callable giving the CPU seconds used so far by what serves this mode (its share per
    publication is reported for the burst: on a shared machine it varies less than throughput)."""
    channel = "bench"
    posts.add_channel(
        runtime.db,
        runtime.settings,
        name=channel,
        platform="webhook",
        now=datetime.now(UTC),
        options={"url": f"{sink_url}/post", "lookup_url": f"{sink_url}/lookup"},
    )
    t0 = datetime.now(UTC) + timedelta(seconds=lead)
    due = schedule(runtime, channel, [t0] * n)
    cpu_before = cpu() if cpu else 0.0
    burst = measure(mode, "burst", sink_url, due, t0, timeout=600)
    if cpu:
        burst.cpu_ms = (cpu() - cpu_before) / max(1, burst.count) * 1000
    rate = max(1.0, burst.throughput / 2)
    count = max(100, int(rate * paced_seconds))
    t1 = datetime.now(UTC) + timedelta(seconds=lead)
    dues = [t1 + timedelta(seconds=i / rate) for i in range(count)]
    paced = measure(mode, f"paced {rate:.0f}/s", sink_url, schedule(runtime, channel, dues), t1, timeout=600)
    paced.seconds = (dues[-1] - t1).total_seconds() or 1.0
    return [burst, paced]


def embedded_mode(n: int, sink_url: str, paced_seconds: float, workdir: Path, threads: int) -> list[Phase]:
    settings = Settings(
        data_dir=workdir / "embedded",
        database_url="",
        broker_url=None,
        outbox_dir=None,
        media_dir=None,
        secret_key="bench-secret-of-at-least-32-characters",
        embedded_threads=threads,
    )
    runtime = build_runtime(settings)
    stop = threading.Event()
    loop = threading.Thread(target=run_embedded, args=(runtime, stop), daemon=True)
    loop.start()
    try:
        return run_phases("embedded (SQLite)", runtime, sink_url, n, paced_seconds, lead=5)
    finally:
        stop.set()
        loop.join()
        runtime.db.dispose()


def redis_mode(
    n: int, sink_url: str, paced_seconds: float, redis_url: str, pg_admin: str, workdir: Path, prefetch: int
) -> list[Phase]:
    name = f"crosspost_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(pg_admin, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    database_url = pg_admin.rsplit("/", 1)[0] + f"/{name}"
    env = {
        **os.environ,
        "CROSSPOST_DATABASE_URL": database_url,
        "CROSSPOST_BROKER_URL": redis_url,
        "CROSSPOST_DATA_DIR": str(workdir / "redis"),
        "CROSSPOST_SECRET_KEY": "bench-secret-of-at-least-32-characters",
        "CROSSPOST_PUBLISH_QUEUE": f"bench-{uuid.uuid4().hex[:8]}",
        "CROSSPOST_WORKER_PREFETCH": str(prefetch),
    }
    settings = Settings(
        data_dir=workdir / "redis",
        database_url=database_url,
        broker_url=redis_url,
        secret_key="bench-secret-of-at-least-32-characters",
    )
    runtime = build_runtime(settings)
    processes = [
        subprocess.Popen(
            [sys.executable, "-m", "scheduler.cli", "worker", "-c", "2", "--loglevel", "WARNING"],
            env=env,
            cwd=ROOT,
            start_new_session=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        ),
        subprocess.Popen(
            [sys.executable, "-m", "scheduler.cli", "dispatcher"],
            env=env,
            cwd=ROOT,
            start_new_session=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        ),
    ]
    try:
        time.sleep(4)  # worker boot
        label = "Redis + PostgreSQL" + (f" (prefetch {prefetch})" if prefetch != 1 else "")
        redis_pid = int(redis.Redis.from_url(redis_url).info("server")["process_id"])

        def cpu() -> float:
            with admin.connect() as conn:
                backends = conn.execute(
                    text("SELECT pid FROM pg_stat_activity WHERE datname = :name"), {"name": name}
                ).scalars()
                return _tree_cpu([process.pid for process in processes] + [redis_pid, *backends])

        return run_phases(label, runtime, sink_url, n, paced_seconds, lead=8, cpu=cpu)
    finally:
        for process in processes:
            os.killpg(process.pid, signal.SIGTERM)
        for process in processes:
            process.wait(timeout=60)
        runtime.db.dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def bare_celery(n: int, redis_url: str) -> tuple[float, float]:
    """Messages per second, and CPU ms per message (worker, Redis and this process sending)."""
    queue = f"bare-{uuid.uuid4().hex[:8]}"
    counter = f"bench:bare:{queue}"
    env = {**os.environ, "BENCH_REDIS_URL": redis_url}
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "benchmarks.bare_celery",
            "worker",
            "-c",
            "2",
            "--pool",
            "prefork",
            "-Q",
            queue,
            "--loglevel",
            "WARNING",
            "--without-gossip",
            "--without-mingle",
        ],
        env=env,
        cwd=ROOT,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    sys.path.insert(0, str(ROOT))
    os.environ["BENCH_REDIS_URL"] = redis_url
    from benchmarks.bare_celery import noop

    client = redis.Redis.from_url(redis_url)
    redis_pid = int(client.info("server")["process_id"])
    try:
        time.sleep(4)
        cpu_before = _tree_cpu([worker.pid, redis_pid]) + time.process_time()
        started = time.perf_counter()
        for _ in range(n):
            noop.apply_async((counter,), queue=queue)
        while int(client.get(counter) or 0) < n:
            time.sleep(0.05)
        rate = n / (time.perf_counter() - started)
        return rate, (_tree_cpu([worker.pid, redis_pid]) + time.process_time() - cpu_before) / n * 1000
    finally:
        os.killpg(worker.pid, signal.SIGTERM)
        worker.wait(timeout=60)
        client.delete(counter)


def _backends_cpu(admin_connection: Any, database: str) -> float:
    """CPU seconds spent so far by every PostgreSQL backend connected to ``database`` (the server
    runs on this machine: /proc/<pid>/schedstat, nanoseconds on a CPU)."""
    pids = admin_connection.execute(
        text("SELECT pid FROM pg_stat_activity WHERE datname = :name"), {"name": database}
    ).scalars()
    total = 0.0
    for pid in pids:
        with contextlib.suppress(OSError, ValueError, IndexError):  # a backend that just ended
            total += int(Path(f"/proc/{pid}/schedstat").read_text().split()[0]) / 1e9
    return total


@dataclass
class SweepCost:
    backlog: int
    sweep: str
    ms_per_round: float
    db_cpu_ms_per_round: float


def backlog_mode(
    sizes: list[int], pg_admin: str, rounds: int, workdir: Path
) -> tuple[list[SweepCost], dict[int, float]]:
    """Per backlog size: each periodic query's time and database CPU per round, nothing due; and the
    database's CPU (share of a core) while the dispatcher loop runs idle for 20 s."""
    from scheduler.store import open_database

    costs: list[SweepCost] = []
    idle: dict[int, float] = {}
    admin = create_engine(pg_admin, isolation_level="AUTOCOMMIT")
    for size in sizes:
        name = f"crosspost_backlog_{uuid.uuid4().hex[:8]}"
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        url = pg_admin.rsplit("/", 1)[0] + f"/{name}"
        try:
            db = open_database(url)
            now = datetime.now(UTC)  # fixed for the whole measurement: nothing becomes due meanwhile
            started = time.perf_counter()
            with db.engine.begin() as connection:
                loaded = load_backlog(connection, size, now=now) if size else 0
            load_seconds = time.perf_counter() - started
            with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
                connection.execute(text("VACUUM ANALYZE"))  # what autovacuum does for a store at rest
            print(f"backlog {loaded}: loaded in {load_seconds:.1f} s", file=sys.stderr, flush=True)
            settings = Settings(
                data_dir=workdir / name,
                database_url=url,
                broker_url=None,
                secret_key="bench-secret-of-at-least-32-characters",
            )
            with admin.connect() as watcher:
                cpu = functools.partial(_backends_cpu, watcher, name)
                for label, cost in _sweep_costs(db, settings, now, rounds, cpu):
                    costs.append(SweepCost(loaded, label, *cost))
                idle[loaded] = _idle_share(db, settings, now, cpu)
            db.dispose()
        finally:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()
    return costs, idle


def _ignore(*_: object) -> None:
    return None


def _sweep_costs(
    db: Any, settings: Settings, now: datetime, rounds: int, cpu: Any
) -> Iterator[tuple[str, tuple[float, float]]]:
    """Each periodic query, run ``rounds`` times: (ms per round, database CPU ms per round)."""
    from scheduler.calendar import campaigns
    from scheduler.editorial import overview
    from scheduler.publishing import dispatch, media_prep, publications, workers

    sweeps: dict[str, Any] = {
        "claim_due": lambda: publications.claim_due(db, now=now, settings=settings),
        "requeue_lost": lambda: publications.requeue_lost(db, now=now, settings=settings),
        "workers.claim_lost": lambda: workers.claim_lost(db, now=now, settings=settings),
        "needing_media": lambda: media_prep.needing_media(db, now=now, settings=settings),
        "expire_leases": lambda: publications.expire_leases(db, now=now, settings=settings),
        "due_for_reconcile": lambda: publications.due_for_reconcile(db, now=now, settings=settings),
        "sweep_deadlines": lambda: overview.sweep_deadlines(db, now=now),
        "campaigns.sweep": lambda: campaigns.sweep(db, settings, now=now),
        "dispatch round (all of dispatch_due)": lambda: dispatch.dispatch_due(db, _ignore, now=now, settings=settings),
        "sweep (all of it)": lambda: dispatch.sweep(db, _ignore, _ignore, now=now, settings=settings),
    }
    for label, run in sweeps.items():
        for _ in range(3):
            run()  # warm: connections, statement caches
        cpu_before, wall_before = cpu(), time.perf_counter()
        for _ in range(rounds):
            run()
        wall = time.perf_counter() - wall_before
        yield label, (wall / rounds * 1000, (cpu() - cpu_before) / rounds * 1000)


def _idle_share(db: Any, settings: Settings, now: datetime, cpu: Any, seconds: float = 20.0) -> float:
    """The database's CPU, as a share of one core, while the real dispatcher loop runs with nothing due."""
    from scheduler.publishing import dispatch

    stop = threading.Event()
    loop = threading.Thread(
        target=dispatch.run_dispatcher,
        args=(db, _ignore, _ignore, _ignore),
        kwargs={"settings": settings, "clock": lambda: now, "stop": stop},
        daemon=True,
    )
    cpu_before, wall_before = cpu(), time.perf_counter()
    loop.start()
    time.sleep(seconds)
    stop.set()
    loop.join()
    return float((cpu() - cpu_before) / (time.perf_counter() - wall_before))


def print_backlog_table(costs: list[SweepCost], idle: dict[int, float]) -> None:
    sizes = sorted({cost.backlog for cost in costs})
    header = ["periodic query", *(f"{size:,} rows: ms/round (DB CPU ms)" for size in sizes)]
    rows = [header]
    for label in dict.fromkeys(cost.sweep for cost in costs):
        by_size = {cost.backlog: cost for cost in costs if cost.sweep == label}
        rows.append(
            [label]
            + [f"{by_size[s].ms_per_round:.3f} ({by_size[s].db_cpu_ms_per_round:.3f})" for s in sizes if s in by_size]
        )
    rows.append(["idle dispatcher loop: DB CPU, share of a core", *(f"{idle[s]:.2%}" for s in sizes)])
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    for index, row in enumerate(rows):
        print("| " + " | ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)) + " |")
        if index == 0:
            print("|" + "|".join("-" * (w + 2) for w in widths) + "|")


def print_table(phases: list[Phase], bares: list[tuple[float, float]]) -> None:
    """Bare Celery runs before and after the Redis modes; "vs bare Celery" uses their mean."""
    bare = sum(rate for rate, _ in bares) / len(bares) if bares else None
    header = [
        "mode",
        "phase",
        "publications",
        "throughput/s",
        "vs bare Celery",
        "p50 late",
        "p99 late",
        "max late",
        "duplicates",
        "lost",
        "CPU ms/publication",
    ]
    rows = [header]
    for p in phases:
        ratio = f"{p.throughput / bare:.0%}" if bare and p.phase == "burst" else "-"
        rows.append(
            [
                p.mode,
                p.phase,
                str(p.count),
                f"{p.throughput:.0f}",
                ratio,
                f"{p.pct(0.5):.3f} s",
                f"{p.pct(0.99):.3f} s",
                f"{max(p.lateness, default=float('nan')):.3f} s",
                str(p.duplicates),
                str(p.lost),
                "-" if p.cpu_ms is None else f"{p.cpu_ms:.2f}",
            ]
        )
    for when, (rate, cpu_ms) in zip(("before", "after"), bares, strict=False):
        rows.append(
            [f"bare Celery no-op ({when})", "burst", "-", f"{rate:.0f}", "-", "-", "-", "-", "-", "-", f"{cpu_ms:.2f}"]
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    for index, row in enumerate(rows):
        print("| " + " | ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)) + " |")
        if index == 0:
            print("|" + "|".join("-" * (w + 2) for w in widths) + "|")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--modes", default="embedded,redis")
    parser.add_argument("--paced-seconds", type=float, default=20.0)
    parser.add_argument("--threads", type=int, default=4, help="embedded executor threads")
    parser.add_argument("--redis-url", default=os.environ.get("CROSSPOST_TEST_REDIS_URL", "redis://127.0.0.1:6379/8"))
    parser.add_argument("--pg-admin", default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
    parser.add_argument(
        "--prefetch", type=int, nargs="+", default=[1], help="worker prefetch multipliers to measure (default 1)"
    )
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument(
        "--backlog", type=int, nargs="+", help="measure the idle cost of these backlog sizes instead (PostgreSQL)"
    )
    parser.add_argument("--rounds", type=int, default=200, help="rounds per periodic query (--backlog)")
    args = parser.parse_args()

    if args.backlog:
        with tempfile.TemporaryDirectory(prefix="crosspost-backlog-") as tmp:
            costs, idle = backlog_mode(args.backlog, args.pg_admin, args.rounds, Path(tmp))
        print_backlog_table(costs, idle)
        if args.json:
            args.json.write_text(json.dumps({"costs": [vars(cost) for cost in costs], "idle_db_cpu": idle}, indent=2))
        return

    modes = set(args.modes.split(","))
    sink, sink_url = start_sink()
    phases: list[Phase] = []
    bares: list[tuple[float, float]] = []
    try:
        with tempfile.TemporaryDirectory(prefix="crosspost-bench-") as tmp:
            workdir = Path(tmp)
            if "embedded" in modes:
                phases += embedded_mode(args.n, sink_url, args.paced_seconds, workdir, args.threads)
            if "redis" in modes:
                # the machine may be shared: bare Celery before and after, compared with their mean
                bares.append(bare_celery(args.n, args.redis_url))
                for prefetch in args.prefetch:
                    phases += redis_mode(
                        args.n, sink_url, args.paced_seconds, args.redis_url, args.pg_admin, workdir, prefetch
                    )
                bares.append(bare_celery(args.n, args.redis_url))
    finally:
        sink.terminate()
        sink.wait()
    print_table(phases, bares)
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "bare_celery": [{"per_s": rate, "cpu_ms": cpu_ms} for rate, cpu_ms in bares],
                    "phases": [
                        {
                            "mode": p.mode,
                            "phase": p.phase,
                            "count": p.count,
                            "throughput": p.throughput,
                            "p50": p.pct(0.5),
                            "p99": p.pct(0.99),
                            "max": max(p.lateness, default=None),
                            "duplicates": p.duplicates,
                            "lost": p.lost,
                            "cpu_ms": p.cpu_ms,
                        }
                        for p in phases
                    ],
                },
                indent=2,
            )
        )


if __name__ == "__main__":
    main()
