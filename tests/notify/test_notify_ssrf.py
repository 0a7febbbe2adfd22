"""Chat targets may not make the server call its own network: an apprise URL that names a host
(json://, form://, mmost://, gotify://, ...) is refused when that host resolves to a loopback,
private or link-local address, when it is added and again before every message, unless the host is
in ``webhook_allowed_hosts``. Services reached at their own address (slack://, discord://) pass."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select

from scheduler.editorial import people
from scheduler.errors import InvalidInput
from scheduler.notify.notifications import add_target, send_test
from scheduler.runtime import Runtime
from scheduler.store import NotificationTarget, open_database
from tests.conftest import Clock, make_settings
from tests.fakes.sink import Sink

NOW = datetime(2031, 3, 4, 5, 0, tzinfo=UTC)
LOOPBACK = frozenset({"127.0.0.1"})


@pytest.fixture
def runtime(tmp_path: Path, sqlite_template: Path) -> Iterator[Runtime]:
    shutil.copyfile(sqlite_template, tmp_path / "crosspost.db")
    settings = make_settings(tmp_path / "data", f"sqlite:///{tmp_path / 'crosspost.db'}")
    db = open_database(settings.database_url)
    people.add_org(db, name="collab", now=NOW)
    people.add_user(db, name="carol", now=NOW)
    people.set_role(db, user="carol", org="collab", role="contributor", now=NOW)
    try:
        yield Runtime(settings=settings, db=db, clock=Clock(NOW))
    finally:
        db.dispose()


def _targets(runtime: Runtime) -> int:
    with runtime.db.transaction() as session:
        return session.scalar(select(func.count()).select_from(NotificationTarget)) or 0


@pytest.mark.parametrize(
    ("url", "host"),
    [
        ("json://10.0.0.5/hook", "10.0.0.5"),
        ("jsons://169.254.169.254/latest/meta-data", "169.254.169.254"),
        ("form://127.0.0.1:8080/", "127.0.0.1"),
        ("forms://192.168.1.10/form", "192.168.1.10"),
        ("xml://[::1]:8080/x", "::1"),
        ("mmost://127.0.0.1/token", "127.0.0.1"),
        ("rocket://user:password@10.1.2.3/room", "10.1.2.3"),
        ("matrix://user:password@172.16.0.9/#room", "172.16.0.9"),
        ("ntfy://127.0.0.2/topic", "127.0.0.2"),
        ("gotify://[fe80::1]/token", "fe80::1"),
        ("apprise://localhost/token", "localhost"),  # a name, resolved: loopback
    ],
)
def test_a_personal_target_on_an_internal_host_is_refused(runtime: Runtime, url: str, host: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        add_target(runtime.db, runtime.settings, user="carol", url=url, now=NOW, actor="carol")
    message = str(refused.value)
    assert f"host {host} resolves to" in message
    assert "loopback, private or link-local" in message
    assert "CROSSPOST_WEBHOOK_ALLOWED_HOSTS" in message
    assert _targets(runtime) == 0


def test_services_at_their_own_address_and_allowed_hosts_pass(runtime: Runtime) -> None:
    db, settings = runtime.db, runtime.settings
    # tokens, not hosts, sit where a host would (slack's, discord's); ntfy's public server by topic
    for url in ("slack://T1JJ3T3L2/A1BRTD4JD/TIiajkdnlazkcOXrIdevi7FQ", "discord://1234/abcd", "ntfy://mytopic"):
        add_target(db, settings, user="carol", url=url, now=NOW, actor="carol")
    with pytest.raises(InvalidInput, match=r"host 127\.0\.0\.1 resolves to"):
        add_target(db, settings, user="carol", url="json://127.0.0.1:9/x", now=NOW, actor="carol")
    allowed = settings.model_copy(update={"webhook_allowed_hosts": LOOPBACK})
    add_target(db, allowed, user="carol", url="json://127.0.0.1:9/x", now=NOW, actor="carol")
    assert _targets(runtime) == 4


def test_the_host_is_checked_again_before_each_message(runtime: Runtime) -> None:
    """A target added while its host was allowed is not sent to once it no longer is."""
    db, settings = runtime.db, runtime.settings
    allowed = Runtime(settings.model_copy(update={"webhook_allowed_hosts": LOOPBACK}), db, runtime.clock)
    with Sink() as sink:
        url = f"json://127.0.0.1:{sink.server.server_address[1]}/hook"
        add_target(db, allowed.settings, user="carol", url=url, now=NOW, actor="carol")
        [went] = [line for line in send_test(allowed, "carol", actor="carol") if line.startswith("chat")]
        assert went.endswith(": sent")
        assert len(sink.state.received) == 1

        [refused] = [line for line in send_test(runtime, "carol", actor="carol") if line.startswith("chat")]
        assert "failed" in refused
        assert "host 127.0.0.1 resolves to 127.0.0.1, a loopback, private or link-local address" in refused
        assert len(sink.state.received) == 1  # nothing more arrived
