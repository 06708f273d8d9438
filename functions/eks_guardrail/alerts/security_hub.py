"""Findings as AWS Security Hub findings (ASFF), imported with `BatchImportFindings` into the account's default product.

One Security Hub finding per (account, region, cluster, principal, rule): its `Id` is built from
them, so a later outcome of the same violation re-imports (updates) it, never duplicates it.
Its workflow follows the guardrail: `RESOLVED` (and the record `ARCHIVED`) when the change was
rolled back or is already undone, or when the sweep no longer sees the violation; `NOTIFIED`
when the guardrail alerted; `NEW` when it could not act (refused for lockout, failed, deferred,
not undone): someone must. Imports go in batches of at most 100; a finding Security Hub refuses
is counted as a channel failure and never blocks the alert or the rollback.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Callable, Iterable

from botocore.exceptions import BotoCoreError, ClientError

from ..enforcement.enforcer import Outcome
from ..findings import Finding

log = logging.getLogger(__name__)

SCHEMA_VERSION = "2018-10-08"
BATCH = 100
SEVERITY_LABEL = {"low": "LOW", "medium": "MEDIUM", "high": "HIGH", "critical": "CRITICAL"}
RESOLVED_STATUSES = frozenset({"rolled-back", "already-undone"})
TYPES = ["Software and Configuration Checks/Industry and Regulatory Standards/eks-guardrail", "TTPs/Privilege Escalation"]
REMEDIATION = {
    "rolled-back": "The guardrail rolled the change back. Check who made it and why; grant access through the approved path.",
    "already-undone": "The change was already undone when the guardrail looked. Check who made it and why.",
    "alerted": "Review the change against the organisation's access rules; undo it if it was not approved (the guardrail only alerts for this rule).",
}
NEEDS_ACTION = "The guardrail could not undo this change ({status}): undo it by hand, or make the rule's conditions hold (see the description)."


def product_arn(account: str, region: str) -> str:
    return f"arn:aws:securityhub:{region}:{account}:product/{account}/default"


def finding_id(account: str, region: str, cluster: str | None, principal: str | None, rule: str) -> str:
    return f"eks-guardrail/{account}/{region}/{cluster or '-'}/{principal or '-'}/{rule}"


def workflow_of(status: str) -> str:
    if status in RESOLVED_STATUSES:
        return "RESOLVED"
    return "NOTIFIED" if status == "alerted" else "NEW"


def _resources(f: Finding) -> list[dict[str, Any]]:
    resources = []
    if f.cluster:
        resources.append(
            {
                "Type": "AwsEksCluster",
                "Id": f"arn:aws:eks:{f.region}:{f.account}:cluster/{f.cluster}",
                "Region": f.region,
                "Details": {"AwsEksCluster": {"Name": f.cluster}},
            }
        )
    other = {k: v for k, v in (("principalArn", f.principal_arn), ("policyArn", f.policy_arn), ("cluster", f.cluster), ("rule", f.rule)) if v}
    resources.append({"Type": "Other", "Id": f.principal_arn or f.cluster or f.account, "Region": f.region, "Details": {"Other": other}})
    return resources


def asff_finding(outcome: Outcome, *, now: datetime | None = None) -> dict[str, Any]:
    """The ASFF document for one outcome (pure)."""
    f = outcome.finding
    updated = (now or datetime.now(timezone.utc)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    workflow = workflow_of(outcome.status)
    remediation = REMEDIATION.get(outcome.status) or NEEDS_ACTION.format(status=outcome.status)
    return {
        "SchemaVersion": SCHEMA_VERSION,
        "Id": finding_id(f.account, f.region, f.cluster, f.principal_arn, f.rule),
        "ProductArn": product_arn(f.account, f.region),
        "GeneratorId": f"eks-guardrail/{f.rule}",
        "AwsAccountId": f.account,
        "Types": TYPES,
        "CreatedAt": f.event_time or updated,
        "UpdatedAt": updated,
        "Severity": {"Label": SEVERITY_LABEL.get(f.severity, "MEDIUM"), "Original": f.severity},
        "Title": f"{f.rule} on {f.cluster or f.account}: {outcome.status}"[:256],
        "Description": f.message[:1024],
        "Remediation": {"Recommendation": {"Text": remediation[:512]}},
        "Resources": _resources(f),
        "Workflow": {"Status": workflow},
        "RecordState": "ARCHIVED" if workflow == "RESOLVED" else "ACTIVE",
        "ProductFields": {
            "eks-guardrail/status": outcome.status,
            "eks-guardrail/detail": outcome.detail[:1000],
            "eks-guardrail/actor": f.actor_arn or "",
            "eks-guardrail/event": f"{f.event_name} {f.event_id}",
            "eks-guardrail/exempt": str(f.exempt).lower(),
        },
        "UserDefinedFields": {"actor": f.actor_arn or "", "action": f.action, "configuredAction": f.configured_action},
    }


def resolved_finding(account: str, region: str, cluster: str | None, principal: str | None, rule: str, *, now: datetime | None = None) -> dict[str, Any]:
    """The update that resolves a finding the sweep no longer sees (same Id)."""
    updated = (now or datetime.now(timezone.utc)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    finding = Finding(
        rule=rule, severity="low", action="alert", configured_action="alert", exempt=False,
        message=f"The sweep no longer sees this {rule} violation on {cluster or account}: it was undone or the rules changed.",
        event_id="", event_name="sweep", event_time=updated, account=account, region=region, cluster=cluster,
        principal_arn=principal, policy_arn=None, actor_arn="",
    )
    document = asff_finding(Outcome(finding, "already-undone", "gone at the sweep"), now=now)
    document.pop("CreatedAt")  # unknown here; Security Hub keeps the original
    document["CreatedAt"] = updated
    document["Severity"] = {"Label": "INFORMATIONAL", "Original": "resolved"}
    return document


@dataclass
class SecurityHubSink:
    """Imports documents into each one's region, 100 at a time; returns how many Security Hub refused or could not take."""

    client_for: Callable[[str], Any]  # region -> securityhub client
    on_failure: Callable[[int], None] = lambda count: None

    def send(self, documents: Iterable[dict[str, Any]]) -> int:
        by_region: dict[str, list[dict[str, Any]]] = {}
        for document in documents:
            by_region.setdefault(document["ProductArn"].split(":")[3], []).append(document)
        failed = 0
        for region, batch in by_region.items():
            for start in range(0, len(batch), BATCH):
                chunk = batch[start : start + BATCH]
                try:
                    answer = self.client_for(region).batch_import_findings(Findings=chunk)
                except (ClientError, BotoCoreError) as error:
                    log.warning("security hub import failed in %s: %s", region, type(error).__name__)
                    failed += len(chunk)
                    continue
                for refused in answer.get("FailedFindings", []):
                    log.warning("security hub refused %s: %s %s", refused.get("Id"), refused.get("ErrorCode"), refused.get("ErrorMessage"))
                failed += int(answer.get("FailedCount", 0))
        if failed:
            self.on_failure(failed)
        return failed
