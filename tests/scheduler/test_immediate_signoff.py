"""A post to go out "now" that needs a sign-off goes out when it is signed, however long that
takes: it has no sign-off deadline (it used to land in needs_attention within seconds)."""

from __future__ import annotations

from datetime import datetime

from scheduler import posts
from scheduler.editorial import overview, people, signoff
from scheduler.runtime import Runtime
from tests.conftest import Clock
from tests.helpers import add_dry_run_channels, publish_due


def test_a_now_post_waits_for_its_sign_off_then_goes_out_at_once(runtime: Runtime, clock: Clock) -> None:
    now = clock()
    people.add_org(runtime.db, name="lab", now=now)
    for name, role in (("carol", "contributor"), ("ed", "editor")):
        people.add_user(runtime.db, name=name, now=now)
        people.set_role(runtime.db, user=name, org="lab", role=role, now=now)
    [channel] = add_dry_run_channels(runtime, "linkedin")
    posts.assign_channel(runtime.db, channel=channel, org="lab", now=now)
    post_id = posts.create_post(
        runtime.db, runtime.settings, text="Right now", channels=[channel], immediately=True, actor="carol", now=now
    )
    [publication] = posts.show_post(runtime.db, post_id)["publications"]
    assert publication["state"] == "awaiting_signoff"

    clock.advance(3 * 3600)  # hours later: still waiting, not given up on
    assert overview.sweep_deadlines(runtime.db, now=clock()) == []
    assert posts.show_post(runtime.db, post_id)["publications"][0]["state"] == "awaiting_signoff"

    signoff.approve(runtime.db, post_id, actor="ed", now=clock())
    [publication] = posts.show_post(runtime.db, post_id)["publications"]
    assert publication["state"] == "scheduled"
    assert datetime.fromisoformat(publication["due_at"]) == clock()  # due at the sign-off
    publish_due(runtime)
    [publication] = posts.show_post(runtime.db, post_id)["publications"]
    assert publication["state"] == "published"
    assert datetime.fromisoformat(publication["published_at"]) == clock()
