"""Approval policies: who must sign off a post, how many people, and by when.

Each organisation (the host collaboration or a partner) keeps one policy, stored as data. A post has an
*importance* (routine, notable, major, ...) and a *format* (social, video, physics_result, ...); the first rule
of the policy that matches the pair decides:

* who may sign off: ``roles`` (that role or any higher one, in the order of ``ROLES``) and/or named ``users``;
* how many distinct people must: ``required`` (0 = no sign-off needed);
* by when: ``deadline_hours`` before the publication time.

The file format (TOML, or JSON for what the database stores) is documented in ``docs/policy.md``. Everything
read from outside goes through ``parse_policy`` or ``policy_from_document``, which refuse a bad policy with
``InvalidInput`` and one readable line per problem, naming the rule by number and name, the field, the bad
value and what is allowed. Constructing ``Rule`` or ``Policy`` directly runs the same checks but raises
pydantic's ``ValidationError``.

Pure domain code: no database, no broker, no HTTP.
"""

from __future__ import annotations

import difflib
import json
import math
import re
import tomllib
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError, ValidationInfo, field_validator, model_validator
from pydantic_core import PydanticCustomError

from scheduler.documents import MAX_NESTING, nesting
from scheduler.editorial.roles import ROLES
from scheduler.errors import InvalidInput

_RULE_KEYS = ("name", "importance", "format", "roles", "users", "required", "deadline_hours")
_POLICY_KEYS = ("importances", "formats", "trivial_edit_chars", "allow_self_signoff", "deadline_warning_hours")

# The kinds of errors our validators raise (pydantic_core.PydanticCustomError types), each rendered differently:
_FIELD = "policy_field"  # "<where>: <field> = <value>: <problem>"
_RULE = "policy_rule"  # "rule N 'name' <problem>" (the problem reads on from the rule's name)
_WHOLE = "policy"  # "<problem>", already complete (may span lines, one problem each)


def parse_role(role: str) -> str:
    """``role`` in lower case, if it is one of ``ROLES``; otherwise InvalidInput listing them."""
    normalised = role.strip().lower()
    if normalised not in ROLES:
        raise InvalidInput(
            f"unknown role {role!r}{_did_you_mean(normalised, ROLES)}; roles, lowest first: {', '.join(ROLES)}"
        )
    return normalised


def role_rank(role: str) -> int:
    """The position of ``role`` in ``ROLES`` (contributor 0 ... admin 3); InvalidInput for an unknown role."""
    return ROLES.index(parse_role(role))


def _show(value: Any) -> str:
    """A value as it would be written in the policy file (JSON and TOML agree on these), shortened;
    a character that cannot be printed (a lone surrogate) is shown escaped."""
    try:
        shown = json.dumps(value, ensure_ascii=False, default=str)
    except (ValueError, RecursionError):  # circular or too deep; a parsed file is neither (MAX_NESTING)
        shown = repr(value)
    shown = shown.encode("utf-8", "backslashreplace").decode("utf-8")
    return shown if len(shown) <= 80 else shown[:77] + "..."


_MAX_NAME = 200
_SURROGATE = re.compile(r"[\ud800-\udfff]")


def _plain(value: str, what: str) -> str:
    """``value`` if it is a name that can be stored and printed: Unicode text (a JSON escape such as
    \\ud800 gives a lone surrogate, which no file, database or terminal takes), of a sensible length."""
    bad = _SURROGATE.search(value)
    if bad is not None:
        raise _field_error(value, f"{what} holds a lone surrogate (not Unicode text) at position {bad.start() + 1}")
    if len(value) > _MAX_NAME:
        raise _field_error(value, f"{what} is {len(value)} characters; keep it under {_MAX_NAME}")
    return value


