"""Backtest: what `mode: enforce` would have done with each finding of a history, judged in time order. Pure.

For each finding: roll back, alert, or refuse (lockout protection), from the rule's configured
action as `enforce` applies it, and from the cluster's access entries as far as the history
shows them. Lockout protection needs the cluster's whole state: it is judged only for clusters
created inside the history (their every entry was seen); elsewhere a rollback that takes away a
cluster-admin path is reported as "lockout not judged", never guessed. A rollback the backtest
counts is applied to the known entries, as `enforce` would have applied it.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field, replace
from typing import Any

from .aws_catalog import NODE_ENTRY_TYPES, STANDARD
from .changes import (
    AccessEntryCreated,
    AccessEntryDeleted,
    AccessPolicyAssociated,
    AccessPolicyDisassociated,
    Change,
    ClusterCreated,
    IamPrincipalCreated,
    IamPrincipalDeleted,
)
from .config import OrgRules
from .enforcement.lockout import CLUSTER_ADMIN_POLICY_ARN, Removal, is_admin_path, would_lock_out
from .enforcement.reconcile import ASSOCIATION, ENTRY, REMEDY_KIND
from .findings import Finding
from .state import Association, EntryState

ROLLED_BACK = "rolled back"
ALERTED = "alerted"
EXEMPT = "alerted (exempt)"
REFUSED_LOCKOUT = "refused (lockout)"
REFUSED_NODE = "refused (node entry)"
LOCKOUT_NOT_JUDGED = "rolled back unless it was the last admin path (lockout not judged)"
OUTCOMES = (ROLLED_BACK, ALERTED, EXEMPT, REFUSED_LOCKOUT, REFUSED_NODE, LOCKOUT_NOT_JUDGED)


@dataclass
class KnownCluster:
    """The entries of one cluster as far as the history shows them; `complete` once its creation was seen."""

    complete: bool = False
    entries: dict[str, EntryState] = field(default_factory=dict)

    def entry(self, cluster: str, principal: str, entry_type: str = STANDARD) -> EntryState:
        if principal not in self.entries:
            self.entries[principal] = EntryState(cluster, principal, entry_type, None, (), {})
        return self.entries[principal]


@dataclass
class Backtest:
    org: OrgRules
    clusters: dict[tuple[str, str, str], KnownCluster] = field(default_factory=dict)
    outcomes: Counter = field(default_factory=Counter)
    by_rule: dict[str, Counter] = field(default_factory=dict)
    by_actor: Counter = field(default_factory=Counter)
    by_cluster: Counter = field(default_factory=Counter)
    not_judged: Counter = field(default_factory=Counter)
    events: int = 0

    def observe(self, change: Change, findings: list[Finding], needing_state: list[str] = ()) -> list[str]:
        """Judge one change's findings (in time order) and learn the state it leaves; returns one outcome per finding."""
        self.events += 1
        known = self._known(change)
        self._learn(change, known)
        verdicts = [self._verdict(change, finding, known) for finding in findings]
        for finding, verdict in zip(findings, verdicts):
            self.outcomes[verdict] += 1
            self.by_rule.setdefault(finding.rule, Counter())[verdict] += 1
            self.by_actor[finding.actor_arn] += 1
            if finding.cluster:
                self.by_cluster[f"{finding.account}/{finding.region}/{finding.cluster}"] += 1
        for rule_id in needing_state:
            self.not_judged[rule_id] += 1
        if isinstance(change, (IamPrincipalCreated, IamPrincipalDeleted)) and self.org.settings("stale-principal").action != "off":
            self.not_judged["stale-principal"] += 1
        return verdicts

    # --- what enforce would have done ------------------------------------------------------------

    def _verdict(self, change: Change, finding: Finding, known: KnownCluster | None) -> str:
        if finding.exempt:
            return EXEMPT
        if finding.configured_action != "rollback":
            return ALERTED
        kind = REMEDY_KIND.get(finding.rule)
        if kind not in (ENTRY, ASSOCIATION) or known is None or not finding.principal_arn:
            return ROLLED_BACK  # restores, field reverts, untagging: they give back, never take an admin path away
        current = known.entries.get(finding.principal_arn)
        if current is not None and current.entry_type in NODE_ENTRY_TYPES:
            return REFUSED_NODE
        removal = Removal(finding.principal_arn, finding.policy_arn if kind == ASSOCIATION else None)
        entries = list(known.entries.values())
        takes_admin_path = current is not None and is_admin_path(current) and not is_admin_path_after(current, removal)
        if known.complete and would_lock_out(entries, removal):
            return REFUSED_LOCKOUT
        if not known.complete and takes_admin_path:
            self._apply(known, removal)
            return LOCKOUT_NOT_JUDGED
        self._apply(known, removal)
        return ROLLED_BACK

    @staticmethod
    def _apply(known: KnownCluster, removal: Removal) -> None:
        after = {e.principal_arn: e for e in removal.apply(known.entries.values())}
        known.entries = after

    # --- the entries the history shows -----------------------------------------------------------

    def _known(self, change: Change) -> KnownCluster | None:
        cluster = getattr(change, "cluster", None)
        if not cluster:
            return None
        key = (change.meta.account, change.meta.region, cluster)
        return self.clusters.setdefault(key, KnownCluster())

    @staticmethod
    def _learn(change: Change, known: KnownCluster | None) -> None:
        if known is None:
            return
        if isinstance(change, ClusterCreated):
            known.complete, known.entries = True, {}
            if change.bootstrap_cluster_creator_admin:
                creator = known.entry(change.cluster, change.meta.actor.principal_arn)
                known.entries[creator.principal_arn] = creator.with_associations((Association(CLUSTER_ADMIN_POLICY_ARN, "cluster"),))
        elif isinstance(change, AccessEntryCreated):
            known.entries[change.principal_arn] = EntryState(
                change.cluster, change.principal_arn, change.entry_type, change.username, change.kubernetes_groups, dict(change.tags)
            )
        elif isinstance(change, AccessEntryDeleted):
            known.entries.pop(change.principal_arn, None)
        elif isinstance(change, AccessPolicyAssociated):
            association = Association(change.policy_arn, change.scope.type, tuple(change.scope.namespaces))
            known.entries[change.principal_arn] = with_scope(known.entry(change.cluster, change.principal_arn), association)
        elif isinstance(change, AccessPolicyDisassociated) and change.principal_arn in known.entries:
            entry = known.entries[change.principal_arn]
            known.entries[change.principal_arn] = entry.with_associations(
                tuple(a for a in entry.associations if a.policy_arn != change.policy_arn)
            )

    # --- the summary ------------------------------------------------------------------------------

    def summary(self) -> dict[str, Any]:
        return {
            "events": self.events,
            "findings": sum(self.outcomes.values()),
            "enforce_would_have": {outcome: self.outcomes[outcome] for outcome in OUTCOMES if self.outcomes[outcome]},
            "by_rule": {rule: dict(counts) for rule, counts in sorted(self.by_rule.items())},
            "by_actor": dict(self.by_actor.most_common()),
            "by_cluster": dict(self.by_cluster.most_common()),
            "not_judged": {rule: {"events": n, "needs": NEEDS.get(rule, "state the event does not carry")} for rule, n in sorted(self.not_judged.items())},
        }


#: What a rule needs that an event does not carry.
NEEDS = {
    "stale-principal": "the ledger and the clusters' entries as they are now: run `eks-guardrail scan`",
    "node-entry-principal": "the IAM role's trust policy as it was then",
}


def is_admin_path_after(entry: EntryState, removal: Removal) -> bool:
    return any(is_admin_path(e) for e in removal.apply([entry]))


def with_scope(entry: EntryState, association: Association) -> EntryState:
    """`entry` with `association` replacing any of the same policy."""
    kept = tuple(a for a in entry.associations if a.policy_arn != association.policy_arn)
    return replace(entry, associations=kept + (association,))
