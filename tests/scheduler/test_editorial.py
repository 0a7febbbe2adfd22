"""The editorial workflow against a real database: who may sign what, and nothing publishes unsigned."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import timedelta

import pytest

from scheduler import posts
from scheduler.editorial import overview, people, shares, signoff
from scheduler.editorial.policy import parse_policy, policy_as_toml
from scheduler.errors import InvalidInput, Refused, StateConflict
from scheduler.publishing import publications
from scheduler.publishing.states import PublicationState
from scheduler.runtime import Runtime
from scheduler.store import Publication
from tests.conftest import Clock
from tests.helpers import publication_states, table_counts

S = PublicationState
# who holds which role: cms is the host collaboration, lhcb a partner experiment
PEOPLE = {
    "cms": {"ana": "contributor", "eve": "editor", "pia": "approver", "max": "admin"},
    "lhcb": {"luc": "contributor", "lea": "editor"},
}


def _set_up(runtime: Runtime) -> None:
    now = runtime.clock()
    people.add_org(runtime.db, name="cms", kind="host", now=now)
    people.add_org(runtime.db, name="lhcb", kind="partner", now=now)
    for org, members in PEOPLE.items():
        for user, role in members.items():
            people.add_user(runtime.db, name=user, now=now)
            people.set_role(runtime.db, user=user, org=org, role=role, now=now)
    for name, platform, org, language in [
        ("cms-x", "x", "cms", "en"),
        ("cms-li", "linkedin", "cms", "en"),
        ("cms-es", "x", "cms", "es"),
        ("lhcb-x", "x", "lhcb", "en"),
    ]:
        posts.add_channel(
            runtime.db,
            runtime.settings,
            name=name,
            platform=platform,
            timezone="Europe/Zurich",
            language=language,
            dry_run=True,
            org=org,
            now=now,
        )


@pytest.fixture
def team(runtime: Runtime) -> Runtime:
    _set_up(runtime)
    return runtime


def _create(runtime: Runtime, *, hours: float = 48, channels: tuple[str, ...] = ("cms-x",), **kwargs: object) -> int:
    at = (runtime.clock() + timedelta(hours=hours)).isoformat()
    arguments: dict[str, object] = {"text": "Higgs boson, ten years on", "actor": "ana", **kwargs}
    return posts.create_post(
        runtime.db, runtime.settings, channels=list(channels), at=at, now=runtime.clock(), **arguments
    )  # type: ignore[arg-type]


def _review(runtime: Runtime, post_id: int) -> str:
    return str(overview.review_view(runtime.db, post_id)["review"])


def _claimed(runtime: Runtime, clock: Clock, post_id: int, *, hours: float) -> list[int]:
    """What the dispatcher claims once the clock reaches the post's due time."""
    clock.now = clock.now + timedelta(hours=hours)
    claimed = publications.claim_due(runtime.db, now=clock.now, settings=runtime.settings)
    with runtime.db.transaction() as session:
        mine = {p.id for p in session.query(Publication).filter(Publication.post_id == post_id)}
    return [d.publication_id for d in claimed if d.publication_id in mine]


# -- the default and a custom policy, table-driven ------------------------------------------------

DEFAULT_TABLE = [
    # importance, format, signer, expected: "scheduled" or the words of the refusal
    ("routine", "social", "ana", "four eyes"),  # the author never signs her own post
    ("routine", "social", "eve", "scheduled"),
    ("routine", "social", "pia", "scheduled"),
    ("routine", "social", "max", "scheduled"),
    ("routine", "social", "luc", "not a member of cms"),
    ("routine", "video", "eve", "scheduled"),
    ("notable", "social", "eve", "scheduled"),
    ("major", "social", "eve", "rule 'major: an approver' needs 1 approver or above; eve is an editor of cms"),
    ("major", "social", "pia", "scheduled"),
    ("major", "video", "pia", "scheduled"),
    ("routine", "press_release", "eve", "'press releases and results: an approver'"),
    ("routine", "press_release", "pia", "scheduled"),
    ("notable", "physics_result", "eve", "'press releases and results: an approver'"),
    ("notable", "physics_result", "max", "scheduled"),
]


