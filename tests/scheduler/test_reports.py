"""`crosspost report`'s figures against a controlled clock: lateness, signers, time to sign-off and
to publication, medians per organisation and channel."""

from __future__ import annotations

import csv
import io
import json
from datetime import timedelta
from pathlib import Path

import pytest

from scheduler import posts, reports
from scheduler.editorial import people, signoff
from scheduler.errors import InvalidInput
from scheduler.runtime import Runtime
from tests.conftest import Clock
from tests.helpers import Run, publish_due


@pytest.fixture
def cms(runtime: Runtime) -> Runtime:
    now = runtime.clock()
    people.add_org(runtime.db, name="cms", now=now)
    for user, role in (("ana", "contributor"), ("eve", "editor")):
        people.add_user(runtime.db, name=user, now=now)
        people.set_role(runtime.db, user=user, org="cms", role=role, now=now)
    posts.add_channel(runtime.db, runtime.settings, name="cms-x", platform="x", dry_run=True, org="cms", now=now)
    posts.add_channel(runtime.db, runtime.settings, name="open-li", platform="linkedin", dry_run=True, now=now)
    return runtime


def _post(runtime: Runtime, channels: list[str], *, in_hours: float, actor: str | None = None) -> int:
    at = (runtime.clock() + timedelta(hours=in_hours)).isoformat()
    return posts.create_post(
        runtime.db,
        runtime.settings,
        text="Ten years of the Higgs",
        channels=channels,
        at=at,
        now=runtime.clock(),
        actor=actor,
    )


def test_the_report_measures_lateness_and_the_time_from_submission_to_sign_off_to_publication(
    cms: Runtime, clock: Clock
) -> None:
    start = clock()
    signed = _post(cms, ["cms-x"], in_hours=24, actor="ana")  # submitted on creation
    clock.advance(2 * 3600)
    signoff.approve(cms.db, signed, actor="eve", now=clock())
    unsigned = _post(cms, ["open-li"], in_hours=22)  # nobody's channel: no sign-off
    clock.now = start + timedelta(hours=24, seconds=3)  # both due at start + 24 h; the worker is 3 s late
    publish_due(cms)
    rows, medians = reports.report(cms.db)
    by_post = {row.post: row for row in rows}
    assert by_post[signed].state == "published"
    assert by_post[signed].lateness_s == 3.0
    assert by_post[signed].signers == ("eve",)
    assert by_post[signed].to_signoff_s == 2 * 3600
    assert by_post[signed].to_publish_s == 24 * 3600 + 3
    assert by_post[unsigned].signers == ()
    assert by_post[unsigned].to_signoff_s is None
    assert by_post[unsigned].to_publish_s == 22 * 3600 + 3
    assert {m.group: (m.published, m.lateness_s, m.to_publish_s) for m in medians} == {
        "org cms": (1, 3.0, 24 * 3600 + 3),
        "channel cms-x": (1, 3.0, 24 * 3600 + 3),
        "channel open-li": (1, 3.0, 22 * 3600 + 3),
    }
    # filters
    assert [row.post for row in reports.report(cms.db, org="cms")[0]] == [signed]
    assert [row.post for row in reports.report(cms.db, channel="open-li")[0]] == [unsigned]
    assert reports.report(cms.db, start=start + timedelta(hours=25))[0] == []
    with pytest.raises(InvalidInput, match="no organisation named 'nobody'"):
        reports.report(cms.db, org="nobody")


def test_report_formats_through_the_cli(cli: Run, tmp_path: Path) -> None:
    for args in (
        ["channel", "add", "--platform", "x", "--name", "cms-x", "--dry-run"],
        ["post", "create", "--text", "hello", "--channel", "cms-x", "--at", "2030-01-01T10:00Z"],
    ):
        assert cli(*args).returncode == 0, args
    as_csv = cli("report", "--format", "csv")
    assert as_csv.returncode == 0, as_csv.stderr
    [row] = list(csv.DictReader(io.StringIO(as_csv.stdout)))
    assert (row["channel"], row["state"], row["due_at"]) == ("cms-x", "scheduled", "2030-01-01T10:00:00+00:00")
    as_json = json.loads(cli("report", "--format", "json").stdout)
    assert as_json["publications"][0]["published_at"] is None
    table = cli("report", "--from", "2029-12-31", "--to", "2030-01-02")
    assert "cms-x" in table.stdout
    assert "cms-x" not in cli("report", "--from", "2030-01-02").stdout
    refused = cli("report", "--org", "nobody")
    assert refused.returncode == 2
    assert refused.stderr == "error: no organisation named 'nobody'\n"
