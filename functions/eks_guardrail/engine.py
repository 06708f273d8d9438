"""Evaluate one change against the org rules: pure, no AWS calls.

The engine runs every registered rule that judges this kind of change, then applies what
is global to all rules: `mode` (monitor turns rollbacks into alerts), exemptions
(reported, never acted on), severity overrides and which entries a rule may judge.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

from .arns import matches_any, parse_principal_arn, wildcard_match
from .aws_catalog import NODE_ENTRY_TYPES
from .changes import AccessEntryCreated, Change, ClusterCreated
from .config import OrgRules
from .findings import Finding, Violation
from .rules import REGISTRY, RuleSpec
from .rules.base import RuleSettings


@dataclass(frozen=True)
class ObservedState:
    """What the caller read from AWS about the change's entry and cluster, when it could.

    Events alone do not carry tags of existing entries; the handlers pass them in so that
    tag exemptions apply to every kind of change. Unknown stays None.
    """

    entry_tags: Mapping[str, str] | None = None
    cluster_tags: Mapping[str, str] | None = None
    entry_type: str | None = None
    #: For a node-type entry's role: the service principals its trust policy allows to assume it
    #: (None: unknown). Read by node-entry-principal, the one rule with `needs_state`.
    principal_trusted_services: frozenset[str] | None = None


_NO_STATE = ObservedState()
_UNKNOWN = object()

#: One rule that judges a kind of change and is not off: (id, spec, its settings in the org rules).
_Step = tuple[str, RuleSpec, RuleSettings]


def evaluate(change: Change, org: OrgRules, state: ObservedState | None = None) -> list[Finding]:
    """All findings for one change, in rule-id order."""
    steps = _steps(org).get(type(change))
    if steps is None:
        steps = _steps_for(org, type(change))
    if not steps:
        return []
    state = state or _NO_STATE
    node_entry = _entry_type(change, state) in NODE_ENTRY_TYPES
    findings: list[Finding] = []
    exemption: object = _UNKNOWN  # worked out at the first violation: most changes have none
    for rule_id, spec, settings in steps:
        if node_entry and not spec.judges_node_entries:
            continue
        violations = spec.check(change, settings, org, state) if spec.needs_state else spec.check(change, settings, org)
        for violation in violations:
            if exemption is _UNKNOWN:
                exemption = exemption_for(change, org, state)
            findings.append(_finding(rule_id, spec, settings, change, org, violation, exemption, None))  # type: ignore[arg-type]
    return findings


#: Per org rules object (immutable), what `evaluate` derives from it and the registry: for each kind
#: of change, the rules that judge it and are not off, in rule-id order. Kept while the registry
#: is unchanged (`Registry.version`); a few org rules objects at a time (a run has one or two).
_STEPS: dict[int, tuple[OrgRules, int, dict[type, tuple[_Step, ...]]]] = {}
_STEPS_KEPT = 8


def _steps(org: OrgRules) -> dict[type, tuple[_Step, ...]]:
    kept = _STEPS.get(id(org))
    if kept is not None and kept[0] is org and kept[1] == REGISTRY.version:
        return kept[2]
    if len(_STEPS) >= _STEPS_KEPT:
        _STEPS.clear()
    by_type: dict[type, tuple[_Step, ...]] = {}
    _STEPS[id(org)] = (org, REGISTRY.version, by_type)  # holding `org` keeps its id from being reused
    return by_type


def _steps_for(org: OrgRules, change_type: type) -> tuple[_Step, ...]:
    steps = []
    for rule_id in _rules_judging(change_type):
        settings = org.settings(rule_id)
        if settings.action != "off":
            steps.append((rule_id, REGISTRY[rule_id], settings))
    _steps(org)[change_type] = found = tuple(steps)
    return found


def make_finding(
    rule_id: str,
    change: Change,
    org: OrgRules,
    violation: Violation,
    *,
    exemption: str | None = None,
    action: str | None = None,
) -> Finding:
    """A finding of `rule_id` about `change`, with `mode` and the exemption applied.

    `action` overrides the rule's configured action (stale-principal: delete, rebind).
    """
    return _finding(rule_id, REGISTRY[rule_id], org.settings(rule_id), change, org, violation, exemption, action)


def _finding(
    rule_id: str,
    spec: RuleSpec,
    settings: RuleSettings,
    change: Change,
    org: OrgRules,
    violation: Violation,
    exemption: str | None,
    action: str | None,
) -> Finding:
    configured = action or settings.action
    effective = configured
    if configured != "alert" and (org.mode == "monitor" or exemption):
        effective = "alert"
    meta = change.meta
    return Finding(
        rule=rule_id,
        severity=settings.severity or spec.default_severity,
        action=effective,
        configured_action=configured,
        exempt=exemption is not None,
        exemption_reason=exemption,
        message=violation.message,
        event_id=meta.event_id,
        event_name=meta.event_name,
        event_time=meta.event_time,
        account=meta.account,
        region=meta.region,
        cluster=getattr(change, "cluster", None),
        principal_arn=violation.principal_arn or getattr(change, "principal_arn", None),
        policy_arn=violation.policy_arn,
        actor_arn=meta.actor.arn,
    )


def rules_judging(change: Change) -> list[str]:
    """Ids of the rules that judge this kind of change from the event alone."""
    return list(_rules_judging(type(change)))


_JUDGING: dict[type, tuple[int, tuple[str, ...]]] = {}


def _rules_judging(change_type: type) -> tuple[str, ...]:
    kept = _JUDGING.get(change_type)
    if kept is not None and kept[0] == REGISTRY.version:
        return kept[1]
    ids = tuple(sorted(rule_id for rule_id, spec in REGISTRY.items() if spec.check and issubclass(change_type, spec.handles)))
    _JUDGING[change_type] = (REGISTRY.version, ids)
    return ids


def _entry_type(change: Change, state: ObservedState) -> str | None:
    return getattr(change, "entry_type", None) or state.entry_type


def exemption_for(change: Change, org: OrgRules, state: ObservedState | None = None) -> str | None:
    """Why this change is exempt, or None.

    A principal pattern covers only principals of the cluster's account and
    `trusted_accounts`, unless it names the principal's account itself: `*` in the account
    field never reaches a stranger's role of the same name. A tag counts only where an
    allowed principal (`exemptions.tag.set_by`) set it: at creation the event says who did;
    on existing entries and clusters the caller passes in only the tags it knows were set so.
    """
    state = state or _NO_STATE
    principal = getattr(change, "principal_arn", None)
    if isinstance(change, ClusterCreated):
        principal = change.meta.actor.principal_arn  # the creator, whose admin entry is at stake
    if principal and exempt_principal(org, principal, change.meta.account):
        return f"principal {principal} is on the exemption list"
    tag = org.exemptions.tag
    if tag is None:
        return None
    set_at_creation = isinstance(change, (AccessEntryCreated, ClusterCreated)) and matches_any(tag.set_by, change.meta.actor.principal_arn)
    entry_tags = (change.tags if set_at_creation else None) if isinstance(change, AccessEntryCreated) else state.entry_tags
    cluster_tags = (change.tags if set_at_creation else None) if isinstance(change, ClusterCreated) else state.cluster_tags
    for owner, tags in (("entry", entry_tags), ("cluster", cluster_tags)):
        if tags and tags.get(tag.key) == tag.value:
            return f"the {owner} carries the exemption tag {tag.key}={tag.value}"
    return None


def exempt_principal(org: OrgRules, principal: str, account: str) -> bool:
    """Whether an exemption pattern covers `principal` (see `exemption_for`)."""
    for pattern in org.exemptions.principals:
        if not wildcard_match(pattern, principal):
            continue
        parsed = parse_principal_arn(principal)
        if parsed is None:
            return False
        if (account and parsed.account == account) or parsed.account in org.trusted_accounts:
            return True  # the cluster's account, or a trusted one
        pattern_account = pattern.split(":")[4] if pattern.count(":") >= 5 else ""
        if pattern_account == parsed.account:
            return True  # names that account explicitly
    return False
