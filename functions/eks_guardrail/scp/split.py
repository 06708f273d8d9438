"""Spread a statement whose list of values is too long for one SCP over several statements that mean the same.

A positive list (`ArnLike`, `StringLike`, `ForAnyValue:StringLike`: deny if *any* value
matches) splits into chunks: a Deny per chunk denies exactly what the whole list did.

A negated list (`ArnNotLike` on an allow-list: deny unless the principal is listed) must not
be chunked: "deny unless in chunk 1" *or* "deny unless in chunk 2" denies everyone. It is
split by **cells** instead, disjoint sets of principal ARNs that together cover them all,
told apart by how the ARN ends:

- a cell is a set of endings (`StringLike` `*min`, `*ops`): its statement denies a principal
  of the cell unless one of the allow patterns that can match such an ARN lists it;
- the last cell is every ARN with none of those endings (`StringNotLike` on all of them),
  with the allow patterns whose matches can end otherwise (those ending in `*`).

An allow pattern goes to every cell it may reach, judged by its literal ending (the text
after its last wildcard): a principal of a cell ending `s` that matches a pattern ending `t`
ends with both, so one ending is an ending of the other. Listing a pattern in more cells
than it reaches is harmless; leaving it out of one it reaches would deny its principals.
"""

from __future__ import annotations

import copy
from typing import Callable

from .errors import ScpError
from .patterns import like_literal
from .statements import Statement

CELL_OPERATOR, REST_OPERATOR = "StringLike", "StringNotLike"


def split_statement(statement: Statement, operator: str, key: str, fits: Callable[[Statement], bool]) -> list[Statement]:
    """Statements, each one `fits`, that together deny what `statement` denies."""
    if fits(statement):
        return [statement]
    values = _values(statement, operator, key)
    negated = "Not" in operator
    parts = _cells(statement, operator, key, values, fits) if negated else _chunks(statement, operator, key, values, fits)
    for part in parts:
        if not fits(part):
            raise ScpError(f"{operator} {key}: a part of {len(values)} values still does not fit")
    return parts


def _values(statement: Statement, operator: str, key: str) -> list[str]:
    values = statement["Condition"][operator][key]
    return [values] if isinstance(values, str) else list(values)


def with_values(statement: Statement, operator: str, key: str, values: list[str]) -> Statement:
    """A copy of `statement` with `values` for `key` (an empty list drops the key, and an emptied operator)."""
    result = copy.deepcopy(statement)
    block = result["Condition"][operator]
    if values:
        block[key] = values[0] if len(values) == 1 else list(values)
    else:
        del block[key]
        if not block:
            del result["Condition"][operator]
    return result


def _chunks(statement: Statement, operator: str, key: str, values: list[str], fits: Callable[[Statement], bool]) -> list[Statement]:
    parts: list[Statement] = []
    chunk: list[str] = []
    for value in values:
        if chunk and not fits(with_values(statement, operator, key, chunk + [value])):
            parts.append(with_values(statement, operator, key, chunk))
            chunk = []
        chunk.append(value)
    parts.append(with_values(statement, operator, key, chunk))
    return parts


def literal_ending(pattern: str) -> str:
    """The text after the last wildcard: every ARN the pattern matches ends with it."""
    last = max(pattern.rfind("*"), pattern.rfind("?"))
    return pattern[last + 1 :]


def may_reach(pattern: str, ending: str) -> bool:
    """Whether `pattern` may match an ARN ending with `ending`."""
    literal = literal_ending(pattern)
    return literal.endswith(ending) or ending.endswith(literal)


def _cells(statement: Statement, operator: str, key: str, values: list[str], fits: Callable[[Statement], bool]) -> list[Statement]:
    for clash in (CELL_OPERATOR, REST_OPERATOR):
        if key in statement["Condition"].get(clash, {}):
            raise ScpError(f"{key} is already used with {clash}: the statement cannot be split by cells")

    def cell(endings: list[str], allow: list[str]) -> Statement:
        part = with_values(statement, operator, key, allow)
        part["Condition"].setdefault(CELL_OPERATOR, {})[key] = _one_or_list(["*" + like_literal(e) for e in endings])
        return part

    leaves = _leaf_endings(values, lambda ending, allow: fits(cell([ending], allow)))
    parts: list[Statement] = []
    group: list[str] = []
    allow: list[str] = []
    for ending in sorted(leaves, key=lambda e: e[::-1]):
        merged = _unique(allow + leaves[ending])
        if group and not fits(cell(group + [ending], merged)):
            parts.append(cell(group, allow))
            group, merged = [], leaves[ending]
        group.append(ending)
        allow = merged
    if group:
        parts.append(cell(group, allow))
    rest_allow = [v for v in values if not any(literal_ending(v).endswith(e) for e in leaves)]
    rest = with_values(statement, operator, key, rest_allow)
    rest["Condition"].setdefault(REST_OPERATOR, {})[key] = _one_or_list(["*" + like_literal(e) for e in sorted(leaves)])
    return parts + [rest]


def _leaf_endings(values: list[str], fits: Callable[[str, list[str]], bool]) -> dict[str, list[str]]:
    """Endings, none an ending of another, each with the allow patterns that may reach it, each small enough."""
    leaves: dict[str, list[str]] = {"": list(values)}
    while True:
        too_big = [ending for ending, allow in leaves.items() if not fits(ending, allow)]
        if not too_big:
            break
        ending = max(too_big, key=lambda e: len(leaves[e]))
        allow = leaves.pop(ending)
        longer = sorted({literal_ending(v)[-len(ending) - 1] for v in allow if len(literal_ending(v)) > len(ending)})
        if not longer:
            raise ScpError(
                f"{len(allow)} allow-list patterns ending in a wildcard (…{ending}) cannot be split over several statements"
            )
        for char in longer:
            child = char + ending
            leaves[child] = [v for v in allow if may_reach(v, child)]
    if "" in leaves:  # the whole list fits as one cell, so the statement fitted: not called for it
        raise ScpError("the statement fits as it is: nothing to split")
    return leaves


def _one_or_list(values: list[str]) -> str | list[str]:
    return values[0] if len(values) == 1 else values


def _unique(values: list[str]) -> list[str]:
    return list(dict.fromkeys(values))
