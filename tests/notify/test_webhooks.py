"""Outbound webhooks through the real pipeline: posts submitted, approved and published by the
dry-run adapters, events fanned out and delivered to a loopback receiver that verifies every
signature on its own, with the receiver down for a while, replays and concurrent fan-outs."""

from __future__ import annotations

import json
import shutil
import threading
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import delete, func, select

from scheduler import posts
from scheduler.editorial import people, signoff
from scheduler.errors import InvalidInput, Refused
from scheduler.notify import eventlog, webhooks
from scheduler.notify.outbound import run_outbound
from scheduler.runtime import Runtime
from scheduler.store import Cursor, WebhookDelivery, open_database
from tests.conftest import Clock, make_settings
from tests.helpers import Run, ok, publish_due, refused
from tests.notify.receiver import Receiver

LOOPBACK = frozenset({"127.0.0.1"})


def _runtime(tmp_path: Path, url: str, clock: Clock, **settings: object) -> Iterator[Runtime]:
    db = open_database(url)
    if db.dialect == "postgresql":  # the shared test database keeps its cursors while event ids restart
        with db.transaction() as session:
            session.execute(delete(Cursor))
    eventlog._handed_out.clear()  # what this process handed out of an earlier test's event log
    yield Runtime(settings=make_settings(tmp_path / "data", url, **settings), db=db, clock=clock)
    webhooks.settle(30)
    db.dispose()


@pytest.fixture
def hooks(tmp_path: Path, database_url: str, clock: Clock) -> Iterator[Runtime]:
    """SQLite and PostgreSQL, the loopback receiver allowed."""
    yield from _runtime(tmp_path, database_url, clock, webhook_allowed_hosts=LOOPBACK)


@pytest.fixture
def lite(tmp_path: Path, sqlite_template: Path, clock: Clock) -> Iterator[Runtime]:
    """SQLite only, nothing allowed."""
    shutil.copyfile(sqlite_template, tmp_path / "crosspost.db")
    yield from _runtime(tmp_path, f"sqlite:///{tmp_path / 'crosspost.db'}", clock)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    running = Receiver()
    yield running
    running.close()


def build(runtime: Runtime) -> None:
    db, settings, now = runtime.db, runtime.settings, runtime.clock()
    people.add_org(db, name="cms", now=now)
    people.add_org(db, name="atlas", now=now)
    for name, org, role in (("ada", "cms", "admin"), ("ann", "cms", "contributor"), ("eve", "cms", "editor")):
        people.add_user(db, name=name, now=now)
        people.set_role(db, user=name, org=org, role=role, now=now)
    people.add_user(db, name="zed", now=now)
    people.set_role(db, user="zed", org="atlas", role="admin", now=now)
    for name, platform, org in (("cms-x", "x", "cms"), ("cms-li", "linkedin", "cms"), ("atlas-x", "x", "atlas")):
        posts.add_channel(db, settings, name=name, platform=platform, dry_run=True, org=org, now=now)


def subscribe(runtime: Runtime, receiver: Receiver, kinds: tuple[str, ...] = ("*",)) -> int:
    made = webhooks.subscribe(
        runtime.db, runtime.settings, org="cms", url=receiver.url, kinds=kinds, now=runtime.clock(), actor="ada"
    )
    assert made.secret.startswith("whsec_")
    assert len(made.secret) >= 6 + 32
    receiver.secret = made.secret
    return int(made.subscription["id"])


def create(runtime: Runtime, text: str, channels: list[str], actor: str = "ann") -> int:
    due = (runtime.clock() + timedelta(minutes=10)).isoformat()
    return posts.create_post(
        runtime.db, runtime.settings, text=text, channels=channels, at=due, now=runtime.clock(), actor=actor
    )


def rounds(runtime: Runtime, count: int = 1, step: float = 1.0) -> None:
    """What the dispatcher does each round, then the clock moves on."""
    assert isinstance(runtime.clock, Clock)
    for _ in range(count):
        run_outbound(runtime, runtime.clock())
        webhooks.settle(30)
        runtime.clock.advance(step)


def kinds_of(receiver: Receiver) -> Counter[tuple[str, int | None, int | None]]:
    return Counter(
        (a.body["type"], a.body["data"]["post_id"], a.body["data"]["publication_id"]) for a in receiver.delivered()
    )


