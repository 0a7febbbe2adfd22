"""docker-compose.yml is checked against the Compose Specification schema (no Docker engine runs here)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = ROOT.parent / "shared" / "schemas" / "compose-spec.json"


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return data


def test_compose_file_is_valid_against_the_compose_spec(compose: dict[str, Any]) -> None:
    if not SCHEMA.exists():
        pytest.skip("shared/schemas is not next to the project")
    schema = json.loads(SCHEMA.read_text())  # declares draft-07
    jsonschema.Draft7Validator(schema).validate(compose)


def test_a_broken_compose_file_is_caught_by_the_same_check(compose: dict[str, Any]) -> None:
    if not SCHEMA.exists():
        pytest.skip("shared/schemas is not next to the project")
    schema = json.loads(SCHEMA.read_text())  # declares draft-07
    broken = {
        **compose,
        "services": {**compose["services"], "worker": {**compose["services"]["worker"], "imagee": "typo"}},
    }
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft7Validator(schema).validate(broken)


def test_redis_keeps_an_append_only_file_and_never_evicts(compose: dict[str, Any]) -> None:
    command = compose["services"]["redis"]["command"]
    assert command[command.index("--appendonly") + 1] == "yes"
    assert command[command.index("--maxmemory-policy") + 1] == "noeviction"


def test_every_long_running_service_has_a_health_check(compose: dict[str, Any]) -> None:
    for name in ("redis", "postgres", "dispatcher", "worker", "web"):
        assert "healthcheck" in compose["services"][name], name


def test_workers_scale_and_wait_for_the_migration(compose: dict[str, Any]) -> None:
    worker = compose["services"]["worker"]
    assert "container_name" not in worker  # a fixed name would forbid --scale
    assert worker["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert compose["services"]["migrate"]["command"] == ["crosspost", "db", "upgrade"]
    assert set(compose["volumes"]) == {"redis-data", "postgres-data", "crosspost-data"}


def test_web_serves_the_api_and_the_media_from_the_shared_volume(compose: dict[str, Any]) -> None:
    web = compose["services"]["web"]
    command = web["command"]
    assert command[:2] == ["crosspost", "web"]
    assert command[command.index("--host") + 1] == "0.0.0.0"  # inside its container, for the published port
    port = command[command.index("--port") + 1]
    assert web["ports"] == [f"127.0.0.1:{port}:{port}"]  # published on the host's loopback, for a reverse proxy
    assert f"http://127.0.0.1:{port}/healthz" in " ".join(web["healthcheck"]["test"])
    assert "crosspost-data:/data" in web["volumes"]  # the media store the workers render into
    assert (
        web["environment"]["CROSSPOST_DATABASE_URL"]
        == compose["services"]["worker"]["environment"]["CROSSPOST_DATABASE_URL"]
    )
    assert web["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
