"""Per event: evaluate, reconcile what the event touched, retry what is pending, keep the ledger.

The event's findings say what happened (they are what the alerts report). What is done is
decided by reconciling the principal's entry as it is now (`reconcile.py`); decisions that
could not be carried out are kept as pending and re-examined on the next event of the same
cluster and by the sweep, until the state complies or a person has been told why not.

Plain code with its dependencies passed in; the Lambda handler only wires it up.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Callable, Mapping, Protocol

from botocore.exceptions import BotoCoreError, ClientError

from ..adapters.eks import EksAccessEntries
from ..adapters.ledger import entry_to_json
from ..adapters.read_once import ReadOnceEks, ReadOnceGrants, ReadOnceLedger
from ..arns import matches_any
from ..changes import (
    ACCESS_ENTRY_CHANGES,
    AccessEntryCreated,
    AccessEntryDeleted,
    Change,
    ClusterCreated,
    ResourceTagged,
    ResourceUntagged,
)
from ..config import OrgRules
from ..engine import ObservedState, evaluate, make_finding
from ..findings import Finding, Violation
from ..state import EntryState
from ..rules.exemption_tag import may_set_exemption_tag
from .exemption_tags import TagGuard, cluster_of
from .reconcile import UNRESOLVED, Reconciler, Reconciliation, Remedy, acceptable, state_finding
from .rollbacks import ROLLBACKS, RollbackContext, RollbackResult
from .rollbacks.base import ALREADY_UNDONE, DEFERRED, FAILED, REFUSED, ROLLED_BACK, protected_principals

ALERTED = "alerted"


class Ledger(Protocol):
    def get(self, account: str, region: str, cluster: str, principal_arn: str) -> EntryState | None: ...
    def put(self, account: str, region: str, entry: EntryState, *, source: str) -> None: ...
    def put_if_absent(self, account: str, region: str, entry: EntryState, *, source: str) -> bool: ...
    def delete(self, account: str, region: str, cluster: str, principal_arn: str) -> None: ...


class DeferredRemovals(Protocol):
    def defer(self, region: str, cluster: str, creator: str) -> None: ...


class Pending(Protocol):
    def of_cluster(self, account: str, region: str, cluster: str) -> dict[str, dict[str, Any]]: ...
    def update(self, account: str, region: str, cluster: str, changes: dict[str, dict[str, Any] | None], *, based_on: Any = None) -> None: ...


@dataclass(frozen=True)
class Outcome:
    """What the guardrail did about one finding."""

    finding: Finding
    status: str  # alerted | rolled-back | already-undone | refused | not-undone | deferred | failed
    detail: str


@dataclass
class Report:
    change: Change
    findings: list[Finding] = field(default_factory=list)
    outcomes: list[Outcome] = field(default_factory=list)
    skipped_reason: str | None = None
    #: A rollback that failed after the client's retries; the handler raises it after alerting.
    error: Exception | None = None


class NoPending:
    """Pending decisions kept nowhere (tests, one-off runs): retried only by the sweep."""

    def of_cluster(self, account: str, region: str, cluster: str) -> dict[str, dict[str, Any]]:
        return {}

    def update(self, account: str, region: str, cluster: str, changes: dict[str, dict[str, Any] | None], *, based_on: Any = None) -> None:
        return None


@dataclass
class Enforcer:
    org: OrgRules
    eks_for_region: Callable[[str], EksAccessEntries]
    ledger: Ledger
    #: The guardrail's own IAM role(s): their changes are never judged (no loops).
    own_principals: tuple[str, ...] = ()
    #: Per account: where deferred creator-admin removals wait for the sweep.
    deferred_removals: Callable[[str], DeferredRemovals] | None = None
    #: Decisions not carried out yet, re-examined on the next event of the same cluster.
    pending: Pending = field(default_factory=NoPending)
    #: Who set the exemption tags (tags set by anyone else are not honoured).
    tags: TagGuard | None = None
    #: `(account, role ARN) -> service principals its trust policy allows` (node-entry-principal).
    principal_trust: Callable[[str, str], frozenset[str] | None] | None = None

    def handle(self, change: Change) -> Report:
        """Judge and reconcile one change; each AWS read is made once for it (`read_once.py`)."""
        tags = replace(self.tags, grants=ReadOnceGrants(self.tags.grants)) if self.tags is not None else None
        return replace(self, ledger=ReadOnceLedger(self.ledger), tags=tags)._handle(change)

    def skip_reason(self, change: Change) -> str | None:
        """Why the change is not judged at all (the guardrail's own: no loops), or None."""
        actor = change.meta.actor.principal_arn
        if actor and matches_any(self.own_principals, actor):
            return f"made by the guardrail itself ({actor})"
        return None

    def _handle(self, change: Change) -> Report:
        report = Report(change)
        report.skipped_reason = self.skip_reason(change)
        if report.skipped_reason:
            return report
        eks: Any = ReadOnceEks(self.eks_for_region(change.meta.region))
        try:
            observed = self._observed_state(eks, change)
        except (ClientError, BotoCoreError) as error:
            return self._unobservable(change, report, error)
        report.findings = evaluate(change, self.org, self._with_trust(change, observed))
        tag_remedies = self._exemption_tags(eks, change, report)
        if self.tags is not None and self.tags.handles(change):
            report.outcomes = self._outcomes(report.findings, tag_remedies)
            return report
        if isinstance(change, ClusterCreated):
            result = self._creator_admin(eks, change, report)
            report.outcomes = self._outcomes(report.findings, tag_remedies + ([Remedy("bootstrap-admin", None, result)] if result else []))
            return report
        if not isinstance(change, ACCESS_ENTRY_CHANGES):
            report.outcomes = self._outcomes(report.findings, [])
            return report

        exempt = any(f.exempt for f in report.findings)
        remedies: list[Remedy] = []
        if self.org.mode == "enforce":
            # The reconciler applies exemptions itself, after restoring protected entries.
            if not exempt:
                self._seed_ledger_from_create(eks, change, report.findings)
            remedies = self._reconcile_and_retry(eks, change, report)
        report.outcomes = self._outcomes(report.findings, tag_remedies + remedies)
        if self.org.mode != "enforce" or exempt:
            self._remember(eks, change, exempt=exempt)
        return report

    # --- steps ------------------------------------------------------------------------------

    def _exemption_tags(self, eks: EksAccessEntries, change: Change, report: Report) -> list[Remedy]:
        """Who set the exemption tag (tag events, and tags given at creation).

        A failure (recording a grant, revoking it, removing the tag) is alerted as `failed`
        and raised, so Lambda retries the event and the dead-letter queue keeps it."""
        if self.tags is None or not isinstance(change, (ResourceTagged, ResourceUntagged, AccessEntryCreated, ClusterCreated)):
            return []
        try:
            remedies = self.tags.enforce(change, report.findings, eks)
            if remedies and isinstance(change, ResourceTagged) and self.org.mode == "enforce":
                self._clear_tag_pending(change)  # e.g. a Lambda retry that now succeeded
            return remedies
        except (ClientError, BotoCoreError) as error:
            report.error = report.error or error
            self._keep_tag_pending(eks, change)
            detail = f"failed after retries: {type(error).__name__}: {_short(error)}; Lambda retries, then the dead-letter queue keeps the event"
            message = f"the exemption tag on {getattr(change, 'resource_arn', None) or getattr(change, 'cluster', '')} could not be checked or recorded"
            finding = make_finding("exemption-tag", change, self.org, Violation(message))
            return [Remedy("exemption-tag", None, RollbackResult(FAILED, detail), finding)]

    def _keep_tag_pending(self, eks: EksAccessEntries, change: Change) -> None:
        """A removal of an untrusted exemption tag that failed: retried with the entry's (or the
        cluster's) pending decisions on the next event of the cluster and by the sweep."""
        arn = change.resource_arn if isinstance(change, ResourceTagged) else None
        if arn is None or self.tags is None or self.org.mode != "enforce":
            return
        if may_set_exemption_tag(self.org, change.meta.actor.principal_arn):
            return  # a grant that could not be recorded: only the event's retry can record who set it
        try:
            cluster, key = self.tags.owner(arn, eks)
            record = {"status": FAILED, "detail": "the exemption tag could not be removed yet", "untag": arn}
            self.pending.update(change.meta.account, change.meta.region, cluster, {key: record})
        except (ClientError, BotoCoreError):
            pass  # the event is raised (Lambda retries it); the state still shows the untrusted tag

    def _clear_tag_pending(self, change: ResourceTagged) -> None:
        cluster = cluster_of(change.resource_arn)
        waiting = self.pending.of_cluster(change.meta.account, change.meta.region, cluster)
        done = {key: None for key, record in waiting.items() if record.get("untag") == change.resource_arn}
        self.pending.update(change.meta.account, change.meta.region, cluster, done, based_on=waiting)

    def _unobservable(self, change: Change, report: Report, error: Exception) -> Report:
        """The tags that decide exemptions could not be read: act on nothing (an exempt change must
        not be rolled back by guesswork), say `failed`, keep it pending, and raise (Lambda retries)."""
        report.error = error
        report.findings = evaluate(change, self.org, None)
        detail = (
            f"failed after retries: could not read the tags that decide exemptions ({type(error).__name__}: {_short(error, 200)}); "
            "Lambda retries, then the dead-letter queue keeps the event; the next event of the cluster and the sweep retry it"
        )
        report.outcomes = [
            Outcome(f, FAILED, detail) if f.action == "rollback" else Outcome(f, ALERTED, _alert_detail(f)) for f in report.findings
        ]
        principal = getattr(change, "principal_arn", None)
        if principal and isinstance(change, ACCESS_ENTRY_CHANGES) and self.org.mode == "enforce":
            try:
                self.pending.update(change.meta.account, change.meta.region, change.cluster, {principal: {"status": FAILED, "detail": detail[:500]}})
            except (ClientError, BotoCoreError):
                pass  # the raise below still makes Lambda retry; the sweep sees the state anyway
        return report

    def _observed_state(self, eks: EksAccessEntries, change: Change) -> ObservedState | None:
        """Tags of the entry and cluster (only those an allowed principal set), read only when a
        tag exemption is configured."""
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
            entry_tags=self._trusted(entry.arn if entry else None, entry.tags if entry else None),
            cluster_tags=self._trusted(cluster.arn if cluster else None, cluster.tags if cluster else None),
            entry_type=entry.entry_type if entry else None,
        )

    def _with_trust(self, change: Change, observed: ObservedState | None) -> ObservedState | None:
        """A node-type entry's role: which services its trust policy allows (unknown on failure)."""
        if self.principal_trust is None or not isinstance(change, AccessEntryCreated) or change.entry_type == "STANDARD":
            return observed
        try:
            trusted = self.principal_trust(change.meta.account, change.principal_arn)
        except (ClientError, BotoCoreError):
            trusted = None  # unknown: the rule does not guess; the sweep judges it again
        return replace(observed or ObservedState(), principal_trusted_services=trusted)

    def _trusted(self, resource_arn: str | None, tags: Mapping[str, str] | None) -> Mapping[str, str] | None:
        if tags is None:
            return None
        return self.tags.trusted(resource_arn, tags) if self.tags is not None else _without_exemption_tag(self.org, tags)

    def _reconciler(self, eks: EksAccessEntries, account: str, region: str) -> Reconciler:
        def observe(entry: EntryState) -> ObservedState:
            cluster_tags = None
            if self.org.exemptions.tag is not None:
                cluster = eks.describe_cluster(entry.cluster)
                cluster_tags = self._trusted(cluster.arn, cluster.tags) if cluster else None
            return ObservedState(entry_tags=self._trusted(entry.arn, entry.tags), cluster_tags=cluster_tags, entry_type=entry.entry_type)

        return Reconciler(self.org, eks, account, region, known_good=self.ledger.get, observe=observe)

    def _reconcile_and_retry(self, eks: EksAccessEntries, change: Any, report: Report) -> list[Remedy]:
        """Reconcile the event's principal, then every pending decision of the same cluster."""
        account, region, cluster = change.meta.account, change.meta.region, change.cluster
        reconciler = self._reconciler(eks, account, region)
        pending = self.pending.of_cluster(account, region, cluster)
        born_bad = _born_bad_at(change, report.findings) or _parse_time(pending.get(change.principal_arn, {}).get("born_bad_at"))
        remedies: list[Remedy] = []
        updates: dict[str, dict[str, Any] | None] = {}
        targets = [(change.principal_arn, born_bad)] + [
            (principal, _parse_time(record.get("born_bad_at"))) for principal, record in sorted(pending.items()) if principal != change.principal_arn
        ]
        for principal, born_bad_at in targets:
            trigger = frozenset(f.rule for f in report.findings if f.action == "rollback") if principal == change.principal_arn else frozenset()
            try:
                done = attempt(reconciler, self.tags, cluster, principal, pending.get(principal), born_bad_at=born_bad_at, trigger_rules=trigger)
            except (ClientError, BotoCoreError) as error:
                report.error = report.error or error
                done = failed_attempt(principal, f"failed after retries: {type(error).__name__}: {_short(error)}; Lambda retries, then the dead-letter queue keeps the event; the sweep retries too")
            if principal != change.principal_arn:
                # A retried decision: report it only when its status changed (no alert storm).
                done.remedies = [r for r in done.remedies if r.result.status != pending[principal].get("status")]
            done.remedies = [_with_finding(r, done, self.org, account, region, cluster, principal) for r in done.remedies]
            remedies += done.remedies
            updates[principal] = _pending_record(done, born_bad_at, pending.get(principal))
            if done.compliant or (done.exempt and not done.unresolved):
                # an exempt entry's state is accepted as it is: it is still a protected entry's restore point
                self._remember_entry(account, region, done.current, source=f"{change.meta.event_name} {change.meta.event_id}")
            elif isinstance(change, AccessEntryDeleted) and principal == change.principal_arn and done.current is None and not done.remedies:
                self.ledger.delete(account, region, cluster, principal)
        self.pending.update(account, region, cluster, {p: r for p, r in updates.items() if r is not None or p in pending}, based_on=pending)
        return remedies

    def _seed_ledger_from_create(self, eks: EksAccessEntries, change: Change, findings: list[Finding]) -> None:
        """A compliant create event tells the state it made: a known good state, even when a later
        change already altered the entry before this event is handled."""
        if not isinstance(change, AccessEntryCreated) or any(f.configured_action == "rollback" for f in findings):
            return
        account, region = change.meta.account, change.meta.region
        made = EntryState(
            cluster=change.cluster,
            principal_arn=change.principal_arn,
            entry_type=change.entry_type,
            username=change.assigned_username or change.username,
            groups=tuple(change.kubernetes_groups),
            tags=dict(change.tags),
        )
        self.ledger.put_if_absent(account, region, made, source=f"{change.meta.event_name} {change.meta.event_id}")

    def _creator_admin(self, eks: EksAccessEntries, change: ClusterCreated, report: Report) -> RollbackResult | None:
        if not any(f.action == "rollback" and f.rule == "bootstrap-admin" for f in report.findings):
            return None
        spec = ROLLBACKS[ClusterCreated]
        try:
            result = spec.undo(change, RollbackContext(eks=eks, ledger=self.ledger, org=self.org))
        except (ClientError, BotoCoreError) as error:
            report.error = error
            result = RollbackResult(FAILED, f"failed after retries: {_short(error)}; Lambda retries, then the dead-letter queue keeps the event")
        if result.status in (DEFERRED, FAILED) and self.deferred_removals:
            self.deferred_removals(change.meta.account).defer(change.meta.region, change.cluster, change.meta.actor.principal_arn)
        return result

    def _outcomes(self, findings: list[Finding], remedies: list[Remedy]) -> list[Outcome]:
        """One outcome per event finding (what was done about it), then one per remedy that no
        event finding asked for (found in the state, or a pending decision retried)."""
        outcomes: list[Outcome] = []
        reported: set[int] = set()
        for finding in findings:
            if finding.action != "rollback":
                outcomes.append(Outcome(finding, ALERTED, _alert_detail(finding)))
                continue
            match = next((r for r in remedies if r.answers(finding) and _same_principal(r, finding)), None)
            if match is None:
                outcomes.append(Outcome(finding, ALREADY_UNDONE, "the entry as it is now no longer has this violation"))
                continue
            reported.add(id(match.result))
            outcomes.append(Outcome(finding, match.result.status, match.result.detail))
        for remedy in remedies:
            if id(remedy.result) in reported or remedy.finding is None:
                continue
            reported.add(id(remedy.result))
            outcomes.append(Outcome(remedy.finding, remedy.result.status, remedy.result.detail))
        return outcomes

    def _remember(self, eks: EksAccessEntries, change: Change, *, exempt: bool) -> None:
        """Monitor mode, or an exempt change: keep the ledger's last known good state."""
        account, region = change.meta.account, change.meta.region
        if isinstance(change, AccessEntryDeleted):
            if not matches_any(protected_principals(self.org), change.principal_arn):
                # A protected entry's record is its restore point: a deletion (even exempt, even
                # in monitor) never erases it.
                self.ledger.delete(account, region, change.cluster, change.principal_arn)
            return
        entry = eks.describe_entry(change.cluster, change.principal_arn)  # type: ignore[union-attr]
        if entry is None:
            return
        known = None if exempt else self.ledger.get(account, region, entry.cluster, entry.principal_arn)
        if exempt or acceptable(entry, self.org, account, region, known):
            self.ledger.put(account, region, entry, source=f"{change.meta.event_name} {change.meta.event_id}")

    def _remember_entry(self, account: str, region: str, entry: EntryState | None, *, source: str) -> None:
        if entry is None:
            return
        known = self.ledger.get(account, region, entry.cluster, entry.principal_arn)
        unchanged = known is not None and entry_to_json(known) == entry_to_json(entry)  # what the ledger keeps of it
        if not unchanged and acceptable(entry, self.org, account, region, known):
            self.ledger.put(account, region, entry, source=source)


