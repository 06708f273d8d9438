"""A small evaluator of IAM policies, for exactly what `eks-guardrail scp` writes; AWS's rules as documented.

No maintained Python library evaluates IAM conditions faithfully here: policy_sentry and
iam-floyd write policies, parliament and iam-policy-validator lint them, and npkt (an SCP
simulator on PyPI) treats an absent key under a negated operator as false and matches with
fnmatch (`[...]` classes), both unlike IAM. So this file implements the IAM User Guide's rules
("IAM JSON policy elements: Condition operators", "Conditions with multiple context keys or
values", "Single-valued vs. multivalued context keys", "Policy evaluation logic", "SCP
evaluation"), and test_policy_eval.py checks it against them:

- an explicit Deny in any statement of any policy wins; else an Allow is needed (for SCPs,
  `FullAWSAccess` gives it everywhere); else the request is implicitly denied;
- condition operators are ANDed, the keys of one operator ANDed, the values of one key ORed
  (NOR for negated operators);
- a key absent from the request: false, except for negated operators (true), `...IfExists`
  (true) and `Null` (which tests exactly that);
- `ForAnyValue:` is true when some value of the request's set satisfies the operator, false
  for an absent key or empty set; `ForAllValues:` true when every value does, *true* for an
  absent key or empty set;
- `*Like`: `*` any run of characters, `?` one; `${*}`, `${?}`, `${$}` are literal characters;
  `${aws:PrincipalAccount}` is the request's value; `ArnLike` matches each of the six
  colon-separated parts of the ARN on its own (`*` never spans a colon);
- condition keys are case-insensitive, values case-sensitive; action names case-insensitive.
"""

from __future__ import annotations

import re
from typing import Any, Literal

Decision = Literal["Allow", "Deny", "ImplicitDeny"]

FULL_AWS_ACCESS = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
NEGATED = {"StringNotEquals", "StringNotLike", "ArnNotLike"}
_TOKEN = re.compile(r"\$\{([^}]*)\}|\*|\?|.", re.DOTALL)


def decide(policies: list[dict[str, Any]], action: str, context: dict[str, Any]) -> Decision:
    """The decision of a set of policies (all of one kind, e.g. the SCPs of one target) for a request."""
    allowed = False
    for policy in policies:
        statements = policy["Statement"]
        for statement in [statements] if isinstance(statements, dict) else statements:
            if not statement_applies(statement, action, context):
                continue
            if statement["Effect"] == "Deny":
                return "Deny"
            allowed = True
    return "Allow" if allowed else "ImplicitDeny"


def scp_allows(scps: list[dict[str, Any]], action: str, context: dict[str, Any]) -> bool:
    """Whether the SCPs of a target, beside FullAWSAccess, let the request through."""
    return decide([FULL_AWS_ACCESS, *scps], action, context) == "Allow"


def statement_applies(statement: dict[str, Any], action: str, context: dict[str, Any]) -> bool:
    actions = statement["Action"]
    actions = [actions] if isinstance(actions, str) else actions
    if not any(_glob_match(_tokens(a.lower(), context), action.lower()) for a in actions):
        return False
    if statement.get("Resource") not in ("*", ["*"]):
        raise NotImplementedError("only Resource '*' is evaluated here")
    return all(
        condition_matches(operator, key, values, context)
        for operator, clauses in statement.get("Condition", {}).items()
        for key, values in clauses.items()
    )


def condition_matches(operator: str, key: str, values: Any, context: dict[str, Any]) -> bool:
    qualifier, _, base = operator.rpartition(":")
    if_exists = base.endswith("IfExists")
    base = base[: -len("IfExists")] if if_exists else base
    values = [values] if isinstance(values, (str, bool)) else list(values)
    present, value = _lookup(context, key)
    if base == "Null":
        return (not present) == (str(values[0]).lower() == "true")
    if not present:
        if qualifier == "ForAllValues":
            return True
        if qualifier == "ForAnyValue":
            return if_exists
        return if_exists or base in NEGATED
    if qualifier:
        members = value if isinstance(value, list) else [value]
        results = [_single(base, member, values, context) for member in members]
        return all(results) if qualifier == "ForAllValues" else any(results)
    if isinstance(value, list):
        raise ValueError(f"{key} is multi-valued: {operator} needs ForAnyValue: or ForAllValues:")
    return _single(base, value, values, context)


def _lookup(context: dict[str, Any], key: str) -> tuple[bool, Any]:
    for name, value in context.items():
        if name.lower() == key.lower():
            return True, value
    return False, None


def _single(base: str, value: Any, patterns: list[Any], context: dict[str, Any]) -> bool:
    negated = base in NEGATED
    positive = base.replace("Not", "", 1) if negated else base
    if positive == "Bool":
        matched = any(str(value).lower() == str(p).lower() for p in patterns)
    elif positive == "StringEquals":
        matched = any(value == _text(p, context) for p in patterns)
    elif positive == "StringLike":
        matched = any(_glob_match(_tokens(p, context), value) for p in patterns)
    elif positive == "ArnLike":
        matched = any(_arn_like(p, value, context) for p in patterns)
    else:
        raise NotImplementedError(f"operator {base}")
    return not matched if negated else matched


def _tokens(pattern: str, context: dict[str, Any]) -> list[tuple[str, str]]:
    """("lit", text) | ("any", "") | ("one", ""): variables and escapes resolved to literal text."""
    tokens = []
    for match in _TOKEN.finditer(pattern):
        text, variable = match.group(0), match.group(1)
        if variable is not None:
            if variable in ("*", "?", "$"):
                tokens.append(("lit", variable))
            else:
                present, value = _lookup(context, variable)
                if not present:
                    raise KeyError(f"policy variable ${{{variable}}} is not in the request")
                tokens.append(("lit", str(value)))
        elif text == "*":
            tokens.append(("any", ""))
        elif text == "?":
            tokens.append(("one", ""))
        else:
            tokens.append(("sep" if text == ":" else "lit", text))
    return tokens


def _glob_match(tokens: list[tuple[str, str]], value: str) -> bool:
    body = "".join(".*" if kind == "any" else "." if kind == "one" else re.escape(text) for kind, text in tokens)
    return re.fullmatch(body, value, re.DOTALL) is not None


def _text(pattern: str, context: dict[str, Any]) -> str:
    return "".join(":" if kind == "sep" else text if kind == "lit" else "*" if kind == "any" else "?" for kind, text in _tokens(pattern, context))


def _arn_like(pattern: str, value: str, context: dict[str, Any]) -> bool:
    tokens = _tokens(pattern, context)
    parts: list[list[tuple[str, str]]] = [[]]
    for kind, text in tokens:
        if kind == "sep" and len(parts) < 6:
            parts.append([])
        else:
            parts[-1].append((kind, text))
    values = value.split(":", 5)
    if len(parts) != 6 or len(values) != 6:
        return False
    return all(_glob_match(part, text) for part, text in zip(parts, values))
