from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from scheduler.editorial.policy import (
    DEFAULT_POLICY,
    ROLES,
    Policy,
    Rule,
    characters_changed,
    is_trivial_edit,
    parse_policy,
    parse_role,
    policy_as_toml,
    policy_from_document,
    role_rank,
)
from scheduler.errors import InvalidInput

DOCS = Path(__file__).resolve().parents[2] / "docs" / "policy.md"

MAJOR = "major: an approver"
PRESS = "press releases and results: an approver"
ELSE = "everything else: an editor"

# A partner's policy: physics results need any 2 of 3 named coordinators, press releases an approver or the
# spokesperson, routine awareness-day posts no sign-off at all.
CUSTOM_TOML = """
importances = ["routine", "notable", "major"]
formats = ["social", "video", "physics_result", "press_release", "awareness_day"]
trivial_edit_chars = 10
allow_self_signoff = true
deadline_warning_hours = 6.5

[[rule]]
name = "physics results: two coordinators"
format = ["physics_result"]
users = ["alice", "bob", "carol"]
required = 2
deadline_hours = 48

[[rule]]
name = "press releases: an approver or the spokesperson"
format = ["press_release"]
roles = ["Approver"]
users = ["dana"]
deadline_hours = 24

[[rule]]
name = "awareness days: no sign-off"
importance = "routine"
format = ["awareness_day"]
required = 0

[[rule]]
name = "the rest: an editor"
roles = ["editor"]
"""

# The smallest valid policy; the validation cases below add one mistake each.
CATCH_ALL = '[[rule]]\nname = "all"\nroles = ["editor"]\n'


def custom_policy() -> Policy:
    return parse_policy(CUSTOM_TOML, source="partner.toml")


# --- roles ------------------------------------------------------------------------------------------------------


def test_roles_rank_in_ascending_order_and_normalise() -> None:
    assert [role_rank(role) for role in ROLES] == [0, 1, 2, 3]
    assert parse_role(" Editor ") == "editor"
    assert role_rank("ADMIN") == 3


def test_an_unknown_role_is_refused_listing_the_roles() -> None:
    with pytest.raises(InvalidInput, match=r"unknown role 'editr' \(did you mean 'editor'\?\).*contributor, editor"):
        role_rank("editr")
    with pytest.raises(InvalidInput, match="approver, admin"):
        parse_role("owner")


# --- the default policy -----------------------------------------------------------------------------------------

DEFAULT_OUTCOMES = [
    # importance, format, the rule that decides, the roles that may sign
    ("routine", "social", ELSE, {"editor", "approver", "admin"}),
    ("routine", "video", ELSE, {"editor", "approver", "admin"}),
    ("routine", "press_release", PRESS, {"approver", "admin"}),
    ("notable", "social", ELSE, {"editor", "approver", "admin"}),
    ("notable", "video", ELSE, {"editor", "approver", "admin"}),
    ("notable", "press_release", PRESS, {"approver", "admin"}),
    ("major", "social", MAJOR, {"approver", "admin"}),
    ("major", "video", MAJOR, {"approver", "admin"}),
    ("major", "press_release", MAJOR, {"approver", "admin"}),
]


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize(("importance", "post_format", "rule_name", "signers"), DEFAULT_OUTCOMES)
def test_default_policy_decides_by_first_match_and_role_or_above(
    importance: str, post_format: str, rule_name: str, signers: set[str], role: str
) -> None:
    rule = DEFAULT_POLICY.rule_for(importance, post_format)
    assert rule.name == rule_name
    assert rule.required == 1
    assert rule.qualifies(user="someone", role=role) is (role in signers)


@pytest.mark.parametrize(
    ("importance", "post_format", "rule_name", "deadline"),
    [
        ("routine", "physics_result", PRESS, 24),
        ("notable", "awareness_day", ELSE, 0),
        ("major", "awareness_day", MAJOR, 24),
    ],
)
def test_default_policy_deadlines(importance: str, post_format: str, rule_name: str, deadline: float) -> None:
    rule = DEFAULT_POLICY.rule_for(importance, post_format)
    assert (rule.name, rule.deadline_hours) == (rule_name, deadline)