def attempt(
    reconciler: Reconciler,
    tags: TagGuard | None,
    cluster: str,
    principal: str,
    record: Mapping[str, Any] | None,
    *,
    born_bad_at: datetime | None,
    trigger_rules: frozenset[str] = frozenset(),
) -> Reconciliation:
    """One try at a principal (the handler's and the sweep's): the tag removal its pending
    decision waits for, if any, then its entry reconciled (`tag:<ARN>` keys have no entry).
    Raises while AWS still fails; the caller turns that into `failed_attempt`."""
    done = Reconciliation(principal)
    if tags is not None and record and record.get("untag"):
        remedy = tags.remove_untrusted(str(record["untag"]), reconciler.eks)
        done.remedies.append(remedy or Remedy("exemption-tag", None, RollbackResult(ALREADY_UNDONE, "the exemption tag is gone, or an allowed principal set it since")))
    if principal.startswith("tag:"):
        return done
    reconciled = reconciler.reconcile(cluster, principal, born_bad_at=born_bad_at, trigger_rules=trigger_rules)
    reconciled.remedies = done.remedies + reconciled.remedies
    return reconciled


def failed_attempt(principal: str, detail: str) -> Reconciliation:
    return Reconciliation(principal, [Remedy("reconcile", None, RollbackResult(FAILED, detail), whole_entry=True)])