@pytest.mark.parametrize(("importance", "kind", "signer", "expected"), DEFAULT_TABLE)
def test_default_policy(team: Runtime, importance: str, kind: str, signer: str, expected: str) -> None:
    post_id = _create(team, importance=importance, format=kind)
    assert publication_states(team, post_id) == {"cms-x": "awaiting_signoff"}
    if expected == "scheduled":
        signoff.approve(team.db, post_id, actor=signer, now=team.clock())
        assert publication_states(team, post_id) == {"cms-x": "scheduled"}
        assert _review(team, post_id) == "approved"
    else:
        with pytest.raises(Refused, match=re.escape(expected)):
            signoff.approve(team.db, post_id, actor=signer, now=team.clock())
        assert publication_states(team, post_id) == {"cms-x": "awaiting_signoff"}
        assert overview.signoff_record(team.db, post_id=post_id) == []


CUSTOM = """
importances = ["routine", "major"]
formats = ["social", "physics_result", "awareness_day"]

[[rule]]
name = "results: two physics coordinators"
format = ["physics_result"]
users = ["eve", "pia", "max"]
required = 2

[[rule]]
name = "awareness days go out as planned"
format = ["awareness_day"]
required = 0

[[rule]]
name = "major: the spokesperson's office"
importance = ["major"]
users = ["max"]

[[rule]]
name = "the rest: an editor"
roles = ["editor"]
"""

# importance, format, signers in order, the state after each signature (or a refusal's words)
CUSTOM_TABLE = [
    ("routine", "physics_result", ["eve", "pia"], ["awaiting_signoff", "scheduled"]),
    ("major", "physics_result", ["max", "eve"], ["awaiting_signoff", "scheduled"]),
    ("routine", "physics_result", ["eve", "eve"], ["awaiting_signoff", "already signed"]),
    ("routine", "physics_result", ["ana"], ["four eyes"]),
    ("routine", "social", ["eve"], ["scheduled"]),
    ("major", "social", ["pia"], ['rule "major: the spokesperson\'s office" needs max; pia is an approver']),
    ("major", "social", ["max"], ["scheduled"]),
]


@pytest.mark.parametrize(("importance", "kind", "signers", "after"), CUSTOM_TABLE)
def test_custom_policy(team: Runtime, importance: str, kind: str, signers: list[str], after: list[str]) -> None:
    signoff.set_policy(team.db, org="cms", text=CUSTOM, source="cms.toml", now=team.clock(), actor="max")
    post_id = _create(team, importance=importance, format=kind)
    for signer, expected in zip(signers, after, strict=True):
        if expected in ("awaiting_signoff", "scheduled"):
            signoff.approve(team.db, post_id, actor=signer, now=team.clock())
            assert publication_states(team, post_id) == {"cms-x": expected}
        else:
            with pytest.raises(Refused, match=expected):
                signoff.approve(team.db, post_id, actor=signer, now=team.clock())


def test_a_rule_that_needs_no_sign_off_schedules_at_once(team: Runtime) -> None:
    signoff.set_policy(team.db, org="cms", text=CUSTOM, source="cms.toml", now=team.clock())
    post_id = _create(team, format="awareness_day")
    assert publication_states(team, post_id) == {"cms-x": "scheduled"}
    assert _review(team, post_id) == "approved"


def test_policy_changes_are_recorded_with_old_and_new_and_need_an_admin(team: Runtime) -> None:
    with pytest.raises(Refused, match="to change the approval policy in cms one must be an admin"):
        signoff.set_policy(team.db, org="cms", text=CUSTOM, source="cms.toml", now=team.clock(), actor="pia")
    signoff.set_policy(team.db, org="cms", text=CUSTOM, source="cms.toml", now=team.clock(), actor="max")
    [change] = [e for e in posts.read_events(team.db) if e.kind == "policy.changed"]
    assert change.actor == "max"
    assert change.data["old"]["rules"][0]["name"] == "major: an approver"
    assert change.data["new"]["rules"][0]["name"] == "results: two physics coordinators"
    shown = signoff.show_policy(team.db, org="cms")
    assert parse_policy(policy_as_toml(shown)) == shown


def test_an_invalid_policy_is_refused_naming_the_rule_and_the_old_one_stays(team: Runtime) -> None:
    bad = CUSTOM.replace('roles = ["editor"]', 'roles = ["edtior"]')
    with pytest.raises(InvalidInput, match=r"rule 4 'the rest: an editor'.*edtior"):
        signoff.set_policy(team.db, org="cms", text=bad, source="cms.toml", now=team.clock())
    assert signoff.show_policy(team.db, org="cms").rules[0].name == "major: an approver"