def test_default_policy_settings() -> None:
    assert DEFAULT_POLICY.importances == ["routine", "notable", "major"]
    assert DEFAULT_POLICY.formats == ["social", "video", "physics_result", "press_release", "awareness_day"]
    assert DEFAULT_POLICY.trivial_edit_chars == 0
    assert DEFAULT_POLICY.allow_self_signoff is False
    assert DEFAULT_POLICY.deadline_warning_hours == 24
    assert [rule.name for rule in DEFAULT_POLICY.rules] == [MAJOR, PRESS, ELSE]


def test_a_non_member_qualifies_only_when_named() -> None:
    rule = Rule(name="r", roles=["contributor"], users=["alice"])
    assert rule.qualifies(user="alice", role=None)
    assert not rule.qualifies(user="bob", role=None)
    assert rule.qualifies(user="bob", role="contributor")


@pytest.mark.parametrize(
    ("importance", "post_format", "match"),
    [
        ("urgent", "social", r"unknown importance 'urgent'; this policy declares: routine, notable, major"),
        ("major", "podcast", r"unknown format 'podcast'; this policy declares: social, video, physics_result"),
        ("major", "Video", r"unknown format 'Video' \(did you mean 'video'\?\)"),
    ],
)
def test_undeclared_kinds_are_refused_listing_the_declared_ones(importance: str, post_format: str, match: str) -> None:
    with pytest.raises(InvalidInput, match=match):
        DEFAULT_POLICY.check_kind(importance, post_format)
    with pytest.raises(InvalidInput, match=match):
        DEFAULT_POLICY.rule_for(importance, post_format)


# --- a custom policy --------------------------------------------------------------------------------------------


def test_custom_policy_any_two_of_three_named_people() -> None:
    policy = custom_policy()
    rule = policy.rule_for("major", "physics_result")
    assert rule.required == 2
    assert rule.deadline_hours == 48
    assert rule.describe_signers() == "any 2 of alice, bob, carol"
    assert rule.qualifies(user="alice", role=None)
    assert rule.qualifies(user="carol", role="contributor")
    # no role is enough: only the named coordinators
    assert not rule.qualifies(user="erin", role="admin")


def test_custom_policy_roles_and_named_people_together() -> None:
    policy = custom_policy()
    rule = policy.rule_for("routine", "press_release")
    assert rule.roles == ["approver"]  # normalised from "Approver"
    assert rule.describe_signers() == "1 approver or above, or dana"
    assert rule.qualifies(user="dana", role=None)
    assert rule.qualifies(user="erin", role="admin")
    assert not rule.qualifies(user="erin", role="editor")


def test_custom_policy_no_sign_off_and_catch_all() -> None:
    policy = custom_policy()
    assert policy.rule_for("routine", "awareness_day").describe_signers() == "no sign-off"
    assert policy.rule_for("notable", "awareness_day").name == "the rest: an editor"
    assert policy.rule_for("routine", "awareness_day").importance == ["routine"]  # a single name becomes a list
    assert policy.trivial_edit_chars == 10
    assert policy.allow_self_signoff is True
    assert policy.deadline_warning_hours == 6.5


@pytest.mark.parametrize(
    ("rule", "described"),
    [
        (Rule(name="r", roles=["editor"]), "1 editor or above"),
        (Rule(name="r", roles=["admin", "approver"], required=2), "2 approvers or above"),
        (Rule(name="r", users=["alice", "bob", "carol"], required=2), "any 2 of alice, bob, carol"),
        (Rule(name="r", users=["alice", "bob"], required=1), "any 1 of alice, bob"),
        (Rule(name="r", users=["alice", "bob"], required=2), "all 2 of alice, bob"),
        (Rule(name="r", users=["alice"]), "alice"),
        (Rule(name="r", roles=["approver"], users=["alice"]), "1 approver or above, or alice"),
        (Rule(name="r", roles=["editor"], users=["alice", "bob"], required=2), "2 signers, each an editor or above"),
        (Rule(name="r", required=0), "no sign-off"),
    ],
)
def test_describe_signers(rule: Rule, described: str) -> None:
    assert rule.describe_signers().startswith(described)