def story(runtime: Runtime) -> tuple[int, int, int]:
    """A post submitted, approved and published on two channels; one sent back for changes; one
    of another organisation's."""
    assert isinstance(runtime.clock, Clock)
    published = create(runtime, "New result", ["cms-x", "cms-li"])
    signoff.approve(runtime.db, published, actor="eve", now=runtime.clock())
    returned = create(runtime, "Too long", ["cms-x"])
    signoff.request_changes(runtime.db, returned, actor="eve", text="shorter", now=runtime.clock())
    elsewhere = create(runtime, "Not ours", ["atlas-x"], actor="zed")
    runtime.clock.advance(601)
    publish_due(runtime)
    return published, returned, elsewhere


def expected(runtime: Runtime, published: int, returned: int) -> Counter[tuple[str, int | None, int | None]]:
    shown = posts.show_post(runtime.db, published)["publications"]
    assert {p["state"] for p in shown} == {"published"}
    return Counter(
        [
            ("post.submitted", published, None),
            ("post.approved", published, None),
            ("post.submitted", returned, None),
            ("post.changes_requested", returned, None),
            *(("publication.published", published, p["id"]) for p in shown),
        ]
    )


def test_each_event_arrives_once_signed(hooks: Runtime, receiver: Receiver) -> None:
    build(hooks)
    subscribe(hooks, receiver)
    published, returned, _ = story(hooks)
    rounds(hooks, 3)
    eventlog._handed_out.clear()  # a restart: the events not yet behind the cursor are read again
    rounds(hooks, 2, step=61)  # past the settle time: the cursor moves on
    rounds(hooks, 2)
    assert receiver.bad_signatures == 0
    assert kinds_of(receiver) == expected(hooks, published, returned)
    ids = [a.webhook_id for a in receiver.arrivals]
    assert len(ids) == len(set(ids))
    body = next(a.body for a in receiver.delivered() if a.body["type"] == "publication.published")
    assert body["data"]["state"] == "published"
    assert body["data"]["channel"] in {"cms-x", "cms-li"}
    assert body["data"]["links"]["post"] == f"http://127.0.0.1:8000/api/v1/posts/{published}"  # CROSSPOST_WEB_BASE_URL
    assert body["timestamp"].endswith("Z")


def test_a_receiver_down_for_a_while_gets_everything_once_with_the_same_ids(hooks: Runtime, receiver: Receiver) -> None:
    assert isinstance(hooks.clock, Clock)
    build(hooks)
    subscription = subscribe(hooks, receiver)
    receiver.status = 500
    published, returned, _ = story(hooks)
    rounds(hooks)  # the first attempt: 500
    failing = {a.webhook_id for a in receiver.arrivals}
    assert len(failing) == 6
    assert not receiver.delivered()
    hooks.clock.advance(6)  # 5 s later (with jitter): the second attempt, 500 again
    rounds(hooks)
    assert Counter(a.webhook_id for a in receiver.arrivals) == dict.fromkeys(failing, 2)
    receiver.down()
    hooks.clock.advance(400)  # 5 min later: refused
    rounds(hooks)
    log = webhooks.list_deliveries(hooks.db, subscription, actor="ada")
    assert {(d["state"], d["attempts"], d["last_status"]) for d in log} == {("pending", 3, None)}
    assert all("refused" in (d["last_error"] or "").lower() for d in log)
    assert len(receiver.arrivals) == 12  # nothing got through
    rounds(hooks, step=60)  # not due again yet: nothing is tried
    # meanwhile another post goes out
    late = create(hooks, "While it was down", ["cms-x"])
    signoff.approve(hooks.db, late, actor="eve", now=hooks.clock())
    receiver.up()
    receiver.status = 200
    rounds(hooks)  # the new events: at once
    assert len(receiver.delivered()) == 2
    hooks.clock.advance(2000)  # 30 min (with jitter) after the third attempt: the fourth, delivered
    rounds(hooks, 2)
    want = expected(hooks, published, returned)
    want.update([("post.submitted", late, None), ("post.approved", late, None)])
    assert kinds_of(receiver) == want
    delivered = Counter(a.webhook_id for a in receiver.delivered())
    assert set(delivered.values()) == {1}
    assert failing <= set(delivered)  # the retries kept their webhook-id
    log = webhooks.list_deliveries(hooks.db, subscription, actor="ada")
    assert {d["state"] for d in log} == {"delivered"}
    assert max(d["attempts"] for d in log) == 4
    assert receiver.bad_signatures == 0