def _did_you_mean(value: str, choices: tuple[str, ...] | list[str]) -> str:
    close = difflib.get_close_matches(value, list(choices), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _field_error(value: Any, problem: str) -> PydanticCustomError:
    return PydanticCustomError(_FIELD, "{value}: {problem}", {"value": _show(value), "problem": problem})


def _names(value: Any, field: str, *, star: bool) -> Any:
    """Validate a list of names (importances, formats, users); ``star`` allows the single string "*"."""
    if star and value == "*":
        return "*"
    if star and isinstance(value, str):
        value = [value]  # importance = "major" means ["major"]
    if not isinstance(value, list):
        allowed = '"*" (any) or a list of names, such as ["major"]' if star else 'a list of names, such as ["a", "b"]'
        raise _field_error(value, f"must be {allowed}")
    if star and not value:
        raise _field_error(value, f'the list is empty, so the rule would never match; write {field} = "*" for any')
    cleaned: list[str] = []
    for item in value:
        if not isinstance(item, str) or not item.strip():
            raise _field_error(value, f"{_show(item)} is not a name: each item must be non-empty text in quotes")
        name = _plain(item.strip(), "a name")
        if name == "*":
            hint = f'; write {field} = "*" (without brackets) for any' if star else ""
            raise _field_error(value, f'"*" cannot be used as a name{hint}')
        if name in cleaned:
            raise _field_error(value, f"{name!r} is listed twice")
        cleaned.append(name)
    return cleaned


def _number(value: Any, *, at_least: float, at_most: float, meaning: str) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        raise _field_error(value, f"must be a finite number; {meaning}")
    if isinstance(value, int | float) and not isinstance(value, bool) and value < at_least:
        raise _field_error(value, f"must be {at_least:g} or more; {meaning}")
    if isinstance(value, int | float) and not isinstance(value, bool) and value > at_most:
        limit = f"{int(at_most):,}" if float(at_most).is_integer() else f"{at_most:g}"
        raise _field_error(value, f"must be {limit} or less; {meaning}")
    return value


_HOURS = 366 * 24  # deadlines and warnings: at most a year (longer ones overflowed date arithmetic)


class Rule(BaseModel):
    """One rule: which posts it matches and who must sign them off, how many, and by when."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True, validate_default=True)

    name: str
    importance: list[str] | Literal["*"] = "*"
    format: list[str] | Literal["*"] = "*"
    roles: list[str] = []  # that role or any higher one may sign
    users: list[str] = []  # named people who may sign
    required: int = 1  # distinct signers needed; 0 = no sign-off
    deadline_hours: float = 0  # sign-off must be in this many hours before the publication time

    @field_validator("name", mode="after")
    @classmethod
    def _name(cls, value: str) -> str:
        if not value.strip():
            raise _field_error(value, "the name is empty; give every rule a short name people will recognise")
        return _plain(value.strip(), "the name")

    @field_validator("importance", "format", mode="before")
    @classmethod
    def _kinds(cls, value: Any, info: ValidationInfo) -> Any:
        return _names(value, str(info.field_name), star=True)

    @field_validator("users", mode="before")
    @classmethod
    def _users(cls, value: Any) -> Any:
        return _names(value, "users", star=False)

    @field_validator("roles", mode="after")
    @classmethod
    def _roles(cls, value: list[str]) -> list[str]:
        roles: list[str] = []
        for role in value:
            try:
                normalised = parse_role(role)
            except InvalidInput as refused:
                raise _field_error(value, str(refused)) from None
            if normalised in roles:
                raise _field_error(value, f"{normalised!r} is listed twice")
            roles.append(normalised)
        return roles

    @field_validator("required", mode="after")
    @classmethod
    def _required(cls, value: int) -> int:
        return int(
            _number(value, at_least=0, at_most=100, meaning="it is how many people must sign, 0 for no sign-off")
        )

    @field_validator("deadline_hours", mode="after")
    @classmethod
    def _deadline(cls, value: float) -> float:
        meaning = "it is how many hours before publication the sign-off is due"
        return float(_number(value, at_least=0, at_most=_HOURS, meaning=meaning))

    @model_validator(mode="after")
    def _signers(self) -> Rule:
        if self.required == 0:
            return self
        signers = "1 signer" if self.required == 1 else f"{self.required} signers"
        if not self.roles and not self.users:
            problem = (
                f'needs {signers} but names no roles and no users; add roles = ["editor"] (or another role) '
                "or users = [...], or set required = 0 for no sign-off"
            )
            raise PydanticCustomError(_RULE, "rule '{rule}' {problem}", {"rule": self.name, "problem": problem})
        if not self.roles and self.required > len(self.users):
            people = "1 person" if len(self.users) == 1 else f"{len(self.users)} people"
            problem = (
                f"needs {signers} but names only {people} ({', '.join(self.users)}); "
                "lower required, name more users, or add roles"
            )
            raise PydanticCustomError(_RULE, "rule '{rule}' {problem}", {"rule": self.name, "problem": problem})
        return self

    def matches(self, importance: str, format: str) -> bool:
        """Whether this rule applies to a post of this importance and format."""
        return (self.importance == "*" or importance in self.importance) and (
            self.format == "*" or format in self.format
        )

    def qualifies(self, *, user: str, role: str | None) -> bool:
        """Whether ``user``, who holds ``role`` in the organisation (None: not a member), may sign under this rule.

        The author's own signature is a policy matter (``Policy.allow_self_signoff``), not the rule's.
        """
        if user in self.users:
            return True
        if role is None or not self.roles:
            return False
        return role_rank(role) >= self._lowest_rank()

    def describe_signers(self) -> str:
        """Who must sign, for people: "1 editor or above", "any 2 of alice, bob, carol", "no sign-off"."""
        n = self.required
        if n == 0:
            return "no sign-off"
        users = ", ".join(self.users)
        if not self.roles:
            if len(self.users) == 1:
                return self.users[0]
            return f"all {n} of {users}" if n == len(self.users) else f"any {n} of {users}"
        role = ROLES[self._lowest_rank()]
        if not self.users:
            return f"1 {role} or above" if n == 1 else f"{n} {role}s or above"
        named = self.users[0] if len(self.users) == 1 else f"one of {users}"
        if n == 1:
            return f"1 {role} or above, or {named}"
        article = "an" if role[0] in "aeiou" else "a"
        return f"{n} signers, each {article} {role} or above or {named}"

    def _lowest_rank(self) -> int:
        return min(ROLES.index(role) for role in self.roles)


class Policy(BaseModel):
    """An organisation's approval policy: declared importances and formats, and the rules, first match wins."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True, validate_default=True)

    importances: list[str] = ["routine", "notable", "major"]
    formats: list[str] = ["social", "video", "physics_result", "press_release", "awareness_day"]
    # An edit changing at most this many characters of the text of an approved, not yet published post keeps its
    # sign-off; 0 = every edit needs a new one.
    trivial_edit_chars: int = 0
    allow_self_signoff: bool = False  # may the author sign their own post (four-eyes principle by default)
    deadline_warning_hours: float = 24  # "deadline near" this long before a sign-off deadline
    rules: list[Rule]  # in the TOML file the table array is called [[rule]]

    @field_validator("importances", "formats", mode="before")
    @classmethod
    def _declared(cls, value: Any, info: ValidationInfo) -> Any:
        names = _names(value, str(info.field_name), star=False)
        if not names:
            raise _field_error(value, "the list is empty; declare at least one name")
        return names

    @field_validator("trivial_edit_chars", mode="after")
    @classmethod
    def _trivial(cls, value: int) -> int:
        meaning = "an edit changing at most this many characters keeps the sign-off, 0 = every edit needs a new one"
        return int(_number(value, at_least=0, at_most=1_000_000, meaning=meaning))

    @field_validator("deadline_warning_hours", mode="after")
    @classmethod
    def _warning(cls, value: float) -> float:
        meaning = "it is how long before a sign-off deadline to warn"
        return float(_number(value, at_least=0, at_most=_HOURS, meaning=meaning))

    @model_validator(mode="after")
    def _consistent(self) -> Policy:
        problems = self._naming_problems()
        if not problems:
            problems = self._matching_problems()
        if problems:
            raise PydanticCustomError(_WHOLE, "{problem}", {"problem": "\n".join(problems)})
        return self

    def _naming_problems(self) -> list[str]:
        if not self.rules:
            return ['no rules: add at least one [[rule]], ending with a catch-all (importance = "*", format = "*")']
        problems: list[str] = []
        seen: dict[str, int] = {}
        for number, rule in enumerate(self.rules, start=1):
            for field, declared in (("importance", self.importances), ("format", self.formats)):
                names = getattr(rule, field)
                for name in [] if names == "*" else names:
                    if name not in declared:
                        problems.append(
                            f"rule {number} {rule.name!r}: {field} = {_show(names)}: {name!r} is not declared"
                            f"{_did_you_mean(name, declared)}; declared {field}s: {', '.join(declared)} "
                            f"(add it to {field}s, or fix the spelling)"
                        )
            key = rule.name.casefold()
            if key in seen:
                first = seen[key]
                problems.append(
                    f"rule {number} {rule.name!r} has the same name as rule {first} "
                    f"{self.rules[first - 1].name!r}; rule names must be unique"
                )
            else:
                seen[key] = number
        return problems

    def _matching_problems(self) -> list[str]:
        problems: list[str] = []
        owner: dict[tuple[str, str], int] = {}  # (importance, format) -> number of the first rule matching it
        for number, rule in enumerate(self.rules, start=1):
            cells = [(i, f) for i in self.importances for f in self.formats if rule.matches(i, f)]
            earlier = sorted({owner[cell] for cell in cells if cell in owner})
            if all(cell in owner for cell in cells):
                names = " and ".join(f"rule {n} {self.rules[n - 1].name!r}" for n in earlier)
                problems.append(
                    f"rule {number} {rule.name!r} can never match: {names} already "
                    f"cover{'s' if len(earlier) == 1 else ''} everything it matches; move it higher, "
                    f"narrow {'that rule' if len(earlier) == 1 else 'those rules'}, or remove it"
                )
            for cell in cells:
                owner.setdefault(cell, number)
        missing = [(i, f) for i in self.importances for f in self.formats if (i, f) not in owner]
        if missing:
            shown = ", ".join(f"({i}, {f})" for i, f in missing[:5])
            more = f" and {len(missing) - 5} more" if len(missing) > 5 else ""
            problems.append(
                f'no rule covers {shown}{more}; add a catch-all rule with importance = "*" and format = "*" '
                "as the last rule"
            )
        return problems

    def check_kind(self, importance: str, format: str) -> None:
        """InvalidInput unless this policy declares ``importance`` and ``format``, naming the allowed ones."""
        if importance not in self.importances:
            raise InvalidInput(
                f"unknown importance {importance!r}{_did_you_mean(importance, self.importances)}; "
                f"this policy declares: {', '.join(self.importances)}"
            )
        if format not in self.formats:
            raise InvalidInput(
                f"unknown format {format!r}{_did_you_mean(format, self.formats)}; "
                f"this policy declares: {', '.join(self.formats)}"
            )

    def rule_for(self, importance: str, format: str) -> Rule:
        """The first rule matching a post of this importance and format."""
        self.check_kind(importance, format)
        for rule in self.rules:
            if rule.matches(importance, format):
                return rule
        # a validated policy covers every declared pair; only a policy built with model_construct gets here
        raise InvalidInput(f"no rule covers ({importance}, {format})")

    def to_document(self) -> dict[str, Any]:
        """The policy as JSON-serialisable data, as the database stores it (``policy_from_document`` reads it)."""
        return self.model_dump(mode="json")


DEFAULT_POLICY = Policy(
    rules=[
        Rule(name="major: an approver", importance=["major"], roles=["approver"], required=1, deadline_hours=24),
        Rule(
            name="press releases and results: an approver",
            format=["press_release", "physics_result"],
            roles=["approver"],
            required=1,
            deadline_hours=24,
        ),
        Rule(name="everything else: an editor", roles=["editor"], required=1),
    ]
)


# --- reading policies -------------------------------------------------------------------------------------------

_TOML_POSITION = re.compile(r"^(?P<message>.*?)\s*\(at (?P<where>line (?P<line>\d+), column \d+|end of document)\)$")


def parse_policy(text: str, *, source: str = "policy") -> Policy:
    """A policy from the text of a policy file: TOML, or JSON if it starts with "{".

    ``source`` (a file name, say) starts every line of the InvalidInput message.
    """
    if text.lstrip("\ufeff \t\r\n").startswith("{"):
        try:
            data = json.loads(text.lstrip("\ufeff"))
        except json.JSONDecodeError as bad:
            raise InvalidInput(f"{source}: line {bad.lineno}, column {bad.colno}: not valid JSON: {bad.msg}") from None
        except RecursionError:
            raise InvalidInput(f"{source}: nested too deeply to be a policy") from None
        return _validate(data, source=source, toml=False)
    try:
        data = tomllib.loads(text.lstrip("\ufeff"))
    except RecursionError:
        raise InvalidInput(f"{source}: nested too deeply to be a policy") from None
    except tomllib.TOMLDecodeError as bad:
        found = _TOML_POSITION.match(str(bad))
        if found is None:
            raise InvalidInput(f"{source}: not valid TOML: {bad}") from None
        raise InvalidInput(f"{source}: {found['where']}: not valid TOML: {found['message']}") from None
    return _validate(data, source=source, toml=True)


def policy_from_document(document: dict[str, Any]) -> Policy:
    """A policy from what ``Policy.to_document`` gave (the database's copy); the same checks as ``parse_policy``."""
    return _validate(document, source="stored policy", toml=False)


def _validate(data: Any, *, source: str, toml: bool) -> Policy:
    if nesting(data) > MAX_NESTING:
        raise InvalidInput(f"{source}: nested more than {MAX_NESTING} levels deep; a policy needs 4 at most")
    if not isinstance(data, dict):
        raise InvalidInput(f"{source}: a policy must be a table (a JSON object), not {_show(data)}")
    data = dict(data)
    if toml:
        if "rules" in data:
            raise InvalidInput(f"{source}: unknown key 'rules'; write each rule as a [[rule]] table")
        if "rule" in data:
            data["rules"] = data.pop("rule")
    elif "rule" in data:
        if "rules" in data:
            raise InvalidInput(f'{source}: both "rule" and "rules" are given; put all rules in one of them')
        data["rules"] = data.pop("rule")
    try:
        return Policy.model_validate(data)
    except ValidationError as refused:
        lines = [line for error in refused.errors() for line in _explain(error, data, toml=toml)]
        raise InvalidInput("\n".join(f"{source}: {line}" for line in lines)) from None


def _explain(error: Any, data: dict[str, Any], *, toml: bool) -> list[str]:
    """One pydantic error as readable lines (one, unless a policy-wide check found several problems)."""
    loc: tuple[Any, ...] = tuple(error["loc"])
    kind: str = error["type"]
    ctx: dict[str, Any] = error.get("ctx") or {}
    rules_key = "rule" if toml else "rules"
    if kind == _WHOLE:
        return str(ctx["problem"]).splitlines()

    keys: tuple[str, ...] = (*_POLICY_KEYS, rules_key)
    where, path = "", list(loc)
    if loc[:1] == ("rules",) and len(loc) >= 2 and isinstance(loc[1], int):
        number, path, keys = loc[1] + 1, list(loc[2:]), _RULE_KEYS
        raw_rules = data.get("rules")
        raw = raw_rules[loc[1]] if isinstance(raw_rules, list) and loc[1] < len(raw_rules) else None
        name = raw.get("name") if isinstance(raw, dict) else None
        where = f"rule {number} {name.strip()!r}" if isinstance(name, str) and name.strip() else f"rule {number}"
    elif loc[:1] == ("rules",):
        path = [rules_key, *loc[1:]]
    if kind == _RULE:
        return [f"{where} {ctx['problem']}"]
    prefix = f"{where}: " if where else ""
    if not path:  # the rule itself is not a table
        table = "a [[rule]] table" if toml else "an object"
        return [f"{prefix}must be {table} with name, roles, required, ..., not {_show(error['input'])}"]
    field = str(path[0])
    label = field + "".join(f" item {step + 1}" if isinstance(step, int) else f".{step}" for step in path[1:])
    if kind == "extra_forbidden":
        return [f"{prefix}unknown key {field!r}{_did_you_mean(field, keys)}; allowed keys: {', '.join(keys)}"]
    if kind == "missing":
        if path == [rules_key]:
            return ['no rules: add at least one [[rule]], ending with a catch-all (importance = "*", format = "*")']
        return [f"{prefix}{field} is missing" + ("; every rule needs a name" if field == "name" else "")]
    if kind == _FIELD:
        return [f"{prefix}{label} = {ctx['value']}: {ctx['problem']}"]
    if kind == "list_type" and path == [rules_key] and toml:
        return [f"{label} = {_show(error['input'])}: write the rules as [[rule]] tables, with double brackets"]
    expected = _EXPECTED.get(kind)
    if expected is None:
        return [f"{prefix}{label} = {_show(error['input'])}: {error['msg']}"]
    return [f"{prefix}{label} = {_show(error['input'])}: must be {expected}, not {_kind_of(error['input'])}"]


_EXPECTED = {
    "int_type": "a whole number",
    "float_type": "a number",
    "bool_type": "true or false",
    "string_type": "text in quotes",
    "list_type": 'a list, such as ["a", "b"]',
    "literal_error": '"*"',
    "model_type": "a table (an object)",
    "dict_type": "a table (an object)",
}


def _kind_of(value: Any) -> str:
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, int):
        return "a whole number"
    if isinstance(value, float):
        return "a number with a fraction"
    if isinstance(value, str):
        return "text"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a table"
    return type(value).__name__


