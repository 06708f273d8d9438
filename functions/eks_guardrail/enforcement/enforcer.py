"""Per event: evaluate, roll back where the rules say so (safely), keep the ledger, report.

Plain code with its dependencies passed in; the Lambda handler only wires it up.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Protocol

from botocore.exceptions import BotoCoreError, ClientError

from ..adapters.eks import EksAccessEntries
from ..arns import matches_any
from ..aws_catalog import NODE_ENTRY_TYPES
from ..changes import (
    ACCESS_ENTRY_CHANGES,
    AccessEntryCreated,
    AccessEntryDeleted,
    Change,
    ClusterCreated,
)
from ..config import OrgRules
from ..engine import ObservedState, evaluate
from ..findings import Finding
from ..state import EntryState
from .rollbacks import ROLLBACKS, RollbackContext, RollbackResult
from .rollbacks.base import DEFERRED, FAILED, REFUSED, changed_since

ALERTED = "alerted"


class Ledger(Protocol):
    def get(self, account: str, region: str, cluster: str, principal_arn: str) -> EntryState | None: ...
    def put(self, account: str, region: str, entry: EntryState, *, source: str) -> None: ...
    def delete(self, account: str, region: str, cluster: str, principal_arn: str) -> None: ...


class DeferredRemovals(Protocol):
    def defer(self, region: str, cluster: str, creator: str) -> None: ...


@dataclass(frozen=True)
class Outcome:
    """What the guardrail did about one finding."""

    finding: Finding
    status: str  # alerted | rolled-back | already-undone | refused | not-undone | failed
    detail: str


@dataclass
class Report:
    change: Change
    findings: list[Finding] = field(default_factory=list)
    outcomes: list[Outcome] = field(default_factory=list)
    skipped_reason: str | None = None
    #: A rollback that failed after the client's retries; the handler raises it after alerting.
    error: Exception | None = None


@dataclass
class Enforcer:
    org: OrgRules
    eks_for_region: Callable[[str], EksAccessEntries]
    ledger: Ledger
    #: The guardrail's own IAM role(s): their changes are never judged (no loops).
    own_principals: tuple[str, ...] = ()
    #: Per account: where deferred creator-admin removals wait for the sweep.
    deferred_removals: Callable[[str], DeferredRemovals] | None = None

    def handle(self, change: Change) -> Report:
        report = Report(change)
        actor = change.meta.actor.principal_arn
        if actor and matches_any(self.own_principals, actor):
            report.skipped_reason = f"made by the guardrail itself ({actor})"
            return report
        eks = self.eks_for_region(change.meta.region)
        report.findings = evaluate(change, self.org, self._observed_state(eks, change))
        result = self._roll_back(eks, change, report.findings, report)
        if isinstance(change, ClusterCreated) and result is not None and result.status == DEFERRED and self.deferred_removals:
            self.deferred_removals(change.meta.account).defer(change.meta.region, change.cluster, change.meta.actor.principal_arn)
        for finding in report.findings:
            if finding.action == "rollback" and result is not None:
                report.outcomes.append(Outcome(finding, result.status, result.detail))
            else:
                report.outcomes.append(Outcome(finding, ALERTED, _alert_detail(finding)))
        if all(f.exempt or f.configured_action != "rollback" for f in report.findings):
            self._remember(eks, change)
        return report

    # --- steps ------------------------------------------------------------------------------

    def _observed_state(self, eks: EksAccessEntries, change: Change) -> ObservedState | None:
        """Tags of the entry and cluster, read only when a tag exemption is configured."""
        if self.org.exemptions.tag is None or not isinstance(change, ACCESS_ENTRY_CHANGES):
            return None
        cluster = eks.describe_cluster(change.cluster)
        entry = None
        if isinstance(change, AccessEntryDeleted):
            # The entry is gone: its tags are what the ledger last saw.
            entry = self.ledger.get(change.meta.account, change.meta.region, change.cluster, change.principal_arn)
        elif not isinstance(change, AccessEntryCreated):
            entry = eks.describe_entry(change.cluster, change.principal_arn, with_associations=False)
        return ObservedState(
            entry_tags=entry.tags if entry else None,
            cluster_tags=cluster.tags if cluster else None,
            entry_type=entry.entry_type if entry else None,
        )

    def _roll_back(self, eks: EksAccessEntries, change: Change, findings: list[Finding], report: Report) -> RollbackResult | None:
        to_undo = [f for f in findings if f.action == "rollback"]
        if isinstance(change, ClusterCreated):
            to_undo = [f for f in to_undo if f.rule == "bootstrap-admin"]
        if not to_undo:
            return None
        spec = ROLLBACKS.get(type(change))
        if spec is None:
            return RollbackResult(REFUSED, f"no rollback exists for {change.meta.event_name}")
        entry_type = getattr(change, "entry_type", None)
        if entry_type in NODE_ENTRY_TYPES:
            return RollbackResult(REFUSED, f"refused: {entry_type} (node) entries are never rolled back")
        try:
            return spec.undo(change, RollbackContext(eks=eks, ledger=self.ledger, org=self.org))
        except (ClientError, BotoCoreError) as error:
            report.error = error
            return RollbackResult(FAILED, f"failed after retries: {error}; Lambda retries, then the dead-letter queue keeps the event")

    def _remember(self, eks: EksAccessEntries, change: Change) -> None:
        """Keep the ledger's last known good state after a change we accept."""
        if not isinstance(change, ACCESS_ENTRY_CHANGES):
            return
        account, region = change.meta.account, change.meta.region
        if isinstance(change, AccessEntryDeleted):
            self.ledger.delete(account, region, change.cluster, change.principal_arn)
            return
        entry = eks.describe_entry(change.cluster, change.principal_arn)
        if entry is None:
            return
        moments = [entry.modified_at, *(a.modified_at for a in entry.associations)]
        if any(changed_since(moment, change.meta.event_time) for moment in moments):
            # The entry moved on after this event: what we read now is not what this event
            # made, and may be a later bad change. The later events record their own state.
            return
        if not self._acceptable(entry, account, region):
            # Within the same second a later bad change may already be in what we read:
            # the ledger keeps only states the rules accept.
            return
        self.ledger.put(account, region, entry, source=f"{change.meta.event_name} {change.meta.event_id}")


    def _acceptable(self, entry: EntryState, account: str, region: str) -> bool:
        from ..sweep.judge import entry_as_changes

        state = ObservedState(entry_tags=entry.tags, entry_type=entry.entry_type)
        findings = [f for c in entry_as_changes(entry, account, region) for f in evaluate(c, self.org, state)]
        return all(f.exempt or f.configured_action == "alert" for f in findings)


def _alert_detail(finding: Finding) -> str:
    if finding.exempt:
        return f"alert only: exempt ({finding.exemption_reason})"
    if finding.configured_action == "rollback":
        return "alert only: mode is monitor, so nothing was rolled back"
    return "alert only: the rule's action is alert"