def test_give_up_after_the_schedule_and_replay_with_the_same_id(lite: Runtime, receiver: Receiver) -> None:
    lite.settings.webhook_allowed_hosts = LOOPBACK
    build(lite)
    subscription = subscribe(lite, receiver, ("post.submitted",))
    create(lite, "Hello", ["cms-x"])
    receiver.status = 500
    for delay in (0, *webhooks.RETRY_DELAYS):
        assert isinstance(lite.clock, Clock)
        lite.clock.advance(delay * 1.2)
        rounds(lite)
    [failed] = webhooks.list_deliveries(lite.db, subscription, actor="ada")
    assert (failed["state"], failed["attempts"], failed["last_status"]) == ("failed", webhooks.MAX_ATTEMPTS, 500)
    assert len(receiver.arrivals) == webhooks.MAX_ATTEMPTS
    rounds(lite, step=86400)
    assert len(receiver.arrivals) == webhooks.MAX_ATTEMPTS  # given up: nothing more
    receiver.status = 200
    with pytest.raises(Refused):
        webhooks.replay(lite.db, failed["id"], actor="ann", now=lite.clock())
    webhooks.replay(lite.db, failed["id"], actor="ada", now=lite.clock())
    rounds(lite)
    [again] = receiver.delivered()
    assert again.webhook_id == failed["message_id"]
    [done] = webhooks.list_deliveries(lite.db, subscription, actor="ada")
    assert done["state"] == "delivered"


def test_private_and_loopback_urls_are_refused_without_the_allow_list(lite: Runtime, receiver: Receiver) -> None:
    build(lite)
    for url, reason in (
        (receiver.url, "loopback, private or link-local"),
        ("http://169.254.169.254/latest/meta-data", "link-local"),
        ("http://10.0.0.7/hook", "private"),
        ("http://[::ffff:127.0.0.1]:8080/hook", "::ffff:7f00:1, a loopback"),
        ("http://0.0.0.0/hook", "loopback, private"),
        ("ftp://example.org/hook", "http:// or https://"),
        ("https://exa mple.org/", "not a valid"),
    ):
        with pytest.raises(InvalidInput, match=reason):
            webhooks.subscribe(lite.db, lite.settings, org="cms", url=url, kinds=["*"], now=lite.clock(), actor="ada")
    with pytest.raises(InvalidInput, match=r"unknown event kind 'post\.eaten'"):
        webhooks.subscribe(
            lite.db,
            lite.settings.model_copy(update={"webhook_allowed_hosts": LOOPBACK}),
            org="cms",
            url=receiver.url,
            kinds=["post.eaten"],
            now=lite.clock(),
            actor="ada",
        )
    # subscribed where it was allowed; the allow-list is gone when it is sent: checked again, not sent
    allowed = Runtime(lite.settings.model_copy(update={"webhook_allowed_hosts": LOOPBACK}), lite.db, lite.clock)
    subscription = subscribe(allowed, receiver)
    create(lite, "Hello", ["cms-x"])
    rounds(lite)
    assert receiver.arrivals == []
    [held] = webhooks.list_deliveries(lite.db, subscription, actor="ada")
    assert held["state"] == "pending"
    assert "resolves to 127.0.0.1" in held["last_error"]


def test_only_an_admin_of_the_organisation_manages_its_webhooks(lite: Runtime, receiver: Receiver) -> None:
    lite.settings.webhook_allowed_hosts = LOOPBACK
    build(lite)
    for who in ("ann", "eve", "zed"):
        with pytest.raises(Refused, match="rule 'roles'"):
            webhooks.subscribe(
                lite.db, lite.settings, org="cms", url=receiver.url, kinds=["*"], now=lite.clock(), actor=who
            )
    subscription = subscribe(lite, receiver)
    for call in (
        lambda: webhooks.list_subscriptions(lite.db, org="cms", actor="zed"),
        lambda: webhooks.remove_subscription(lite.db, subscription, now=lite.clock(), actor="eve"),
        lambda: webhooks.send_test(lite, subscription, actor="zed"),
    ):
        with pytest.raises(Refused):
            call()
    assert receiver.arrivals == []