def _same_principal(remedy: Remedy, finding: Finding) -> bool:
    return remedy.finding is None or remedy.finding.principal_arn == finding.principal_arn


def _with_finding(remedy: Remedy, done: Reconciliation, org: OrgRules, account: str, region: str, cluster: str, principal: str) -> Remedy:
    if remedy.finding is not None:
        return remedy
    entry = done.current or EntryState(cluster, principal, "STANDARD", None, (), {})
    message = f"the access entry of {principal} on cluster {cluster} was re-examined: {remedy.result.detail}"
    return replace(remedy, finding=state_finding(remedy.rule if remedy.rule != "reconcile" else "protected-entry", entry, org, account, region, message))


def _pending_record(done: Reconciliation, born_bad_at: datetime | None, before: Mapping[str, Any] | None = None) -> dict[str, Any] | None:
    """What stays pending after this attempt (None: nothing), keeping a tag removal not yet done."""
    record: dict[str, Any] | None = None
    unresolved = done.unresolved
    if unresolved:
        worst = unresolved[0].result
        record = {"status": worst.status, "detail": worst.detail[:500]}
        if born_bad_at is not None:
            record["born_bad_at"] = born_bad_at.isoformat()
    untag = (before or {}).get("untag")
    untagged = any(r.rule == "exemption-tag" and r.result.status in (ROLLED_BACK, ALREADY_UNDONE) for r in done.remedies)
    if untag and not untagged:
        record = {**(record or {"status": FAILED, "detail": "the exemption tag could not be removed yet"}), "untag": untag}
    return record


def _born_bad_at(change: Change, findings: list[Finding]) -> datetime | None:
    """A create event that was itself a violation: the entry it made never had a good state."""
    if isinstance(change, AccessEntryCreated) and any(f.action == "rollback" for f in findings):
        return _parse_time(change.meta.event_time)
    return None


def _parse_time(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


def _without_exemption_tag(org: OrgRules, tags: Mapping[str, str]) -> Mapping[str, str]:
    tag = org.exemptions.tag
    return {k: v for k, v in tags.items() if tag is None or k != tag.key}


def _short(error: Exception, limit: int = 300) -> str:
    text = str(error)
    return text if len(text) <= limit else text[:limit] + "…"


def _alert_detail(finding: Finding) -> str:
    if finding.exempt:
        return f"alert only: exempt ({finding.exemption_reason})"
    if finding.configured_action == "rollback":
        return "alert only: mode is monitor, so nothing was rolled back"
    return "alert only: the rule's action is alert"
