"""LinkedIn's API version follows the date: the default, the contract fake's window, the refusal.

LinkedIn releases a version of its REST API every month (YYYYMM) and serves each for about a year
(platforms.md §2.2); a version it no longer serves is refused with 426 NONEXISTENT_VERSION. The
default crosspost sends is two months behind the current month, so it never goes stale.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
import requests

from scheduler.runtime import build_runtime
from scheduler.settings import LINKEDIN_VERSION_LAG, Settings, linkedin_version_for
from tests.fakes.linkedin_api import LinkedInFake, newest_version, version_served
from tests.helpers import Run, ok, publish_due


def _today() -> date:
    return datetime.now(UTC).date()


@pytest.mark.parametrize(
    ("today", "version"),
    [
        (date(2026, 12, 3), "202610"),
        (date(2027, 1, 1), "202611"),
        (date(2027, 2, 28), "202612"),
        (date(2027, 3, 1), "202701"),
        (date(2027, 12, 31), "202710"),
    ],
)
def test_the_default_version_is_two_months_before_the_current_month(today: date, version: str) -> None:
    assert LINKEDIN_VERSION_LAG == 2
    assert linkedin_version_for(today) == version


def test_the_default_is_served_on_every_day_and_a_fixed_one_is_not() -> None:
    days = [date(year, month, day) for year in range(2026, 2031) for month in range(1, 13) for day in (1, 28)]
    assert all(version_served(linkedin_version_for(day), day) for day in days)
    # what this replaced: a version fixed at release goes stale within the year
    assert not version_served("202511", date(2026, 11, 1))


def test_settings_derive_the_version_unless_it_is_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CROSSPOST_LINKEDIN_VERSION", raising=False)
    assert Settings().linkedin_version == linkedin_version_for(_today())
    monkeypatch.setenv("CROSSPOST_LINKEDIN_VERSION", "202608")
    assert Settings().linkedin_version == "202608"


def _post_with(fake: LinkedInFake, version: str) -> requests.Response:
    headers = {
        "Authorization": f"Bearer {fake.state.account.access_token}",
        "LinkedIn-Version": version,
        "X-Restli-Protocol-Version": "2.0.0",
    }
    return requests.post(f"{fake.url}/rest/posts", json={}, headers=headers, timeout=5)


def test_the_fake_serves_a_year_of_versions_and_refuses_the_rest_as_linkedin_does() -> None:
    with LinkedInFake(today=date(2027, 3, 15)) as fake:
        for version in ("202703", "202604", "20260401"):
            assert _post_with(fake, version).status_code == 422, version  # served: the empty body is refused
        for version in ("202603", "202704", "202413", "latest"):
            answer = _post_with(fake, version)
            assert answer.status_code == 426, version
            assert answer.json() == {
                "status": 426,
                "code": "NONEXISTENT_VERSION",
                "message": f"Requested version {version} is not active",
            }
    assert newest_version(date(2027, 3, 15)) == "202703"


@pytest.fixture
def linkedin(cli: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[LinkedInFake]:
    """A LinkedIn channel added on the command line, against the contract fake (today's date)."""
    monkeypatch.delenv("CROSSPOST_LINKEDIN_VERSION", raising=False)
    with LinkedInFake() as fake:
        monkeypatch.setenv("CROSSPOST_LINKEDIN_API_URL", fake.url)
        credentials = tmp_path / "li.json"
        credentials.write_text(json.dumps(fake.state.account.credentials()))
        ok(cli("channel", "add", "--platform", "linkedin", "--name", "cms-li", "--credentials", str(credentials)))
        yield fake


def _publish(cli: Run, text: str) -> dict[str, object]:
    post = json.loads(ok(cli("post", "create", "--text", text, "--channel", "cms-li", "--now", "--json")))
    runtime = build_runtime()  # as `crosspost up` would: settings from this environment
    try:
        publish_due(runtime)
    finally:
        runtime.db.dispose()
    [publication] = json.loads(ok(cli("post", "show", str(post["id"]), "--json")))["publications"]
    return dict(publication)


def test_a_channel_added_without_a_version_setting_publishes(cli: Run, linkedin: LinkedInFake) -> None:
    publication = _publish(cli, "Published with the version of the day")
    assert publication["state"] == "published", publication
    [(urn, post)] = linkedin.posts.items()
    assert publication["remote_id"] == urn
    assert post["text"] == "Published with the version of the day"
    derived = linkedin_version_for(_today())
    assert {headers["linkedin-version"] for headers in linkedin.state.headers if "linkedin-version" in headers} == {
        derived
    }
    # `crosspost config` shows the version in use, and says where it comes from
    assert json.loads(ok(cli("config", "--json")))["linkedin_version"] == derived
    [line] = [line for line in ok(cli("config")).splitlines() if line.startswith("linkedin_version ")]
    assert derived in line
    assert "2 months before this month" in line


def test_a_pinned_version_linkedin_no_longer_serves_names_the_setting(
    cli: Run, linkedin: LinkedInFake, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CROSSPOST_LINKEDIN_VERSION", "202401")
    [line] = [line for line in ok(cli("config")).splitlines() if line.startswith("linkedin_version ")]
    assert line.split() == ["linkedin_version", "202401"]
    publication = _publish(cli, "Sent with a sunset version")
    assert publication["state"] == "failed"
    error = str(publication["last_error"])
    assert "LinkedIn refused API version 202401 (426 Requested version 202401 is not active)" in error
    assert "CROSSPOST_LINKEDIN_VERSION" in error
    assert linkedin.posts == {}


def test_a_refused_default_version_points_at_the_clock_and_the_setting(
    cli: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A machine whose clock is a year behind sends a version LinkedIn has already retired."""
    monkeypatch.delenv("CROSSPOST_LINKEDIN_VERSION", raising=False)
    today = _today()
    with LinkedInFake(today=date(today.year + 1, today.month, 1)) as fake:
        monkeypatch.setenv("CROSSPOST_LINKEDIN_API_URL", fake.url)
        credentials = tmp_path / "li.json"
        credentials.write_text(json.dumps(fake.state.account.credentials()))
        ok(cli("channel", "add", "--platform", "linkedin", "--name", "cms-li", "--credentials", str(credentials)))
        publication = _publish(cli, "Sent by a slow clock")
    error = str(publication["last_error"])
    assert f"LinkedIn refused API version {linkedin_version_for(today)} (426" in error
    assert "by this machine's clock" in error
    assert "CROSSPOST_LINKEDIN_VERSION" in error
