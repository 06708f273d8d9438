"""Is a policy document well formed, within its size limit, and free of the classic condition holes?

Checks the grammar of IAM policies as SCPs and permissions boundaries accept it (no
`Principal`, a `Version`, alphanumeric unique `Sid`s), and for each statement:

- every condition key is carried by every action of the statement (`condition_keys`);
- the operator suits the key's type (ARN keys: `Arn*`/`String*`; `Bool` keys: `Bool`);
- a multi-valued key (`eks:kubernetesGroups`, `eks:namespaces`, `aws:TagKeys`) is qualified by
  `ForAnyValue:` and a single-valued key never is;
- no `ForAllValues:` in a `Deny`: it matches an absent key or an empty set, so it either denies
  every request without the key or lets a request through whose values only partly match;
- no `ForAnyValue:` with a negated operator (true as soon as one value differs: rarely meant);
- policy variables are only `${aws:PrincipalAccount}` and the escapes `${*}`, `${?}`, `${$}`.
"""

from __future__ import annotations

import json
import re
from typing import Any

from .condition_keys import key_of, supports

VERSION = "2012-10-17"
#: Condition operators this generator emits (each may take `IfExists` unless it is `Null`).
BASE_OPERATORS = frozenset(
    {"StringEquals", "StringNotEquals", "StringLike", "StringNotLike", "ArnLike", "ArnNotLike", "Bool", "Null"}
)
NEGATED_OPERATORS = frozenset({"StringNotEquals", "StringNotLike", "ArnNotLike"})
_VARIABLE = re.compile(r"\$\{([^}]*)\}")
_ALLOWED_VARIABLES = {"aws:PrincipalAccount", "*", "?", "$"}


def minified(document: dict[str, Any]) -> str:
    """The document as it is uploaded and counted: no whitespace outside strings."""
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False)


def parse_operator(name: str) -> tuple[str | None, str, bool]:
    """`ForAnyValue:StringLikeIfExists` -> ("ForAnyValue", "StringLike", True)."""
    qualifier, _, base = name.rpartition(":")
    if_exists = base.endswith("IfExists")
    if if_exists:
        base = base[: -len("IfExists")]
    return (qualifier or None), base, if_exists


def policy_problems(document: Any, *, limit: int) -> list[str]:
    """Everything wrong with `document` as a policy of at most `limit` characters; empty when it is fine."""
    if not isinstance(document, dict):
        return ["the document is not a JSON object"]
    problems = [f"unknown top-level element {key!r}" for key in document if key not in ("Version", "Statement")]
    if document.get("Version") != VERSION:
        problems.append(f"Version must be {VERSION!r}")
    statements = document.get("Statement")
    if not isinstance(statements, list) or not statements:
        return problems + ["Statement must be a non-empty list"]
    size = len(minified(document))
    if size > limit:
        problems.append(f"{size:,} characters minified, over the limit of {limit:,}")
    sids = [s.get("Sid") for s in statements if isinstance(s, dict) and "Sid" in s]
    problems += [f"Sid {sid!r} is used twice" for sid in sorted({s for s in sids if sids.count(s) > 1})]
    for index, statement in enumerate(statements):
        where = f"statement {index + 1}" + (f" ({statement.get('Sid')})" if isinstance(statement, dict) and statement.get("Sid") else "")
        problems += [f"{where}: {p}" for p in statement_problems(statement)]
    return problems


def statement_problems(statement: Any) -> list[str]:
    if not isinstance(statement, dict):
        return ["not a JSON object"]
    problems = [f"element {key!r} is not allowed here" for key in statement if key not in ("Sid", "Effect", "Action", "Resource", "Condition")]
    sid = statement.get("Sid")
    if sid is not None and not (isinstance(sid, str) and sid.isascii() and sid.isalnum()):
        problems.append(f"Sid {sid!r} must be letters and digits only")
    effect = statement.get("Effect")
    if effect not in ("Allow", "Deny"):
        problems.append(f"Effect must be Allow or Deny, not {effect!r}")
    actions = statement.get("Action")
    actions = [actions] if isinstance(actions, str) else actions
    if not isinstance(actions, list) or not actions or not all(isinstance(a, str) and (a == "*" or ":" in a) for a in actions):
        problems.append("Action must be '*' or service:Action names")
        actions = []
    if statement.get("Resource") not in ("*", ["*"]):
        problems.append("Resource must be '*'")
    condition = statement.get("Condition", {})
    if not isinstance(condition, dict):
        return problems + ["Condition must be a JSON object"]
    for operator, clauses in condition.items():
        problems += _operator_problems(operator, clauses, effect, actions)
    return problems


def _operator_problems(operator: str, clauses: Any, effect: Any, actions: list[str]) -> list[str]:
    qualifier, base, if_exists = parse_operator(operator)
    problems: list[str] = []
    if base not in BASE_OPERATORS or qualifier not in (None, "ForAnyValue", "ForAllValues") or (base == "Null" and (if_exists or qualifier)):
        return [f"unknown condition operator {operator!r}"]
    if qualifier == "ForAllValues" and effect == "Deny":
        problems.append(f"{operator} in a Deny matches an absent key or an empty set: use ForAnyValue")
    if qualifier == "ForAnyValue" and base in NEGATED_OPERATORS:
        problems.append(f"{operator} is true as soon as one value differs: not used here")
    if not isinstance(clauses, dict) or not clauses:
        return problems + [f"{operator} must map condition keys to values"]
    for key_name, values in clauses.items():
        values = [values] if isinstance(values, str) else values
        if not isinstance(values, list) or not values or not all(isinstance(v, str) for v in values):
            problems.append(f"{operator} {key_name}: values must be strings")
            continue
        key = key_of(key_name)
        if key is None:
            problems.append(f"unknown condition key {key_name!r}")
            continue
        for action in actions:
            if not supports(action, key_name):
                problems.append(f"{action} does not carry {key_name}")
        if base != "Null":
            problems += _type_problems(operator, qualifier, base, key_name, key.type, key.multi_valued)
            problems += _variable_problems(operator, key_name, values)
        elif any(v not in ("true", "false") for v in values):
            problems.append(f"Null {key_name}: value must be 'true' or 'false'")
    return problems


def _type_problems(operator: str, qualifier: str | None, base: str, key_name: str, key_type: str, multi: bool) -> list[str]:
    problems = []
    if multi and qualifier is None:
        problems.append(f"{key_name} is multi-valued: {operator} needs ForAnyValue:")
    if not multi and qualifier is not None:
        problems.append(f"{key_name} is single-valued: {operator} must not use {qualifier}:")
    family = "Bool" if base == "Bool" else "Arn" if base.startswith("Arn") else "String"
    allowed = {"ARN": {"Arn", "String"}, "String": {"String"}, "ArrayOfString": {"String"}, "Bool": {"Bool"}}[key_type]
    if family not in allowed:
        problems.append(f"{operator} does not suit {key_name} of type {key_type}")
    return problems


def _variable_problems(operator: str, key_name: str, values: list[str]) -> list[str]:
    return [
        f"{operator} {key_name}: unknown policy variable ${{{name}}}"
        for value in values
        for name in _VARIABLE.findall(value)
        if name not in _ALLOWED_VARIABLES
    ]