# --- reading and validation -------------------------------------------------------------------------------------


def test_json_policies_take_rule_or_rules() -> None:
    document = DEFAULT_POLICY.to_document()
    assert parse_policy(json.dumps(document)) == DEFAULT_POLICY
    document["rule"] = document.pop("rules")
    assert parse_policy(json.dumps(document, indent=2)) == DEFAULT_POLICY


def test_the_stored_document_reads_back_equal() -> None:
    for policy in (DEFAULT_POLICY, custom_policy()):
        document = json.loads(json.dumps(policy.to_document()))
        assert policy_from_document(document) == policy


def test_a_bad_stored_document_is_refused_the_same_way() -> None:
    document = DEFAULT_POLICY.to_document()
    document["rules"][2]["roles"] = ["boss"]
    with pytest.raises(
        InvalidInput, match=r"^stored policy: rule 3 'everything else: an editor': roles = \[\"boss\"\]"
    ):
        policy_from_document(document)


VALIDATION_ERRORS = [
    pytest.param('importances = ["routine"\n' + CATCH_ALL, r"^p\.toml: line 2, column 1: not valid TOML", id="toml"),
    pytest.param('{\n"rules": [,]}', r"^p\.toml: line 2, column 11: not valid JSON", id="json-syntax"),
    pytest.param(
        CATCH_ALL + "requried = 2\n",
        r"^p\.toml: rule 1 'all': unknown key 'requried' \(did you mean 'required'\?\); allowed keys: name, importance",
        id="unknown-key",
    ),
    pytest.param(
        "trivial_edits = 5\n" + CATCH_ALL,
        r"^p\.toml: unknown key 'trivial_edits' \(did you mean 'trivial_edit_chars'\?\)",
        id="unknown-top-level-key",
    ),
    pytest.param(
        CATCH_ALL + 'required = "2"\n',
        r"^p\.toml: rule 1 'all': required = \"2\": must be a whole number, not text$",
        id="text-for-number",
    ),
    pytest.param(
        CATCH_ALL + "required = 1.5\n",
        r"rule 1 'all': required = 1\.5: must be a whole number, not a number with a fraction",
        id="fraction-for-whole-number",
    ),
    pytest.param(
        '[[rule]]\nname = "all"\nroles = "editor"\n',
        r"rule 1 'all': roles = \"editor\": must be a list",
        id="text-for-list",
    ),
    pytest.param(
        "allow_self_signoff = 1\n" + CATCH_ALL,
        r"^p\.toml: allow_self_signoff = 1: must be true or false",
        id="number-for-bool",
    ),
    pytest.param('[rule]\nname = "all"\n', r"write the rules as \[\[rule\]\] tables", id="single-brackets"),
    pytest.param('[[rules]]\nname = "all"\n', r"unknown key 'rules'; write each rule as a \[\[rule\]\]", id="rules"),
    pytest.param("trivial_edit_chars = 3\n", r"^p\.toml: no rules: add at least one \[\[rule\]\]", id="no-rules"),
    pytest.param('{"rules": []}', r"^p\.toml: no rules", id="empty-rules"),
    pytest.param('{"rule": [], "rules": []}', r"both \"rule\" and \"rules\" are given", id="rule-and-rules"),
    pytest.param(
        CATCH_ALL.replace('"all"', '"Major"') + '[[rule]]\nname = "major"\nroles = ["admin"]\n',
        r"^p\.toml: rule 2 'major' has the same name as rule 1 'Major'; rule names must be unique",
        id="duplicate-name",
    ),
    pytest.param(
        CATCH_ALL.replace('"all"', '"  "'),
        r"^p\.toml: rule 1: name = \"  \": the name is empty",
        id="empty-name",
    ),
    pytest.param('[[rule]]\nroles = ["editor"]\n', r"^p\.toml: rule 1: name is missing", id="no-name"),
    pytest.param(
        '[[rule]]\nname = "big"\nimportance = ["majr"]\nroles = ["admin"]\n' + CATCH_ALL,
        r"^p\.toml: rule 1 'big': importance = \[\"majr\"\]: 'majr' is not declared \(did you mean 'major'\?\); "
        r"declared importances: routine, notable, major",
        id="undeclared-importance",
    ),
    pytest.param(
        'formats = ["social"]\n[[rule]]\nname = "films"\nformat = ["video"]\nroles = ["admin"]\n' + CATCH_ALL,
        r"rule 1 'films': format = \[\"video\"\]: 'video' is not declared; declared formats: social",
        id="undeclared-format",
    ),
    pytest.param(
        '[[rule]]\nname = "all"\nroles = ["boss"]\n',
        r"^p\.toml: rule 1 'all': roles = \[\"boss\"\]: unknown role 'boss'; roles, lowest first: "
        r"contributor, editor, approver, admin$",
        id="unknown-role",
    ),
    pytest.param(
        '[[rule]]\nname = "all"\nrequired = 1\n',
        r"^p\.toml: rule 1 'all' needs 1 signer but names no roles and no users",
        id="no-signers",
    ),
    pytest.param(
        '[[rule]]\nname = "video"\nformat = ["video"]\nroles = ["admin"]\n'
        '[[rule]]\nname = "x"\nusers = ["alice", "bob"]\nrequired = 3\n',
        r"^p\.toml: rule 2 'x' needs 3 signers but names only 2 people \(alice, bob\)",
        id="too-few-people",
    ),
    pytest.param(
        CATCH_ALL + "required = -1\n",
        r"rule 1 'all': required = -1: must be 0 or more",
        id="negative-required",
    ),
    pytest.param(
        CATCH_ALL + "deadline_hours = -2\n",
        r"rule 1 'all': deadline_hours = -2(\.0)?: must be 0 or more",
        id="negative-deadline",
    ),
    pytest.param(
        CATCH_ALL + "deadline_hours = inf\n",
        r"rule 1 'all': deadline_hours = Infinity: must be a finite number",
        id="infinite-deadline",
    ),
    pytest.param(
        "trivial_edit_chars = -1\n" + CATCH_ALL,
        r"^p\.toml: trivial_edit_chars = -1: must be 0 or more",
        id="negative-trivial-edit",
    ),
    pytest.param(
        "deadline_warning_hours = -3\n" + CATCH_ALL,
        r"^p\.toml: deadline_warning_hours = -3(\.0)?: must be 0 or more",
        id="negative-warning",
    ),
    pytest.param(
        'importances = ["notable", "notable"]\n' + CATCH_ALL,
        r"^p\.toml: importances = \[\"notable\", \"notable\"\]: 'notable' is listed twice",
        id="declared-twice",
    ),
    pytest.param(
        CATCH_ALL.replace('"all"', '"video"') + 'format = ["video"]\n',
        r"^p\.toml: no rule covers \(routine, social\), .* and 7 more; add a catch-all rule with "
        r"importance = \"\*\" and format = \"\*\"",
        id="uncovered",
    ),
    pytest.param(
        'importances = ["notable"]\nformats = ["social", "video"]\n'
        '[[rule]]\nname = "social"\nformat = ["social"]\nroles = ["editor"]\n',
        r"^p\.toml: no rule covers \(notable, video\); add a catch-all rule with importance = \"\*\" and "
        r"format = \"\*\"",
        id="uncovered-one",
    ),
    pytest.param(
        CATCH_ALL + '[[rule]]\nname = "major"\nimportance = ["major"]\nroles = ["admin"]\n',
        r"^p\.toml: rule 2 'major' can never match: rule 1 'all' already covers everything it matches",
        id="shadowed",
    ),
    pytest.param(
        '[[rule]]\nname = "major"\nimportance = ["major"]\nroles = ["admin"]\n'
        '[[rule]]\nname = "minor"\nimportance = ["routine", "notable"]\nroles = ["editor"]\n'
        '[[rule]]\nname = "video"\nformat = ["video"]\nroles = ["approver"]\n',
        r"rule 3 'video' can never match: rule 1 'major' and rule 2 'minor' already cover everything it matches",
        id="shadowed-by-two",
    ),
    pytest.param(
        '[[rule]]\nname = "none"\nimportance = []\nroles = ["admin"]\n' + CATCH_ALL,
        r"rule 1 'none': importance = \[\]: the list is empty, so the rule would never match",
        id="empty-importance",
    ),
    pytest.param(
        '[[rule]]\nname = "all"\nformat = ["*"]\nroles = ["admin"]\n',
        r"format = \[\"\*\"\]: \"\*\" cannot be used as a name; write format = \"\*\" \(without brackets\)",
        id="star-in-brackets",
    ),
    pytest.param(
        '[[rule]]\nname = "all"\nusers = ["alice", "alice"]\n',
        r"rule 1 'all': users = \[\"alice\", \"alice\"\]: 'alice' is listed twice",
        id="person-twice",
    ),
    pytest.param('{"rules": [3]}', r"^p\.toml: rule 1: must be an object", id="rule-not-a-table"),
]