# -- the lifecycle ---------------------------------------------------------------------------------


def test_an_edit_after_approval_blocks_publishing_until_a_new_sign_off(team: Runtime, clock: Clock) -> None:
    post_id = _create(team, hours=1)
    signoff.approve(team.db, post_id, actor="eve", now=clock.now)
    assert publication_states(team, post_id) == {"cms-x": "scheduled"}
    first_hash = posts.show_post(team.db, post_id)["content_hash"]

    posts.edit_post(team.db, team.settings, post_id, text="Higgs boson, ten years later", now=clock.now, actor="ana")
    assert publication_states(team, post_id) == {"cms-x": "awaiting_signoff"}
    assert _review(team, post_id) == "submitted"
    assert _claimed(team, clock, post_id, hours=1 - 20 / 3600) == []  # due within the look-ahead, not claimed

    signoff.approve(team.db, post_id, actor="eve", now=clock.now)
    second_hash = posts.show_post(team.db, post_id)["content_hash"]
    assert len(_claimed(team, clock, post_id, hours=0)) == 1
    record = overview.signoff_record(team.db, post_id=post_id)
    assert [(row["post_version"], row["content_hash"], row["signer"]) for row in record] == [
        (1, first_hash, "eve"),
        (2, second_hash, "eve"),
    ]
    assert first_hash != second_hash
    exported = list(csv.DictReader(io.StringIO(overview.as_csv(record, overview.SIGNOFF_FIELDS))))
    assert [row["content_hash"] for row in exported] == [first_hash, second_hash]
    assert json.loads(json.dumps(record))[1]["post_version"] == 2
    kinds = [e.kind for e in posts.read_events(team.db, post_id=post_id)]
    assert kinds.count("post.approved") == 2
    assert "post.resubmitted" in kinds


def test_a_trivial_edit_keeps_the_sign_off_as_a_carried_record(team: Runtime) -> None:
    signoff.set_policy(
        team.db, org="cms", text="trivial_edit_chars = 2\n" + CUSTOM, source="cms.toml", now=team.clock()
    )
    post_id = _create(team, text="Higgs boson, ten yaers on")
    signoff.approve(team.db, post_id, actor="eve", now=team.clock())
    posts.edit_post(team.db, team.settings, post_id, text="Higgs boson, ten years on", now=team.clock(), actor="eve")
    assert publication_states(team, post_id) == {"cms-x": "scheduled"}
    record = overview.signoff_record(team.db, post_id=post_id)
    assert [(row["kind"], row["signer"], row["post_version"]) for row in record] == [
        ("signed", "eve", 1),
        ("carried", "eve", 2),
    ]
    assert "trivial edit by eve" in record[1]["note"]
    # a real rewrite is not trivial
    posts.edit_post(team.db, team.settings, post_id, text="Something else entirely", now=team.clock(), actor="eve")
    assert publication_states(team, post_id) == {"cms-x": "awaiting_signoff"}


def test_a_draft_is_signed_only_after_submission(team: Runtime) -> None:
    post_id = _create(team, draft=True)
    assert _review(team, post_id) == "draft"
    with pytest.raises(StateConflict, match=r"is a draft.*crosspost post submit"):
        signoff.approve(team.db, post_id, actor="eve", now=team.clock())
    assert signoff.submit(team.db, post_id, actor="ana", now=team.clock()) == "submitted"
    signoff.approve(team.db, post_id, actor="eve", now=team.clock())
    assert publication_states(team, post_id) == {"cms-x": "scheduled"}


def test_changes_requested_then_resubmitted_then_signed(team: Runtime) -> None:
    post_id = _create(team)
    signoff.approve(team.db, post_id, actor="eve", now=team.clock())
    signoff.request_changes(team.db, post_id, actor="pia", text="Add the paper's link", now=team.clock())
    assert publication_states(team, post_id) == {"cms-x": "awaiting_signoff"}
    assert _review(team, post_id) == "changes_requested"
    with pytest.raises(StateConflict, match="changes were requested"):
        signoff.approve(team.db, post_id, actor="pia", now=team.clock())
    posts.edit_post(team.db, team.settings, post_id, link="https://cds.cern.ch/record/1", now=team.clock(), actor="ana")
    signoff.comment(team.db, post_id, actor="ana", text="Link added", now=team.clock())
    signoff.submit(team.db, post_id, actor="ana", now=team.clock())
    signoff.approve(team.db, post_id, actor="pia", now=team.clock())
    assert publication_states(team, post_id) == {"cms-x": "scheduled"}
    view = overview.review_view(team.db, post_id)
    assert [(c["author"], c["kind"], c["version"]) for c in view["comments"]] == [
        ("pia", "change_request", 1),
        ("ana", "comment", 2),
    ]
    kinds = [e.kind for e in posts.read_events(team.db, post_id=post_id)]
    for kind in ("post.submitted", "post.changes_requested", "post.commented", "post.signed", "post.approved"):
        assert kind in kinds


