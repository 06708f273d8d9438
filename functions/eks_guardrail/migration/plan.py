"""`migrate plan`: the access entries that give what aws-auth gives, judged by the org rules before anything is applied.

Reads what it needs of the cluster (its account and mode, its entries, the roles of its managed
node groups and Fargate profiles) and of IAM (each same-account role's real ARN, path included),
maps aws-auth with `mapping.map_aws_auth`, and judges every planned entry and association as
the typed changes CloudTrail would carry (`planned_changes.py`): the rules are the guardrail's own.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from ..adapters.eks import EksAccessEntries
from ..config import OrgRules
from ..engine import evaluate
from ..findings import Finding
from ..planned_changes import planned_actor, planned_association, planned_entry, planned_meta
from ..state import Association, EntryState
from .aws_auth import AwsAuth
from .mapping import NotCarried, PlannedEntry, map_aws_auth

CREATE, EXISTS, MANAGED, SKIP = "create", "exists", "managed", "skip"


def is_blocking(finding: dict[str, Any]) -> bool:
    """A finding `enforce` would roll back (configured `rollback`, not exempt): apply skips its entry unless told."""
    return finding.get("configured_action") == "rollback" and not finding.get("exempt")


@dataclass(frozen=True)
class ClusterFacts:
    """What the plan needs to know of the cluster, read once."""

    name: str
    region: str
    account: str
    authentication_mode: str | None
    entries: dict[str, EntryState]
    eks_managed_roles: frozenset[str]
    caller_arn: str | None = None


@dataclass
class PlanItem:
    entry: PlannedEntry
    status: str
    reason: str
    findings: list[Finding] = field(default_factory=list)

    @property
    def blocking(self) -> list[Finding]:
        """Findings that stop `migrate apply` (without --accept-findings): those `enforce` would roll back."""
        return [f for f in self.findings if is_blocking(f.to_dict())]


@dataclass
class MigrationPlan:
    cluster: str
    region: str
    account: str
    authentication_mode: str | None
    items: list[PlanItem]
    not_carried: list[NotCarried]
    warnings: list[str]
    #: Principals that have an entry on the cluster now (EKS-managed node entries included).
    existing_principals: frozenset[str] = frozenset()

    @property
    def clean(self) -> bool:
        """No finding at all and everything carried over (exit status 0)."""
        return not self.not_carried and not any(item.findings for item in self.items)

    def to_json(self) -> dict[str, Any]:
        return {
            "cluster": self.cluster,
            "region": self.region,
            "account": self.account,
            "authenticationMode": self.authentication_mode,
            "entries": [_item_json(item) for item in self.items],
            "not_carried": [{"what": n.what, "source": n.source, "reason": n.reason} for n in self.not_carried],
            "warnings": list(self.warnings),
        }


def _item_json(item: PlanItem) -> dict[str, Any]:
    entry = item.entry
    return {
        "principalArn": entry.principal_arn,
        "type": entry.entry_type,
        "username": entry.username,
        "kubernetesGroups": list(entry.groups),
        "policies": [
            {"policyArn": p.policy_arn, "accessScope": Association(p.policy_arn, p.scope_type, p.namespaces).access_scope()}
            for p in entry.policies
        ],
        "status": item.status,
        "reason": item.reason,
        "source": entry.source,
        "findings": [f.to_dict() for f in item.findings],
    }


def read_cluster_facts(eks_client: Any, cluster: str, region: str, caller_arn: str | None = None) -> ClusterFacts | None:
    """The cluster's account, mode, entries and EKS-managed roles; None when there is no such cluster."""
    eks = EksAccessEntries(eks_client)
    state = eks.describe_cluster(cluster)
    if state is None:
        return None
    account = (state.arn or "").split(":")[4] if state.arn and state.arn.count(":") >= 5 else ""
    entries: dict[str, EntryState] = {}
    if state.authentication_mode in ("API", "API_AND_CONFIG_MAP"):
        for principal in eks.list_principals(cluster):
            entry = eks.describe_entry(cluster, principal)
            if entry is not None:
                entries[principal] = entry
    managed = set()
    for page in eks_client.get_paginator("list_nodegroups").paginate(clusterName=cluster):
        for name in page.get("nodegroups", []):
            managed.add(eks_client.describe_nodegroup(clusterName=cluster, nodegroupName=name)["nodegroup"]["nodeRole"])
    for page in eks_client.get_paginator("list_fargate_profiles").paginate(clusterName=cluster):
        for name in page.get("fargateProfileNames", []):
            profile = eks_client.describe_fargate_profile(clusterName=cluster, fargateProfileName=name)["fargateProfile"]
            managed.add(profile["podExecutionRoleArn"])
    return ClusterFacts(cluster, region, account, state.authentication_mode, entries, frozenset(managed), caller_arn)