@pytest.mark.parametrize(("text", "match"), VALIDATION_ERRORS)
def test_a_bad_policy_is_refused_with_a_readable_message(text: str, match: str) -> None:
    with pytest.raises(InvalidInput, match=match) as refused:
        parse_policy(text, source="p.toml")
    message = str(refused.value)
    assert "pydantic" not in message
    assert "Input should be" not in message
    assert all(line.startswith("p.toml: ") for line in message.splitlines())


def test_several_problems_are_one_line_each() -> None:
    text = CATCH_ALL + "required = -1\ndeadline_hours = -2\n" + '[[rule]]\nname = "b"\nrequried = 1\n'
    with pytest.raises(InvalidInput) as refused:
        parse_policy(text, source="p.toml")
    lines = str(refused.value).splitlines()
    assert len(lines) == 3
    assert lines[0].startswith("p.toml: rule 1 'all': required = -1")
    assert lines[1].startswith("p.toml: rule 1 'all': deadline_hours = -2")
    assert lines[2].startswith("p.toml: rule 2 'b': unknown key 'requried'")


def test_the_source_defaults_to_policy() -> None:
    with pytest.raises(InvalidInput, match=r"^policy: no rules"):
        parse_policy("")


def test_policies_are_frozen() -> None:
    with pytest.raises(ValidationError):
        DEFAULT_POLICY.trivial_edit_chars = 5  # type: ignore[misc]


