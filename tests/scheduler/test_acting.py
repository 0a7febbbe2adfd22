"""A token's scope narrows its owner's roles, and nobody else's."""

from __future__ import annotations

from scheduler.acting import Acting, acting_as, current_via
from scheduler.editorial import people
from scheduler.runtime import Runtime


def test_a_token_scope_narrows_its_owner_only(runtime: Runtime) -> None:
    now = runtime.clock()
    host = people.add_org(runtime.db, name="host", now=now)
    other = people.add_org(runtime.db, name="other", kind="partner", now=now)
    for name in ("alice", "bob"):
        people.add_user(runtime.db, name=name, now=now)
        people.set_role(runtime.db, user=name, org="host", role="admin", now=now)
        people.set_role(runtime.db, user=name, org="other", role="editor", now=now)
    scope = Acting(via="token:1", org_id=host.id, max_role="contributor", user="alice")
    with acting_as(scope), runtime.db.read() as session:
        assert current_via() == "token:1"
        alice = people.user_named(session, "alice")
        bob = people.user_named(session, "bob")
        assert people.memberships(session, alice) == {host.id: "contributor"}  # capped, one organisation
        assert people.memberships(session, bob) == {host.id: "admin", other.id: "editor"}  # as held
    with runtime.db.read() as session:
        assert people.memberships(session, people.user_named(session, "alice")) == {
            host.id: "admin",
            other.id: "editor",
        }
    assert current_via() is None
