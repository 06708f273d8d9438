"""IAM CreateRole/CreateUser/DeleteRole/DeleteUser: find the access entries this principal
left stale or dangling, in every configured region, and do what `stale-principal` says."""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any, Callable, Mapping

from botocore.exceptions import BotoCoreError, ClientError

from ..adapters.eks import eks_access_for
from ..adapters.iam import IamPrincipals
from ..adapters.read_once import read_once_per_region
from ..alerts.channels import post_json
from ..arns import parse_principal_arn
from ..changes import EventParseError, check_actionable, event_id_of, IamPrincipalCreated, IamPrincipalDeleted, Skipped, parse_event
from ..clients import ClientFactory
from ..engine import ObservedState
from ..enforcement.enforcer import Outcome
from ..enforcement.stale_actions import act_on_stale_safely
from ..state import EntryState
from ..sweep.judge import StaleFinding, entry_as_changes, stale_finding
from ..sweep.snapshot import list_clusters
from ..sweep.stale import classify
from .reporting import Reporter, reject
from .settings import HandlerSettings

log = logging.getLogger(__name__)


class IamPrincipalApp:
    def __init__(
        self,
        settings: HandlerSettings,
        clients: ClientFactory,
        *,
        metrics: Any = None,
        slack_post: Callable[[str, dict[str, Any]], None] = post_json,
    ):
        self.settings = settings
        self.clients = clients
        self.eks_for_region = eks_access_for(clients)
        self.reporter = Reporter(settings, clients, metrics=metrics, slack_post=slack_post)

    def handle(self, event: dict[str, Any], lambda_context: Any = None) -> dict[str, Any]:
        try:
            change = parse_event(event)
            if not isinstance(change, Skipped):
                check_actionable(change)
        except EventParseError as error:
            # malformed: a clean, bounded result (logged, counted), never an exception that
            # Lambda would retry in vain; anything else unexpected still propagates
            return {**reject(error, self.reporter), "event_id": event_id_of(event)}
        if isinstance(change, Skipped) or not isinstance(change, (IamPrincipalCreated, IamPrincipalDeleted)):
            reason = change.reason if isinstance(change, Skipped) else f"not an IAM principal event ({change.meta.event_name})"
            event_id = change.event_id if isinstance(change, Skipped) else change.meta.event_id
            return {"event_id": event_id, "status": "skipped", "reason": reason}
        principals = IamPrincipals(self.clients.client("iam"), change.meta.account)
        eks_for_region = read_once_per_region(self.eks_for_region)
        judged: list[StaleFinding] = []
        for region, cluster_tags, entry in self._bound_entries(change, eks_for_region):
            stale = classify(entry, principals.status(entry.principal_arn))
            if stale is None:
                continue
            entry_change = replace(entry_as_changes(entry, change.meta.account, region)[0], meta=replace(change.meta, region=region))
            state = ObservedState(entry_tags=entry.tags, cluster_tags=cluster_tags, entry_type=entry.entry_type)
            found = stale_finding(stale, entry_change, self.settings.org, state)
            if found:
                judged.append(found)
        outcomes = [self._act(found, eks_for_region) for found in judged]
        failed = self.reporter.report(outcomes)
        summary = {
            "event_id": change.meta.event_id,
            "status": "evaluated",
            "principal": f"{change.kind}/{change.name}",
            "outcomes": [{"rule": o.finding.rule, "status": o.status, "detail": o.detail, "cluster": o.finding.cluster} for o in outcomes],
            "alert_failures": failed,
        }
        log.info("IAM %s %s: %d stale or dangling entr(ies)", change.meta.event_name, change.name, len(outcomes))
        return summary

    def _bound_entries(
        self, change: IamPrincipalCreated | IamPrincipalDeleted, eks_for_region: Callable[[str], Any]
    ) -> list[tuple[str, Mapping[str, str], EntryState]]:
        """Entries whose principal is this role or user, whatever its path (the event has only the name)."""
        found = []
        refs, errors = list_clusters(eks_for_region, self.settings.regions)
        for error in errors:
            log.error("IAM principal check: %s", error)
        wanted = (change.meta.account, change.kind, change.name)
        for ref in refs:
            eks = eks_for_region(ref.region)
            try:
                cluster_tags: Mapping[str, str] | None = None
                for principal_arn in eks.list_principals(ref.name):
                    principal = parse_principal_arn(principal_arn)
                    if principal and (principal.account, principal.kind, principal.name) == wanted:
                        entry = eks.describe_entry(ref.name, principal_arn)
                        if entry is not None:
                            if cluster_tags is None:
                                cluster = eks.describe_cluster(ref.name)
                                cluster_tags = cluster.tags if cluster else {}
                            found.append((ref.region, cluster_tags, entry))
            except (ClientError, BotoCoreError) as error:
                # CONFIG_MAP clusters have no entries; a failing cluster must not hide the others.
                log.warning("IAM principal check: %s/%s skipped: %s", ref.region, ref.name, error)
        return found

    def _act(self, judged: StaleFinding, eks_for_region: Callable[[str], Any]) -> Outcome:
        finding = judged.finding
        result = act_on_stale_safely(finding.action, judged.stale, eks_for_region(finding.region), self.settings.org)
        if result is None:
            detail = "alert only" if finding.configured_action == "alert" else f"alert only (configured: {finding.configured_action})"
            return Outcome(finding, "alerted", detail)
        return Outcome(finding, result.status, result.detail)