def test_only_editors_request_changes_and_only_members_comment(team: Runtime) -> None:
    post_id = _create(team)
    with pytest.raises(Refused, match="its author or an editor or above"):
        signoff.request_changes(team.db, post_id, actor="luc", text="no", now=team.clock())
    with pytest.raises(Refused, match="luc is not a member"):
        signoff.comment(team.db, post_id, actor="luc", text="nice", now=team.clock())


def test_a_retry_of_unsigned_content_waits_for_sign_off(team: Runtime) -> None:
    post_id = _create(team)
    posts.cancel_post(team.db, post_id, now=team.clock(), actor="eve")
    assert publication_states(team, post_id) == {"cms-x": "cancelled"}
    posts.retry_post(team.db, post_id, now=team.clock(), actor="eve")
    assert publication_states(team, post_id) == {"cms-x": "awaiting_signoff"}


# -- partners ----------------------------------------------------------------------------------


def test_a_partner_cannot_schedule_on_a_host_channel(team: Runtime) -> None:
    before = table_counts(team.db)
    with pytest.raises(Refused, match=r"rule 'channels belong to their organisation'.*cms-x.*--submit-to cms"):
        _create(team, actor="luc")
    assert table_counts(team.db) == before


def test_a_partner_submission_publishes_on_the_host_channel_after_the_host_signs(team: Runtime, clock: Clock) -> None:
    post_id = _create(team, actor="luc", submit_to="cms", hours=1)
    assert publication_states(team, post_id) == {"cms-x": "awaiting_signoff"}
    assert overview.review_view(team.db, post_id)["org"] == "lhcb"
    # the partner's own editor cannot sign for the host
    with pytest.raises(Refused, match="lea is not a member of cms"):
        signoff.approve(team.db, post_id, actor="lea", now=clock.now)
    signoff.approve(team.db, post_id, actor="eve", now=clock.now)
    [claimed] = _claimed(team, clock, post_id, hours=1)
    token = _token(team, claimed)
    state = publications.publish(team.db, claimed, token, team.adapters, settings=team.settings, clock=team.clock)
    assert state == S.PUBLISHED


def test_a_host_rule_needing_no_sign_off_still_needs_one_for_a_partner(team: Runtime) -> None:
    signoff.set_policy(team.db, org="cms", text=CUSTOM, source="cms.toml", now=team.clock())
    own = _create(team, format="awareness_day")
    partner = _create(team, format="awareness_day", actor="luc", submit_to="cms")
    assert publication_states(team, own) == {"cms-x": "scheduled"}
    assert publication_states(team, partner) == {"cms-x": "awaiting_signoff"}


def _token(runtime: Runtime, publication_id: int) -> str:
    with runtime.db.transaction() as session:
        row = session.get(Publication, publication_id)
        assert row is not None
        assert row.dispatch_token is not None
        return row.dispatch_token