def test_a_test_ping_reports_how_it_went(lite: Runtime, receiver: Receiver) -> None:
    lite.settings.webhook_allowed_hosts = LOOPBACK
    build(lite)
    subscription = subscribe(lite, receiver)
    sent = webhooks.send_test(lite, subscription, actor="ada")
    assert (sent["state"], sent["last_status"], sent["kind"]) == ("delivered", 200, "webhook.test")
    [ping] = receiver.delivered()
    assert ping.webhook_id == sent["message_id"]
    assert ping.body["type"] == "webhook.test"
    receiver.down()
    missed = webhooks.send_test(lite, subscription, actor="ada")
    assert (missed["state"], missed["attempts"]) == ("failed", 1)  # a ping is not retried
    rounds(lite, step=3600)
    receiver.up()
    rounds(lite, step=3600)
    assert len(receiver.arrivals) == 1
    webhooks.update_subscription(lite.db, lite.settings, subscription, active=False, now=lite.clock(), actor="ada")
    create(lite, "Paused", ["cms-x"])
    rounds(lite, 2)
    assert len(receiver.arrivals) == 1  # paused: kept, not sent
    webhooks.update_subscription(lite.db, lite.settings, subscription, active=True, now=lite.clock(), actor="ada")
    rounds(lite)
    assert [a.body["type"] for a in receiver.arrivals] == ["webhook.test", "post.submitted"]


def test_concurrent_fan_outs_make_each_delivery_once(hooks: Runtime, receiver: Receiver) -> None:
    build(hooks)
    first = subscribe(hooks, receiver)
    second = subscribe(hooks, receiver, ("post.submitted",))
    made = [create(hooks, f"Post {n}", ["cms-x"]) for n in range(12)]
    start = threading.Barrier(4)
    errors: list[BaseException] = []

    def dispatcher() -> None:
        db = open_database(hooks.settings.database_url, migrate=False)  # its own connections, as another process has
        try:
            start.wait()
            for _ in range(3):
                eventlog._handed_out.clear()  # as if each were another process: all read the same events
                webhooks.fan_out(db, hooks.settings, now=hooks.clock())
        except BaseException as exc:
            errors.append(exc)
        finally:
            db.dispose()

    threads = [threading.Thread(target=dispatcher) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    with hooks.db.read() as session:
        per = dict(
            session.execute(
                select(WebhookDelivery.subscription_id, func.count()).group_by(WebhookDelivery.subscription_id)
            ).all()
        )
        pairs = session.execute(select(WebhookDelivery.subscription_id, WebhookDelivery.event_id)).all()
    assert per == {first: len(made), second: len(made)}
    assert len(pairs) == len(set(pairs))


def test_the_command_line(cli: Run, receiver: Receiver) -> None:
    allow = {"CROSSPOST_WEBHOOK_ALLOWED_HOSTS": '["127.0.0.1"]'}
    ok(cli("org", "add", "cms"))
    ok(cli("user", "add", "ada"))
    ok(cli("user", "role", "ada", "--org", "cms", "--role", "admin"))
    add = ["webhook", "add", "--org", "cms", "--url", receiver.url, "--kind", "post.submitted", "--as", "ada"]
    assert "loopback" in refused(cli(*add))
    assert "unknown event kind 'post.eaten'" in refused(cli(*add, "--kind", "post.eaten", **allow))
    shown = ok(cli(*add, **allow))
    assert shown.startswith("webhook 1 of cms: http://127.0.0.1:")
    receiver.secret = shown.split("secret (shown only now): ")[1].strip()
    assert "post.submitted" in ok(cli("webhook", "list", "--org", "cms", "--as", "ada"))
    assert ok(cli("webhook", "test", "1", "--as", "ada", **allow)) == "webhook 1: delivered (200)\n"
    assert "resolves to 127.0.0.1" in refused(cli("webhook", "test", "1", "--as", "ada"), code=1)
    [delivered, missed] = json.loads(ok(cli("webhook", "deliveries", "1", "--json", "--as", "ada")))[::-1]
    assert (delivered["state"], missed["state"]) == ("delivered", "failed")
    assert "queued again" in ok(cli("webhook", "replay", str(missed["id"]), "--as", "ada"))
    assert ok(cli("webhook", "remove", "1", "--as", "ada")) == "webhook 1 removed\n"
    assert "no webhook with id 1" in refused(cli("webhook", "remove", "1"), code=1)
