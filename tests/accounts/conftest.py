"""Accounts at the service level, on a real SQLite file; Argon2 at its lowest cost (a setting), so
hashing stays out of the suite's time."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from scheduler.editorial import people
from scheduler.settings import Settings
from scheduler.store import Database, open_database
from tests.conftest import Clock, make_settings


@dataclass
class Accounts:
    db: Database
    settings: Settings
    clock: Clock


def cheap_settings(data_dir: Path, database_url: str, **overrides: object) -> Settings:
    cheap: dict[str, object] = {"password_hash_memory_kib": 8, "password_hash_time_cost": 1}
    return make_settings(data_dir, database_url, **(cheap | overrides))


@pytest.fixture
def accounts(tmp_path: Path, sqlite_template: Path, clock: Clock) -> Iterator[Accounts]:
    """Organisations collab (host) and partner; ana (collab editor), boss (collab admin), pat
    (partner admin), both (collab editor and partner contributor), loner (in none)."""
    shutil.copyfile(sqlite_template, tmp_path / "crosspost.db")
    settings = cheap_settings(tmp_path / "data", f"sqlite:///{tmp_path / 'crosspost.db'}")
    db = open_database(settings.database_url)
    now = clock()
    people.add_org(db, name="collab", now=now)
    people.add_org(db, name="partner", kind="partner", now=now)
    for name, roles in {
        "ana": {"collab": "editor"},
        "boss": {"collab": "admin"},
        "pat": {"partner": "admin"},
        "both": {"collab": "editor", "partner": "contributor"},
        "loner": {},
    }.items():
        people.add_user(db, name=name, now=now)
        for org, role in roles.items():
            people.set_role(db, user=name, org=org, role=role, now=now)
    yield Accounts(db, settings, clock)
    db.dispose()