def test_a_shared_post_is_adopted_within_limits_under_the_partners_policy(team: Runtime) -> None:
    post_id = _create(team)
    with pytest.raises(StateConflict, match="only approved posts are shared"):
        shares.share(team.db, post_id, to_org="lhcb", now=team.clock(), actor="eve")
    signoff.approve(team.db, post_id, actor="eve", now=team.clock())
    share_id = shares.share(team.db, post_id, to_org="lhcb", now=team.clock(), actor="eve")

    at = (team.clock() + timedelta(hours=30)).isoformat()
    with pytest.raises(Refused, match="rule 'shared as is'"):
        posts.adopt_share(
            team.db,
            team.settings,
            share_id,
            channels=["lhcb-x"],
            at=at,
            now=team.clock(),
            actor="luc",
            text="Higgs: ten years",
        )
    with pytest.raises(Refused, match="channels belong to their organisation"):
        posts.adopt_share(team.db, team.settings, share_id, channels=["cms-li"], at=at, now=team.clock(), actor="luc")
    copy = posts.adopt_share(
        team.db,
        team.settings,
        share_id,
        channels=["lhcb-x"],
        at=at,
        now=team.clock(),
        actor="luc",
        text="From our friends at CMS: Higgs boson, ten years on",
    )
    assert publication_states(team, copy) == {"lhcb-x": "awaiting_signoff"}
    with pytest.raises(Refused, match="eve is not a member of lhcb"):
        signoff.approve(team.db, copy, actor="eve", now=team.clock())
    signoff.approve(team.db, copy, actor="lea", now=team.clock())
    assert publication_states(team, copy) == {"lhcb-x": "scheduled"}
    [offer] = shares.list_shares(team.db, org="lhcb")
    assert (offer["state"], offer["copy"]) == ("adopted", copy)

    assert shares.withdraw_share(team.db, share_id, now=team.clock(), actor="eve") == ["lhcb-x"]
    assert publication_states(team, copy) == {"lhcb-x": "cancelled"}
    assert shares.list_shares(team.db)[0]["state"] == "withdrawn"


def test_a_share_cannot_be_withdrawn_once_the_copy_is_out(team: Runtime, clock: Clock) -> None:
    post_id = _create(team)
    signoff.approve(team.db, post_id, actor="eve", now=clock.now)
    share_id = shares.share(team.db, post_id, to_org="lhcb", now=clock.now, actor="eve", may_edit=True)
    copy = posts.adopt_share(
        team.db,
        team.settings,
        share_id,
        channels=["lhcb-x"],
        immediately=True,
        now=clock.now,
        actor="lea",
        text="Our take on the Higgs",
    )
    with pytest.raises(Refused, match="four eyes"):
        signoff.approve(team.db, copy, actor="lea", now=clock.now)
    people.set_role(team.db, user="luc", org="lhcb", role="editor", now=clock.now)
    signoff.approve(team.db, copy, actor="luc", now=clock.now)
    [claimed] = _claimed(team, clock, copy, hours=0)
    publications.publish(
        team.db, claimed, _token(team, claimed), team.adapters, settings=team.settings, clock=team.clock
    )
    with pytest.raises(StateConflict, match=r"out on lhcb-x \(published\)"):
        shares.withdraw_share(team.db, share_id, now=clock.now, actor="eve")


# -- languages ---------------------------------------------------------------------------------


def test_each_language_variant_needs_its_own_sign_off_and_is_what_its_channel_publishes(
    team: Runtime, clock: Clock
) -> None:
    post_id = _create(team, channels=("cms-x", "cms-es"), hours=1)
    signoff.approve(team.db, post_id, actor="eve", now=clock.now)
    # the English text never goes out on the Spanish channel: it waits for a Spanish variant
    assert publication_states(team, post_id) == {"cms-x": "scheduled", "cms-es": "awaiting_signoff"}
    assert "cms-es needs a Spanish (es) variant" in overview.review_view(team.db, post_id)["needs"]["cms-es"]
    assert posts.add_variant(
        team.db,
        team.settings,
        post_id,
        language="es",
        text="El bosón de Higgs, diez años después",
        now=clock.now,
        actor="ana",
    ) == ["cms-es"]
    assert publication_states(team, post_id) == {"cms-x": "scheduled", "cms-es": "awaiting_signoff"}
    signoff.approve(team.db, post_id, actor="pia", now=clock.now)
    assert publication_states(team, post_id) == {"cms-x": "scheduled", "cms-es": "scheduled"}
    variants = {row["variant"] for row in overview.signoff_record(team.db, post_id=post_id)}
    assert variants == {"base", "language es"}

    claimed = _claimed(team, clock, post_id, hours=1)
    with team.db.atomic_statements() as connection:
        texts = {}
        for publication_id in claimed:
            loaded = publications.load(connection, publication_id, team.settings)
            assert loaded is not None
            texts[loaded.channel.name] = loaded.content.text
    assert texts == {"cms-x": "Higgs boson, ten years on", "cms-es": "El bosón de Higgs, diez años después"}


# -- deadlines ---------------------------------------------------------------------------------