# --- writing policies -------------------------------------------------------------------------------------------


def _toml_str(text: str) -> str:
    out = ['"']
    for char in text:
        if char in '"\\':
            out.append("\\" + char)
        elif char == "\n":
            out.append("\\n")
        elif char == "\t":
            out.append("\\t")
        elif ord(char) < 0x20 or ord(char) == 0x7F:
            out.append(f"\\u{ord(char):04x}")
        else:
            out.append(char)
    out.append('"')
    return "".join(out)


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)
    if isinstance(value, str):
        return _toml_str(value)
    return "[" + ", ".join(_toml_value(item) for item in value) + "]"


def policy_as_toml(policy: Policy) -> str:
    """The policy as a readable TOML file, which ``parse_policy`` reads back to an equal policy."""
    lines = [
        "# crosspost approval policy (see docs/policy.md); check a file with `crosspost policy check FILE`",
        "",
        f"importances = {_toml_value(policy.importances)}",
        f"formats = {_toml_value(policy.formats)}",
        f"trivial_edit_chars = {_toml_value(policy.trivial_edit_chars)}"
        + ("  # every edit needs a new sign-off" if policy.trivial_edit_chars == 0 else ""),
        f"allow_self_signoff = {_toml_value(policy.allow_self_signoff)}",
        f"deadline_warning_hours = {_toml_value(policy.deadline_warning_hours)}",
        "",
        "# The first rule matching a post's (importance, format) decides; a role means that role or a higher one.",
    ]
    for number, rule in enumerate(policy.rules, start=1):
        due = f", {_toml_value(rule.deadline_hours)} h before publication" if rule.deadline_hours else ""
        lines += [
            "",
            f"# rule {number}: {rule.describe_signers()}{due}",
            "[[rule]]",
            f"name = {_toml_value(rule.name)}",
            f"importance = {_toml_value(rule.importance)}",
            f"format = {_toml_value(rule.format)}",
            f"roles = {_toml_value(rule.roles)}",
            f"users = {_toml_value(rule.users)}",
            f"required = {_toml_value(rule.required)}",
            f"deadline_hours = {_toml_value(rule.deadline_hours)}",
        ]
    return "\n".join(lines) + "\n"


