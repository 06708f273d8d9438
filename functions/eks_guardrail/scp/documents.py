"""The statements laid out as policy documents within AWS's limits: SCPs, and a permissions boundary.

AWS limits (AWS Organizations and IAM quotas): an SCP holds at most 5,120 characters, and a
target (root, OU or account) at most 5 SCPs, FullAWSAccess included where it is attached to
that same target; a managed policy, which a permissions boundary is, at most 6,144
characters, and a role has one boundary. Documents are counted, written and uploaded minified.

The boundary is the same Deny statements, unsplit, after an Allow of everything (a boundary
only limits what identity policies allow), and without the excepted callers: it binds the
roles it is attached to, and the guardrail's roles and break-glass principals are not to
carry it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..config import OrgRules
from .errors import ScpError
from .grammar import VERSION, minified, policy_problems
from .split import split_statement
from .statements import Guard, Statement, guards_for

SCP_CHARACTERS = 5_120
SCPS_PER_TARGET = 5
BOUNDARY_CHARACTERS = 6_144
DOCUMENT_OVERHEAD = len(minified({"Version": VERSION, "Statement": []}))
#: A boundary allows what the identity policies allow, except what its Deny statements deny.
ALLOW_ALL: Statement = {"Sid": "AllowWhatIdentityPoliciesAllow", "Effect": "Allow", "Action": "*", "Resource": "*"}


@dataclass(frozen=True)
class Placed:
    """A statement as written (`Sid` included), with the guard it came from."""

    guard: Guard
    statement: Statement


@dataclass(frozen=True)
class Policy:
    name: str
    placed: tuple[Placed, ...]
    document: dict[str, Any]

    @property
    def text(self) -> str:
        return minified(self.document)

    @property
    def characters(self) -> int:
        return len(self.text)


@dataclass(frozen=True)
class PolicySet:
    scps: tuple[Policy, ...]
    boundary: Policy | None


def build_policy_set(org: OrgRules, *, boundary: bool = False) -> PolicySet:
    """The SCPs for the org rules (and the boundary); ScpError when they do not fit AWS's limits."""
    guards = guards_for(org)
    placed = _name_statements([(guard, part) for guard in guards for part in _fitting_parts(guard)])
    scps = tuple(_document(f"scp-{n}", group) for n, group in enumerate(_pack(placed), start=1))
    if len(scps) > SCPS_PER_TARGET:
        raise ScpError(_too_many(scps, placed))
    for scp in scps:
        _check(scp, SCP_CHARACTERS)
    return PolicySet(scps, _boundary(guards) if boundary else None)


def _fits_scp(statement: Statement, rule_id: str) -> bool:
    named = {"Sid": _sid(rule_id, 999), **statement}
    return len(minified(named)) + DOCUMENT_OVERHEAD <= SCP_CHARACTERS


def _fitting_parts(guard: Guard) -> list[Statement]:
    if _fits_scp(guard.statement, guard.rule_id):
        return [guard.statement]
    size = len(minified(guard.statement))
    if guard.split_on is None:
        raise ScpError(
            f"{guard.rule_id}: its statement ({guard.summary}) takes {size:,} characters, more than an SCP holds "
            f"({SCP_CHARACTERS:,}), and cannot be split (the excepted callers, for one, appear in every statement)"
        )
    operator, key = guard.split_on
    try:
        return split_statement(guard.statement, operator, key, lambda s: _fits_scp(s, guard.rule_id))
    except ScpError as error:
        raise ScpError(f"{guard.rule_id}: its statement ({guard.summary}) takes {size:,} characters and {error}") from None


def _sid(rule_id: str, number: int) -> str:
    return "".join(part.capitalize() for part in rule_id.split("-")) + str(number)


def _name_statements(parts: list[tuple[Guard, Statement]]) -> list[Placed]:
    counts: dict[str, int] = {}
    placed = []
    for guard, statement in parts:
        counts[guard.rule_id] = counts.get(guard.rule_id, 0) + 1
        placed.append(Placed(guard, {"Sid": _sid(guard.rule_id, counts[guard.rule_id]), **statement}))
    return placed


def _pack(placed: list[Placed]) -> list[list[Placed]]:
    """First fit, largest first; each document keeps the rules' order."""
    order = {id(p): index for index, p in enumerate(placed)}
    bins: list[list[Placed]] = []
    sizes: list[int] = []
    for item in sorted(placed, key=lambda p: -len(minified(p.statement))):
        size = len(minified(item.statement)) + 1  # and its comma
        for index, used in enumerate(sizes):
            if used + size <= SCP_CHARACTERS:
                bins[index].append(item)
                sizes[index] += size
                break
        else:
            bins.append([item])
            sizes.append(DOCUMENT_OVERHEAD + size - 1)
    bins = [sorted(group, key=lambda p: order[id(p)]) for group in bins]
    return sorted(bins, key=lambda group: order[id(group[0])])


def _document(name: str, group: list[Placed]) -> Policy:
    return Policy(name, tuple(group), {"Version": VERSION, "Statement": [p.statement for p in group]})


def _boundary(guards: list[Guard]) -> Policy:
    """The Deny statements without the excepted callers: a boundary binds only the roles it is attached to,
    and the guardrail's roles and the exempt principals are not to carry it."""
    placed = _name_statements([(guard, _without_callers(guard.statement)) for guard in guards])
    policy = Policy("boundary", tuple(placed), {"Version": VERSION, "Statement": [ALLOW_ALL] + [p.statement for p in placed]})
    if policy.characters > BOUNDARY_CHARACTERS:
        raise ScpError(
            f"the permissions boundary takes {policy.characters:,} characters, more than a managed policy holds "
            f"({BOUNDARY_CHARACTERS:,}), and a role has one boundary: {_by_rule(placed)}"
        )
    _check(policy, BOUNDARY_CHARACTERS)
    return policy


def _without_callers(statement: Statement) -> Statement:
    condition = {op: {k: v for k, v in keys.items() if k != "aws:PrincipalArn"} for op, keys in statement["Condition"].items()}
    return {**statement, "Condition": {op: keys for op, keys in condition.items() if keys}}


def _check(policy: Policy, limit: int) -> None:
    problems = policy_problems(policy.document, limit=limit)
    if problems:  # a bug of this generator, never the user's
        raise AssertionError(f"{policy.name} is not a valid policy: " + "; ".join(problems))


def _too_many(scps: tuple[Policy, ...], placed: list[Placed]) -> str:
    return (
        f"the rules need {len(scps)} SCPs, more than the {SCPS_PER_TARGET} a target can have "
        f"(each at most {SCP_CHARACTERS:,} characters): {_by_rule(placed)}"
    )


def _by_rule(placed: list[Placed]) -> str:
    totals: dict[str, list[int]] = {}
    for p in placed:
        entry = totals.setdefault(p.guard.rule_id, [0, 0])
        entry[0] += len(minified(p.statement))
        entry[1] += 1
    ranked = sorted(totals.items(), key=lambda item: -item[1][0])
    return ", ".join(f"{rule} {chars:,} characters in {n} statement(s)" for rule, (chars, n) in ranked)