# --- writing ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("policy", [DEFAULT_POLICY, custom_policy()], ids=["default", "custom"])
def test_toml_rendering_reads_back_equal(policy: Policy) -> None:
    text = policy_as_toml(policy)
    assert "[[rule]]" in text
    assert parse_policy(text) == policy
    assert policy_as_toml(parse_policy(text)) == text


def test_toml_rendering_escapes_awkward_names() -> None:
    policy = Policy(
        importances=['quote "q"', "back\\slash", "tab\there"],
        formats=["ünïcödé", "del\x7f"],
        deadline_warning_hours=0.25,
        rules=[Rule(name='the "only" rule\n', users=["o'brien"], required=1, deadline_hours=1e-3)],
    )
    assert parse_policy(policy_as_toml(policy)) == policy


def test_the_example_in_the_docs_is_a_valid_policy() -> None:
    blocks = re.findall(r"```toml\n(.*?)```", DOCS.read_text(encoding="utf-8"), flags=re.DOTALL)
    assert len(blocks) >= 2  # the full example and the default policy
    example = parse_policy(blocks[0], source="docs example")
    assert example.rule_for("major", "physics_result").describe_signers().startswith("any 2 of")
    assert "awareness_day" in example.formats
    assert parse_policy(blocks[1], source="docs default") == DEFAULT_POLICY


