"""`migrate apply` and `migrate verify`: create the planned entries idempotently, check each, never end in a lockout.

Apply reads a plan (`migrate plan --format json`), requires the cluster in `API_AND_CONFIG_MAP`
(aws-auth still answers while entries are added) or `API`, creates each `create` entry and its
associations unless it is already there as planned (a re-run changes nothing), skips entries
with findings unless told to accept them, verifies each with a describe, and only then says
how to switch to `API`: when every carried principal has its entry and at least one entry is a
real cluster-admin path (`enforcement.lockout`). Verify compares a plan with the entries now.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from ..adapters.eks import EksAccessEntries
from ..enforcement.lockout import has_admin_path
from ..state import Association, EntryState
from .plan import is_blocking

#: Modes in which access entries are honoured.
API_MODES = ("API", "API_AND_CONFIG_MAP")

CREATED, PRESENT, SKIPPED, FAILED = "created", "present", "skipped", "failed"


class PlanFileError(ValueError):
    """A plan file that is not what `migrate plan --format json` writes."""


@dataclass(frozen=True)
class PlannedItem:
    """One entry of a plan file, read back."""

    principal_arn: str
    entry_type: str
    username: str | None
    groups: tuple[str, ...]
    associations: tuple[Association, ...]
    status: str
    blocking_findings: tuple[str, ...]


@dataclass
class ApplyOutcome:
    item: PlannedItem
    result: str
    detail: str


@dataclass
class ApplyReport:
    cluster: str
    region: str
    authentication_mode: str | None
    outcomes: list[ApplyOutcome] = field(default_factory=list)
    has_admin_path: bool = False
    mode_problem: str | None = None

    @property
    def complete(self) -> bool:
        """Every planned principal has its entry, verified."""
        return self.mode_problem is None and all(o.result in (CREATED, PRESENT) for o in self.outcomes)

    @property
    def ready_for_api(self) -> bool:
        return self.complete and self.has_admin_path


def read_plan(data: Any, source: str) -> tuple[str, str, list[PlannedItem]]:
    """(cluster, region, items to apply) from a parsed plan file; raises PlanFileError naming what is wrong."""
    if not isinstance(data, dict) or not isinstance(data.get("entries"), list):
        raise PlanFileError(f"{source}: not a migration plan (expected the JSON of `eks-guardrail migrate plan --format json`)")
    cluster, region = data.get("cluster"), data.get("region")
    if not isinstance(cluster, str) or not cluster or not isinstance(region, str) or not region:
        raise PlanFileError(f"{source}: cluster and region: missing")
    items = []
    for index, entry in enumerate(data["entries"]):
        where = f"{source}: entries[{index}]"
        try:
            policies = tuple(
                Association(p["policyArn"], p["accessScope"]["type"], tuple(p["accessScope"].get("namespaces") or ()))
                for p in entry.get("policies") or []
            )
            items.append(
                PlannedItem(
                    principal_arn=str(entry["principalArn"]),
                    entry_type=str(entry["type"]),
                    username=entry.get("username"),
                    groups=tuple(str(g) for g in entry.get("kubernetesGroups") or ()),
                    associations=policies,
                    status=str(entry["status"]),
                    blocking_findings=tuple(f"{f['rule']}: {f['message']}" for f in entry.get("findings") or () if is_blocking(f)),
                )
            )
        except (KeyError, TypeError, AttributeError) as error:
            raise PlanFileError(f"{where}: {type(error).__name__}: {str(error)[:120]}") from None
    return cluster, region, items


def apply_plan(eks: EksAccessEntries, cluster: str, region: str, items: list[PlannedItem], *, accept_findings: bool = False) -> ApplyReport:
    state = eks.describe_cluster(cluster)
    if state is None:
        return ApplyReport(cluster, region, None, mode_problem=f"no cluster {cluster} in {region}")
    report = ApplyReport(cluster, region, state.authentication_mode)
    if state.authentication_mode not in API_MODES:
        report.mode_problem = (
            f"the cluster is in {state.authentication_mode} mode, where access entries are not used. Switch it first "
            f"(aws-auth keeps working): {switch_command(cluster, region, 'API_AND_CONFIG_MAP')}"
        )
        return report
    for item in items:
        if item.status != "create":
            continue
        report.outcomes.append(_apply_one(eks, cluster, item, accept_findings))
    report.has_admin_path = has_admin_path(_entries_now(eks, cluster))
    return report


def _apply_one(eks: EksAccessEntries, cluster: str, item: PlannedItem, accept_findings: bool) -> ApplyOutcome:
    if item.blocking_findings and not accept_findings:
        return ApplyOutcome(item, SKIPPED, "findings (use --accept-findings to apply anyway): " + "; ".join(item.blocking_findings))
    try:
        existing = eks.describe_entry(cluster, item.principal_arn)
        created = existing is None
        if created:
            eks.create_entry(_entry_state(cluster, item), with_associations=False)
        elif existing.entry_type != item.entry_type:
            return ApplyOutcome(item, FAILED, f"an entry of type {existing.entry_type} exists (types cannot change): delete it or change the plan")
        have = set(existing.associations) if existing is not None else set()
        for association in item.associations:
            if association not in have:
                eks.associate(cluster, item.principal_arn, association)
        verified = eks.describe_entry(cluster, item.principal_arn)
    except ClientError as error:
        return ApplyOutcome(item, FAILED, str(error)[:300])
    problem = verification_problem(item, verified)
    if problem:
        return ApplyOutcome(item, FAILED, f"verification: {problem}")
    return ApplyOutcome(item, CREATED if created else PRESENT, "created and verified" if created else "already there as planned")


def verification_problem(item: PlannedItem, entry: EntryState | None) -> str | None:
    """What is missing from the cluster's entry for `item`, or None when it gives what the plan says."""
    if entry is None:
        return "no entry"
    if entry.entry_type != item.entry_type:
        return f"type {entry.entry_type}, planned {item.entry_type}"
    if item.entry_type == "STANDARD":
        if not set(item.groups) <= set(entry.groups):
            return f"groups {sorted(entry.groups)}, planned {sorted(item.groups)}"
        if item.username and entry.username != item.username:
            return f"username {entry.username!r}, planned {item.username!r}"
    missing = [a.describe() for a in item.associations if a not in set(entry.associations)]
    return f"missing {', '.join(missing)}" if missing else None


def _entry_state(cluster: str, item: PlannedItem) -> EntryState:
    return EntryState(cluster, item.principal_arn, item.entry_type, item.username, item.groups, {}, item.associations)


def _entries_now(eks: EksAccessEntries, cluster: str) -> list[EntryState]:
    entries = (eks.describe_entry(cluster, principal) for principal in eks.list_principals(cluster))
    return [e for e in entries if e is not None]


def switch_command(cluster: str, region: str, mode: str) -> str:
    return f"aws eks update-cluster-config --region {region} --name {cluster} --access-config authenticationMode={mode}"