def test_a_missed_sign_off_deadline_is_warned_about_then_does_not_publish(team: Runtime, clock: Clock) -> None:
    post_id = _create(team, importance="major", hours=72)  # default: an approver, 24 h ahead
    overview.sweep_deadlines(team.db, now=clock.now)
    assert "approval.deadline_near" not in [e.kind for e in posts.read_events(team.db, post_id=post_id)]

    clock.advance(25 * 3600)  # 47 h before: the deadline (24 h before) is 23 h away, inside the 24 h warning
    overview.sweep_deadlines(team.db, now=clock.now)
    overview.sweep_deadlines(team.db, now=clock.now)
    kinds = [e.kind for e in posts.read_events(team.db, post_id=post_id)]
    assert kinds.count("approval.deadline_near") == 1

    clock.advance(23 * 3600)
    assert overview.sweep_deadlines(team.db, now=clock.now) != []
    assert publication_states(team, post_id) == {"cms-x": "needs_attention"}
    view = posts.show_post(team.db, post_id)
    assert "not signed off by its deadline" in view["publications"][0]["last_error"]
    assert "approval.missed" in [e.kind for e in posts.read_events(team.db, post_id=post_id)]
    with pytest.raises(StateConflict, match=r"nothing awaiting sign-off: cms-x is needs_attention \(reschedule with"):
        signoff.approve(team.db, post_id, actor="pia", now=clock.now)
    # rescheduled, it waits for the sign-off again, and goes out once signed
    later = (clock.now + timedelta(days=3)).isoformat()
    posts.edit_post(team.db, team.settings, post_id, at=later, now=clock.now, actor="ana")
    assert publication_states(team, post_id) == {"cms-x": "awaiting_signoff"}
    signoff.approve(team.db, post_id, actor="pia", now=clock.now)
    assert publication_states(team, post_id) == {"cms-x": "scheduled"}


def test_nobody_writes_in_someone_elses_name_to_get_around_four_eyes(team: Runtime) -> None:
    with pytest.raises(InvalidInput, match="--author 'ana' differs from --as 'eve'"):
        _create(team, actor="eve", author="ana")


# -- ways around the sign-off, closed ------------------------------------------------------------


def test_a_link_edit_needs_a_new_sign_off_on_channels_that_publish_a_variant(team: Runtime) -> None:
    post_id = _create(team, channels=("cms-x", "cms-es"))
    posts.add_variant(team.db, team.settings, post_id, language="es", text="El bosón", now=team.clock(), actor="ana")
    signoff.approve(team.db, post_id, actor="eve", now=team.clock())
    assert publication_states(team, post_id) == {"cms-x": "scheduled", "cms-es": "scheduled"}
    posts.edit_post(team.db, team.settings, post_id, link="https://example.org/x", now=team.clock(), actor="ana")
    assert publication_states(team, post_id) == {"cms-x": "awaiting_signoff", "cms-es": "awaiting_signoff"}


def test_trivial_edits_do_not_chain(team: Runtime) -> None:
    signoff.set_policy(
        team.db, org="cms", text="trivial_edit_chars = 2\n" + CUSTOM, source="cms.toml", now=team.clock()
    )
    post_id = _create(team, text="Higgs boson, ten years on")
    signoff.approve(team.db, post_id, actor="pia", now=team.clock())
    posts.edit_post(team.db, team.settings, post_id, text="Higgs boson, ten years o", now=team.clock(), actor="ana")
    assert publication_states(team, post_id) == {"cms-x": "scheduled"}  # carried once
    posts.edit_post(team.db, team.settings, post_id, text="Higgs boson, ten years ", now=team.clock(), actor="ana")
    assert publication_states(team, post_id) == {"cms-x": "awaiting_signoff"}


def test_whoever_edited_a_post_does_not_sign_it(team: Runtime) -> None:
    post_id = _create(team)
    posts.edit_post(team.db, team.settings, post_id, text="Rewritten by eve", now=team.clock(), actor="eve")
    with pytest.raises(Refused, match="does not let people sign what they wrote or edited"):
        signoff.approve(team.db, post_id, actor="eve", now=team.clock())
    signoff.approve(team.db, post_id, actor="pia", now=team.clock())
    assert publication_states(team, post_id) == {"cms-x": "scheduled"}