# --- edits ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("old", "new", "changed"),
    [
        ("", "", 0),
        ("same text", "same text", 0),
        ("", "hello", 5),
        ("hello", "", 5),
        ("First collisions at 13.6 TeV", "First collisions at 13.6 TeV!", 1),  # appended
        ("The detecter is ready", "The detector is ready", 1),  # one letter replaced
        ("Higgs bsoon", "Higgs boson", 2),  # two letters swapped
        ("Watch live at 10:00 CET", "Watch live at 11:30 CET", 2),
        # a rewrite counts nearly everything: 36 of 44 (the letters the two share, in order, pair up), never more
        ("Join us at CERN today", "Tomorrow: the full results, live from Geneva", 36),
    ],
)
def test_characters_changed(old: str, new: str, changed: int) -> None:
    assert characters_changed(old, new) == changed


def test_a_rewrite_counts_large_even_in_a_long_text() -> None:
    old = "The collaboration presents new results on the Higgs boson. " * 10
    new = "Today the detector recorded its billionth collision event!! " * 10
    assert characters_changed(old, new) > len(old) // 2
    assert characters_changed(old, old.replace("Higgs", "higgs", 1)) == 1


@pytest.mark.parametrize(
    ("old", "new", "limit", "trivial"),
    [
        ("The detecter is ready", "The detector is ready", 3, True),
        ("The detecter is ready", "The detector is ready", 0, False),  # 0: every edit needs a new sign-off
        ("same", "same", 0, False),
        ("same", "same", 1, True),
        ("Higgs bsoon", "Higgs boson", 2, True),
        ("Higgs bsoon", "Higgs boson", 1, False),
        ("short", "a much longer text than before", 10, False),
        ("", "", 5, True),
    ],
)
def test_is_trivial_edit(old: str, new: str, limit: int, trivial: bool) -> None:
    assert is_trivial_edit(old, new, limit=limit) is trivial


def _edit_distance(old: str, new: str) -> int:
    """The textbook dynamic programme, to check the fast count against."""
    previous = list(range(len(new) + 1))
    for i, a in enumerate(old, start=1):
        current = [i] + [0] * len(new)
        for j, b in enumerate(new, start=1):
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a != b))
        previous = current
    return previous[-1]


_EDIT_TEXT = st.text(alphabet="abcé ", max_size=14)


@settings(max_examples=300, deadline=None)
@given(old=_EDIT_TEXT, new=_EDIT_TEXT, at_most=st.integers(min_value=0, max_value=10))
def test_characters_changed_is_the_least_count_of_any_pairing(old: str, new: str, at_most: int) -> None:
    exact = _edit_distance(old, new)
    assert characters_changed(old, new) == exact
    assert characters_changed(old, new, at_most=at_most) == (exact if exact <= at_most else at_most + 1)
    assert is_trivial_edit(old, new, limit=at_most) is (at_most > 0 and exact <= at_most)


def test_comparing_long_texts_is_bounded_by_the_allowance_not_by_the_texts() -> None:
    """Issue 11, finding 5: difflib's matcher took 50 s on a 24,000-character text (quadratic, in the
    write transaction). The count skips the common start and end, then stops at the allowance."""
    old = "The collaboration presents new results on the Higgs boson. " * 400
    typo = old.replace("Higgs", "Higgs!", 1).replace("boson. T", "bosun. T", 1)
    assert characters_changed(old, typo, at_most=10) == 2
    assert is_trivial_edit(old, typo, limit=3)
    rewrite = "b" * len(old)  # nothing in common, same length: every diagonal is tried, up to the allowance
    assert characters_changed(old, rewrite, at_most=100) == 101
    assert not is_trivial_edit(old, rewrite, limit=1000)  # counted up to TRIVIAL_EDIT_COUNTED, spread over 23,600
    assert is_trivial_edit(old, rewrite, limit=len(old))  # an allowance of the whole text allows anything
    spread = "x" + old[1:-1] + "y"  # two letters changed, 24,000 apart
    assert is_trivial_edit(old, spread, limit=2)
    confined = old[:1000] + "z" * 400 + old[1400:]  # 400 characters replaced in one stretch
    assert is_trivial_edit(old, confined, limit=400)
    assert not is_trivial_edit(old, confined, limit=399)
