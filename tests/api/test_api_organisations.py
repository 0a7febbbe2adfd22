"""Organisations, people and policies through the running API, and who may not."""

from __future__ import annotations

from scheduler.store import Event
from tests.api.conftest import World

POLICY = """
[[rule]]
name = "everything"
importance = "*"
format = "*"
roles = ["editor"]
required = 2
"""


def test_members_see_their_organisations_with_members_and_channels(world: World) -> None:
    with world.client("carol") as carol:
        listed = carol.get("/organisations")
        assert listed.status_code == 200, listed.text
        [collab] = listed.json()
        assert collab["name"] == "collab"
        assert collab["members"] == {"alice": "admin", "apu": "approver", "carol": "contributor", "ed": "editor"}
        assert collab["channels"] == ["collab-li", "collab-x"]
        assert carol.get("/organisations/collab").json() == collab
        refused = carol.get("/organisations/partner")
        assert refused.status_code == 403
        assert "carol is not a member of partner" in refused.json()["detail"]
        unknown = carol.get("/organisations/nowhere")
        assert unknown.status_code == 404
        assert "'nowhere'" in unknown.json()["detail"]


def test_a_host_admin_adds_an_organisation_and_administers_it(world: World) -> None:
    with world.client("pete") as pete:  # an admin, but of a partner organisation
        refused = pete.post("/organisations", json={"name": "lab"})
        assert refused.status_code == 403
        assert "host organisation" in refused.json()["detail"]
    with world.client("carol") as carol:
        assert carol.post("/organisations", json={"name": "lab"}).status_code == 403
    with world.client("alice") as alice:
        bad = alice.post("/organisations", json={"name": "Not A Name"})
        assert bad.status_code == 422
        assert "organisation name" in bad.json()["detail"]
        nobody = alice.post("/organisations", json={"name": "lab", "admin": "ghost"})
        assert nobody.status_code == 404
        assert "'ghost'" in nobody.json()["detail"]
        added = alice.post("/organisations", json={"name": "lab", "kind": "partner", "admin": "ed"})
        assert added.status_code == 201, added.text
        assert added.headers["location"] == "/api/v1/organisations/lab"
        assert added.json()["members"] == {"ed": "admin"}
        assert added.json()["kind"] == "partner"
        again = alice.post("/organisations", json={"name": "lab"})
        assert again.status_code == 422
        assert "already exists" in again.json()["detail"]
    with world.runtime.db.read() as session:
        assert session.query(Event).filter_by(kind="org.added", actor="alice").count() == 1


def test_admins_set_and_remove_roles_others_may_not(world: World) -> None:
    with world.client("ed") as ed:
        refused = ed.put("/organisations/collab/members/paula", json={"role": "contributor"})
        assert refused.status_code == 403
    with world.client("pete") as pete:
        assert pete.put("/organisations/collab/members/pete", json={"role": "admin"}).status_code == 403
        assert pete.delete("/organisations/collab/members/carol").status_code == 403
    with world.client("alice") as alice:
        assert alice.put("/organisations/collab/members/paula", json={"role": "boss"}).status_code == 422
        assert alice.put("/organisations/collab/members/ghost", json={"role": "editor"}).status_code == 404
        assert alice.put("/organisations/nowhere/members/carol", json={"role": "editor"}).status_code == 404
        made = alice.put("/organisations/collab/members/paula", json={"role": "editor"})
        assert made.status_code == 200, made.text
        assert made.json() == {"org": "collab", "user": "paula", "role": "editor"}
        assert alice.get("/organisations/collab").json()["members"]["paula"] == "editor"
        assert alice.delete("/organisations/collab/members/paula").status_code == 204
        assert "paula" not in alice.get("/organisations/collab").json()["members"]
        gone = alice.delete("/organisations/collab/members/paula")
        assert gone.status_code == 409
        assert "not a member" in gone.json()["detail"]


def test_people_are_listed_with_the_roles_of_the_callers_organisations_only(world: World) -> None:
    with world.client("carol") as carol:
        listed = carol.get("/users")
        assert listed.status_code == 200, listed.text
        people = {row["name"]: row["roles"] for row in listed.json()}
        # the caller's contributor token does not cap what others hold
        assert people == {
            "alice": {"collab": "admin"},
            "apu": {"collab": "approver"},
            "carol": {"collab": "contributor"},
            "ed": {"collab": "editor"},
        }
        assert carol.get("/users/ed").json()["roles"] == {"collab": "editor"}
        assert carol.get("/users/ed").json()["email"] == "ed@example.org"
        hidden = carol.get("/users/pete")
        assert hidden.status_code == 403
        unknown = carol.get("/users/ghost")
        assert unknown.status_code == 404
        assert "'ghost'" in unknown.json()["detail"]


def test_an_admin_adds_a_person_to_their_organisation(world: World) -> None:
    with world.client("ed") as ed:
        refused = ed.post("/users", json={"name": "nina"})
        assert refused.status_code == 403
    with world.client("pete") as pete:
        assert pete.post("/users", json={"name": "nina", "org": "collab"}).status_code == 403
    with world.client("alice") as alice:
        assert alice.post("/users", json={"name": "nina", "email": "not-an-address"}).status_code == 422
        assert alice.post("/users", json={"name": "nina", "org": "nowhere"}).status_code == 404
        added = alice.post("/users", json={"name": "nina", "email": "nina@example.org", "role": "approver"})
        assert added.status_code == 201, added.text
        assert added.json() == {
            "name": "nina",
            "display_name": "nina",
            "email": "nina@example.org",
            "roles": {"collab": "approver"},
        }
        assert alice.post("/users", json={"name": "nina"}).status_code == 422  # already exists
    with world.runtime.db.read() as session:
        assert session.query(Event).filter_by(kind="user.added").filter(Event.actor == "alice").count() == 1


def test_members_read_the_policy_admins_set_it_and_a_bad_one_changes_nothing(world: World) -> None:
    with world.client("carol") as carol:
        shown = carol.get("/organisations/collab/policy")
        assert shown.status_code == 200, shown.text
        before = shown.json()
        assert before["org"] == "collab"
        assert "[[rule]]" in before["toml"]
        assert carol.put("/organisations/collab/policy", json={"text": POLICY}).status_code == 403
    with world.client("paula") as paula:
        assert paula.get("/organisations/collab/policy").status_code == 403
    with world.client("pete") as pete:
        assert pete.put("/organisations/collab/policy", json={"text": POLICY}).status_code == 403
    with world.client("alice") as alice:
        bad = alice.put("/organisations/collab/policy", json={"text": "[[rule]]\nrequired = 'many'\n"})
        assert bad.status_code == 422
        assert alice.get("/organisations/collab/policy").json() == before
        assert alice.get("/organisations/nowhere/policy").status_code == 404
        changed = alice.put("/organisations/collab/policy", json={"text": POLICY})
        assert changed.status_code == 200, changed.text
        assert changed.json()["rules"] == 1
        assert changed.json()["document"]["rules"][0]["name"] == "everything"
        as_json = alice.put("/organisations/collab/policy", json={"text": _json(changed.json()["document"])})
        assert as_json.status_code == 200, as_json.text
        assert as_json.json()["document"] == changed.json()["document"]


def _json(document: object) -> str:
    import json

    return json.dumps(document)