def test_a_partner_post_under_a_host_rule_needing_nobody_is_signed_by_a_host_editor(team: Runtime) -> None:
    signoff.set_policy(team.db, org="cms", text=CUSTOM, source="cms.toml", now=team.clock())
    post_id = _create(team, format="awareness_day", actor="luc", submit_to="cms")
    assert "1 editor or above of cms" in overview.review_view(team.db, post_id)["needs"]["cms-x"]
    with pytest.raises(Refused, match="ana is a contributor of cms"):
        signoff.approve(team.db, post_id, actor="ana", now=team.clock())
    signoff.approve(team.db, post_id, actor="eve", now=team.clock())
    assert publication_states(team, post_id) == {"cms-x": "scheduled"}


def test_a_policy_change_applies_to_posts_already_waiting_or_released(team: Runtime) -> None:
    waiting = _create(team, format="awareness_day")
    signed = _create(team, importance="major")
    signoff.approve(team.db, signed, actor="pia", now=team.clock())
    signoff.set_policy(team.db, org="cms", text=CUSTOM, source="cms.toml", now=team.clock())
    assert publication_states(team, waiting) == {"cms-x": "scheduled"}  # awareness days need nobody now
    assert publication_states(team, signed) == {"cms-x": "awaiting_signoff"}  # major now needs max
    assert _review(team, signed) == "submitted"


def test_a_withdrawn_shares_copy_never_publishes_even_when_retried(team: Runtime) -> None:
    post_id = _create(team)
    signoff.approve(team.db, post_id, actor="eve", now=team.clock())
    share_id = shares.share(team.db, post_id, to_org="lhcb", now=team.clock(), actor="eve")
    at = (team.clock() + timedelta(hours=30)).isoformat()
    copy = posts.adopt_share(
        team.db, team.settings, share_id, channels=["lhcb-x"], at=at, now=team.clock(), actor="luc"
    )
    signoff.approve(team.db, copy, actor="lea", now=team.clock())
    shares.withdraw_share(team.db, share_id, now=team.clock(), actor="eve")
    posts.retry_post(team.db, copy, now=team.clock(), actor="luc")
    assert publication_states(team, copy) == {"lhcb-x": "awaiting_signoff"}
    with pytest.raises(Refused, match="rule 'share withdrawn'"):
        signoff.approve(team.db, copy, actor="lea", now=team.clock())


def test_a_copy_shared_as_is_takes_no_variant_and_keeps_its_link(team: Runtime) -> None:
    post_id = _create(team, link="https://cms.cern/news")
    signoff.approve(team.db, post_id, actor="eve", now=team.clock())
    share_id = shares.share(team.db, post_id, to_org="lhcb", now=team.clock(), actor="eve")
    at = (team.clock() + timedelta(hours=30)).isoformat()
    copy = posts.adopt_share(
        team.db, team.settings, share_id, channels=["lhcb-x"], at=at, now=team.clock(), actor="luc"
    )
    with pytest.raises(Refused, match=r"rule 'shared as is'.*takes no variants"):
        posts.add_variant(team.db, team.settings, copy, channel="lhcb-x", text="Other", now=team.clock(), actor="luc")
    with pytest.raises(Refused, match=r"rule 'shared as is'.*title or link"):
        posts.edit_post(team.db, team.settings, copy, link="https://example.org", now=team.clock(), actor="luc")


def test_assigning_an_existing_channel_holds_what_waits_on_it(runtime: Runtime) -> None:
    posts.add_channel(runtime.db, runtime.settings, name="old-x", platform="x", dry_run=True, now=runtime.clock())
    at = (runtime.clock() + timedelta(hours=5)).isoformat()
    post_id = posts.create_post(runtime.db, runtime.settings, text="hi", channels=["old-x"], at=at, now=runtime.clock())
    draft = posts.create_post(
        runtime.db, runtime.settings, text="later", channels=["old-x"], at=at, now=runtime.clock(), draft=True
    )
    assert publication_states(runtime, post_id) == {"old-x": "scheduled"}
    assert publication_states(runtime, draft) == {"old-x": "awaiting_signoff"}  # a draft waits, even unowned
    people.add_org(runtime.db, name="cms", now=runtime.clock())
    assert posts.assign_channel(runtime.db, channel="old-x", org="cms", now=runtime.clock()) == [post_id, draft]
    assert publication_states(runtime, post_id) == {"old-x": "awaiting_signoff"}
    assert "channel.assigned" in [e.kind for e in posts.read_events(runtime.db)]