def role_resolver(iam_client: Any) -> Callable[[str], str | None]:
    """Role name -> its ARN with its path (iam:GetRole), None when no such role."""
    from botocore.exceptions import ClientError

    def resolve(name: str) -> str | None:
        try:
            return iam_client.get_role(RoleName=name)["Role"]["Arn"]
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") == "NoSuchEntity":
                return None
            raise

    return resolve


def build_plan(auth: AwsAuth, facts: ClusterFacts, org: OrgRules, resolve_role: Callable[[str], str | None]) -> MigrationPlan:
    mapping = map_aws_auth(
        auth,
        cluster_account=facts.account,
        trusted_accounts=frozenset(org.trusted_accounts),
        resolve_role=resolve_role,
        eks_managed_roles=facts.eks_managed_roles,
    )
    items = []
    for planned in mapping.entries:
        status, reason = planned.status, planned.reason
        existing = facts.entries.get(planned.principal_arn)
        if status == CREATE and existing is not None:
            status, reason = EXISTS, describe_difference(planned, existing)
        findings = judge_planned(planned, facts, org) if status in (CREATE, EXISTS) else []
        items.append(PlanItem(planned, status, reason, findings))
    return MigrationPlan(
        facts.name, facts.region, facts.account, facts.authentication_mode, items, list(mapping.not_carried), list(auth.warnings),
        frozenset(facts.entries),
    )


def judge_planned(planned: PlannedEntry, facts: ClusterFacts, org: OrgRules) -> list[Finding]:
    """The org rules on the entry and each association, as if CloudTrail had just recorded them."""
    actor = planned_actor(facts.caller_arn, facts.account)

    def meta(event_name: str):
        return planned_meta(event_name, ref=f"aws-auth {planned.source}", account=facts.account, region=facts.region, actor=actor)

    changes = [
        planned_entry(
            cluster=facts.name, principal_arn=planned.principal_arn, entry_type=planned.entry_type,
            username=planned.username, groups=planned.groups, meta=meta("CreateAccessEntry"),
        )
    ]
    changes += [
        planned_association(
            cluster=facts.name, principal_arn=planned.principal_arn, policy_arn=p.policy_arn,
            scope_type=p.scope_type, namespaces=p.namespaces, meta=meta("AssociateAccessPolicy"),
        )
        for p in planned.policies
    ]
    return [finding for change in changes for finding in evaluate(change, org)]


def describe_difference(planned: PlannedEntry, existing: EntryState) -> str:
    """`exists` when the entry already gives what aws-auth gives, else what differs."""
    differences = []
    if existing.entry_type != planned.entry_type:
        differences.append(f"type {existing.entry_type}, planned {planned.entry_type}")
    if planned.username is not None and existing.username != planned.username:
        differences.append(f"username {existing.username!r}, planned {planned.username!r}")
    if set(existing.groups) != set(planned.groups) and planned.entry_type == "STANDARD":
        differences.append(f"groups {sorted(existing.groups)}, planned {sorted(planned.groups)}")
    have = {(a.policy_arn, a.scope_type, tuple(sorted(a.namespaces))) for a in existing.associations}
    missing = [p.policy_arn.rsplit("/", 1)[-1] for p in planned.policies if (p.policy_arn, p.scope_type, tuple(sorted(p.namespaces))) not in have]
    if missing:
        differences.append(f"missing policies {', '.join(missing)}")
    if not differences:
        return "the principal already has this entry"
    return "the principal already has an entry; it differs: " + "; ".join(differences)