# --- edits ------------------------------------------------------------------------------------------------------


def characters_changed(old: str, new: str, *, at_most: int | None = None) -> int:
    """How many characters an edit from ``old`` to ``new`` inserted, deleted or replaced.

    A replacement of a stretch counts the longer of its two sides, so fixing one typo counts 1 and swapping two
    letters counts 2; the stretches are paired up the way that counts least (this is the Levenshtein distance).
    A rewrite counts at most the length of the longer text.

    The work is linear in the texts for a bounded count: the common start and end are skipped (slice comparisons),
    then the changes are found diagonal by diagonal, furthest first (Ukkonen; Landau and Vishkin), in about
    n + d * d steps for a count of d. With ``at_most``, the search stops there and returns ``at_most + 1`` for any
    larger count, so two long, unrelated texts cost ``at_most`` squared, not their lengths multiplied.
    """
    old, new = _changed_region(old, new)
    ceiling = max(len(old), len(new))  # replacing everything
    bound = ceiling if at_most is None else min(ceiling, max(at_most, 0) + 1)
    if abs(len(old) - len(new)) >= bound:
        return min(abs(len(old) - len(new)), bound)
    return _levenshtein(old, new, bound)


def _changed_region(old: str, new: str) -> tuple[str, str]:
    """``old`` and ``new`` without the start and the end they have in common."""
    start = _common_run(old, 0, new, 0)
    end = _common_run(old[::-1], 0, new[::-1], 0, limit=min(len(old), len(new)) - start)
    return old[start : len(old) - end], new[start : len(new) - end]


