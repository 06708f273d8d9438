"""Judge a whole account's state, not only events (pure, given snapshots and IAM answers).

Every entry is judged as if it had just been created (with each of its associations), each
cluster's authentication mode as if just set; then what only state shows: stale and
dangling principals, entries that grant nothing. Findings from state are reported (drift);
the sweep acts only on stale principals, as `stale-principal` says.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timezone
from typing import Callable

from ..adapters.iam import PrincipalStatus
from ..arns import matches_any, parse_principal_arn
from ..aws_catalog import STANDARD
from ..changes import AccessEntryCreated, AccessPolicyAssociated, AccessScope, Actor, ClusterConfigUpdated, ClusterCreated, EventMeta
from ..config import OrgRules
from ..engine import ObservedState, evaluate, exemption_for, make_finding
from ..findings import Finding, Violation
from ..state import EntryState
from .snapshot import ClusterSnapshot
from .stale import DANGLING, StalePrincipal, classify

SWEEP_ACTOR = Actor(identity_type="Sweep", arn="", account_id="")


@dataclass(frozen=True)
class StaleFinding:
    finding: Finding
    stale: StalePrincipal


def default_username(principal_arn: str, entry_type: str) -> str | None:
    """The username AWS assigns when none is given (EKS User Guide, "Create access entries")."""
    principal = parse_principal_arn(principal_arn)
    if principal is None or entry_type != STANDARD:
        return None
    if principal.is_user:
        return principal_arn
    if principal.is_role:
        return f"arn:{principal.partition}:sts::{principal.account}:assumed-role/{principal.name}/{{{{SessionName}}}}"
    return None


def _meta(account: str, region: str, cluster: str, principal: str = "", now: datetime | None = None) -> EventMeta:
    moment = (now or datetime.now(timezone.utc)).strftime("%Y-%m-%dT%H:%M:%SZ")
    return EventMeta(
        event_id=f"sweep:{region}/{cluster}/{principal}".rstrip("/"),
        event_name="Sweep",
        event_source="eks-guardrail",
        event_time=moment,
        account=account,
        region=region,
        actor=SWEEP_ACTOR,
    )


def entry_as_changes(entry: EntryState, account: str, region: str) -> list[AccessEntryCreated | AccessPolicyAssociated]:
    """The changes that would have produced this entry."""
    meta = _meta(account, region, entry.cluster, entry.principal_arn)
    custom = entry.username if entry.username and entry.username != default_username(entry.principal_arn, entry.entry_type) else None
    changes: list[AccessEntryCreated | AccessPolicyAssociated] = [
        AccessEntryCreated(
            meta=meta,
            cluster=entry.cluster,
            principal_arn=entry.principal_arn,
            entry_type=entry.entry_type,
            username=custom if entry.entry_type == STANDARD else None,
            kubernetes_groups=entry.groups if entry.entry_type == STANDARD else (),
            tags=dict(entry.tags),
        )
    ]
    for association in entry.associations:
        changes.append(
            AccessPolicyAssociated(
                meta=meta,
                cluster=entry.cluster,
                principal_arn=entry.principal_arn,
                policy_arn=association.policy_arn,
                scope=AccessScope(association.scope_type, association.namespaces),
            )
        )
    return changes


def judge_cluster(
    snapshot: ClusterSnapshot,
    account: str,
    org: OrgRules,
    principal_status: Callable[[str], PrincipalStatus | None],
    principal_trust: Callable[[str], frozenset[str] | None] | None = None,
) -> tuple[list[Finding], list[StaleFinding]]:
    """Findings for one cluster's state, and the stale principals among them.

    `principal_status` answers stale-principal; `principal_trust` (role ARN -> the services its
    trust policy allows, None when unknown) answers node-entry-principal and is asked for
    node-type entries only. Both may raise ClientError (the caller reports the cluster).
    """
    findings: list[Finding] = []
    stale_findings: list[StaleFinding] = []
    cluster_state = ObservedState(cluster_tags=snapshot.tags)
    if snapshot.authentication_mode:
        mode_change = ClusterConfigUpdated(_meta(account, snapshot.region, snapshot.name), snapshot.name, snapshot.authentication_mode)
        findings += evaluate(mode_change, org, cluster_state)
    for entry in snapshot.entries:
        trusted = principal_trust(entry.principal_arn) if principal_trust and entry.entry_type != STANDARD else None
        entry_state = ObservedState(
            entry_tags=entry.tags, cluster_tags=snapshot.tags, entry_type=entry.entry_type, principal_trusted_services=trusted
        )
        changes = entry_as_changes(entry, account, snapshot.region)
        for change in changes:
            findings += evaluate(change, org, entry_state)
        exemption = exemption_for(changes[0], org, entry_state)
        if _grants_nothing(entry) and org.settings("grants-nothing").action != "off":
            message = (
                f"the access entry of {entry.principal_arn} on cluster {entry.cluster} has no access policy and no "
                f"Kubernetes group: it authenticates but grants nothing"
            )
            findings.append(make_finding("grants-nothing", changes[0], org, Violation(message), exemption=exemption))
        stale = classify(entry, principal_status(entry.principal_arn))
        if stale:
            judged = stale_finding(stale, changes[0], org, entry_state)
            if judged:
                findings.append(judged.finding)
                stale_findings.append(judged)
    return findings, stale_findings


def stale_finding(stale: StalePrincipal, entry_change: AccessEntryCreated, org: OrgRules, state: ObservedState) -> StaleFinding | None:
    """The stale-principal finding for an entry (None when the rule is off).

    `entry_change` carries the meta the finding reports: the sweep's, or the IAM event's.
    """
    settings = org.settings("stale-principal")
    if settings.action == "off":
        return None
    action = stale_action(stale, settings.action, settings.rebind)  # type: ignore[attr-defined]
    exemption = exemption_for(entry_change, org, state)
    finding = make_finding("stale-principal", entry_change, org, Violation(stale.describe()), exemption=exemption, action=action)
    return StaleFinding(finding, stale)


def stale_action(stale: StalePrincipal, configured: str, rebind_patterns: tuple[str, ...]) -> str:
    """`rebind` only for allow-listed principals that exist again; otherwise what is safe."""
    if configured == "rebind":
        if stale.kind == DANGLING or not matches_any(rebind_patterns, stale.entry.principal_arn):
            return "alert"
    return configured


def _grants_nothing(entry: EntryState) -> bool:
    return entry.entry_type == STANDARD and not entry.associations and not entry.groups


def creator_admin_finding(org: OrgRules, account: str, region: str, cluster: str, creator: str) -> Finding:
    """The bootstrap-admin finding for a deferred removal the sweep carries out."""
    meta = replace(_meta(account, region, cluster), actor=Actor(identity_type="Sweep", arn="", account_id=account))
    change = ClusterCreated(meta, cluster, "API", True, False)
    message = f"the cluster creator {creator} still held an admin entry on cluster {cluster} (bootstrapClusterCreatorAdminPermissions)"
    return make_finding("bootstrap-admin", change, org, Violation(message, principal_arn=creator))
