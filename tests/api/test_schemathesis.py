"""Every operation of /openapi.json, driven by schemathesis with generated valid and invalid input,
authenticated as an admin of the host organisation: no 5xx, and every answer as the document says.

Bounded for CI: a few examples per operation, derandomized (the same cases every run), no deadline.
Whatever routes exist are covered: the operations are read from the running server's document.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import hypothesis
import pytest
import schemathesis
from hypothesis import HealthCheck
from schemathesis.checks import not_a_server_error
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import response_schema_conformance

from scheduler.accounts.tokens import create_token
from scheduler.runtime import Runtime
from scheduler.store import open_database
from tests.api.conftest import Server, build_world, time_now
from tests.conftest import Clock, make_settings

EXAMPLES = {GenerationMode.POSITIVE: 6, GenerationMode.NEGATIVE: 4}  # per operation
CHECKS = [not_a_server_error, response_schema_conformance]


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path) -> Iterator[tuple[str, Runtime]]:
    """One world and server for the whole module."""
    root = tmp_path_factory.mktemp("schemathesis")
    shutil.copyfile(sqlite_template, root / "crosspost.db")
    settings = make_settings(root / "data", f"sqlite:///{root / 'crosspost.db'}")
    runtime = Runtime(settings=settings, db=open_database(settings.database_url), clock=Clock(time_now()))
    build_world(runtime)
    with Server(runtime) as server:
        yield server.url, runtime
    runtime.db.dispose()


def test_every_operation_answers_without_5xx_and_as_documented(served: tuple[str, Runtime]) -> None:
    url, runtime = served
    schema = schemathesis.openapi.from_url(f"{url}/openapi.json")
    failures: list[str] = []
    covered: list[str] = []
    succeeded: set[str] = set()  # operations that answered 2xx at least once: the token kept working
    started = time.monotonic()
    for result in schema.get_all_operations():
        operation = result.ok()
        covered.append(operation.label)
        # a new admin token per operation: one that revokes tokens (or signs out) spoils only itself
        token = create_token(runtime.db, user="alice", org="collab", role="admin", name="fuzz", now=runtime.clock())
        headers = {"Authorization": f"Bearer {token.token}"}
        for mode, examples in EXAMPLES.items():
            try:
                _fuzz(operation, mode, examples, url, headers, succeeded)
            except Exception as failure:  # one line per operation and mode; the rest still run
                failures.append(f"{operation.label} ({mode.value}): {' '.join(str(failure).split())[:600]}")
    elapsed = time.monotonic() - started
    print(f"schemathesis: {len(covered)} operations ({len(succeeded)} answered 2xx), {elapsed:.1f} s")
    assert len(covered) >= 10  # the document lists the API, not an empty shell
    assert not failures, "\n".join(failures)
    assert {"GET /api/v1/posts", "GET /api/v1/channels"} <= succeeded
    assert len(succeeded) >= 20, sorted(succeeded)


def _fuzz(operation: Any, mode: GenerationMode, examples: int, url: str, headers: dict[str, str], ok: set[str]) -> None:
    @hypothesis.given(case=operation.as_strategy(generation_mode=mode))
    @hypothesis.settings(
        max_examples=examples,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
        phases=[hypothesis.Phase.explicit, hypothesis.Phase.generate],  # no shrinking: report as found
    )
    def check(case: Any) -> None:
        answer = case.call_and_validate(base_url=url, headers=headers, checks=CHECKS, timeout=30)
        if answer.status_code < 300:
            ok.add(operation.label)

    check()
