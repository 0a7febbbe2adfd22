"""Abandoned uploads do not pile up: a week old, they go; at most one sweep an hour."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

from scheduler.media_store import sweep_uploads


def _aged(path: Path, now: datetime, age: timedelta) -> Path:
    stamp = (now - age).timestamp()
    os.utime(path, (stamp, stamp))
    return path


def test_old_uploads_and_cut_off_ones_go_and_recent_ones_stay(tmp_path: Path) -> None:
    now = datetime(2027, 3, 8, 9, 0, tzinfo=UTC)
    folder = tmp_path / "uploads"
    folder.mkdir()
    old = folder / ("a" * 64 + ".jpg")
    old.write_bytes(b"x")
    _aged(old, now, timedelta(days=8))
    old_name = folder / ("a" * 64 + ".name")
    old_name.write_text("photo.jpg")
    _aged(old_name, now, timedelta(days=8))
    fresh = folder / ("b" * 64 + ".jpg")
    fresh.write_bytes(b"y")
    _aged(fresh, now, timedelta(days=2))
    cut_off = folder / ".incoming-1234"
    cut_off.mkdir()
    (cut_off / "part").write_bytes(b"z")
    _aged(cut_off, now, timedelta(days=2))

    assert sweep_uploads(folder, now=now) == 3
    assert sorted(p.name for p in folder.iterdir()) == [".swept", fresh.name]
    assert not old.exists()
    # within the hour nothing is looked at again, whoever asks
    _aged(fresh, now, timedelta(days=30))
    assert sweep_uploads(folder, now=now + timedelta(minutes=30)) == 0
    assert fresh.exists()
    assert sweep_uploads(folder, now=now + timedelta(hours=2)) == 1


def test_no_upload_folder_is_nothing_to_do(tmp_path: Path) -> None:
    assert sweep_uploads(tmp_path / "uploads", now=datetime.now(UTC)) == 0