def _common_run(a: str, i: int, b: str, j: int, *, limit: int | None = None) -> int:
    """How many characters ``a[i:]`` and ``b[j:]`` have in common at their start, by galloping over slices."""
    most = min(len(a) - i, len(b) - j) if limit is None else limit
    low, step = 0, 16
    while low < most:
        high = min(most, low + step)
        if a[i + low : i + high] == b[j + low : j + high]:
            low, step = high, step * 2
            continue
        while high - low > 1:  # the first difference lies in [low, high)
            middle = (low + high) // 2
            if a[i + low : i + middle] == b[j + low : j + middle]:
                low = middle
            else:
                high = middle
        return low
    return most


def _levenshtein(a: str, b: str, bound: int) -> int:
    """The edit distance of ``a`` and ``b`` if it is below ``bound``, else ``bound``.

    ``reach[k]`` is the furthest row (characters of ``a`` used) reached on diagonal ``k - bound`` (column minus
    row) with ``d`` edits; each round extends every diagonal by one edit, then slides along equal characters.
    """
    rows, columns = len(a), len(b)
    goal = columns - rows
    unreached = -(2**62)
    reach = [unreached] * (2 * bound + 3)
    for d in range(bound):
        following = [unreached] * (2 * bound + 3)
        for k in range(max(-d, -rows), min(d, columns) + 1):
            at = k + bound + 1
            if d == 0:
                row = 0
            else:
                # replace (same diagonal), delete from a (from the diagonal to the right), insert (from the left)
                row = max(reach[at] + 1, reach[at + 1] + 1, reach[at - 1])
                if row < 0:
                    continue
            row = min(row, rows, columns - k)
            if row + k < 0:
                row = -k
            if row < rows and row + k < columns:
                row += _common_run(a, row, b, row + k)
            following[at] = row
            if k == goal and row >= rows:
                return d
        reach = following
    return bound


# Trivial edits are counted up to this many characters (the count's work grows with its square: 250 is about
# 0.1 s). A policy allowing more still keeps the sign-off of an edit confined to at most that many characters
# (from its first change to its last), however they pair up.
TRIVIAL_EDIT_COUNTED = 250


def is_trivial_edit(old: str, new: str, *, limit: int) -> bool:
    """Whether an edit is small enough (at most ``limit`` characters changed) to keep the post's sign-off."""
    if limit <= 0 or abs(len(old) - len(new)) > limit:
        return False
    counted = min(limit, TRIVIAL_EDIT_COUNTED)
    if characters_changed(old, new, at_most=counted) <= counted:
        return True
    return limit > counted and max(map(len, _changed_region(old, new))) <= limit
