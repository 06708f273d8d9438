"""The scheduled sweep: judge every cluster's state, act on stale principals, refresh the
ledger, alert what is new since the last sweep."""

from __future__ import annotations

import json
import logging
from concurrent.futures import Executor, ThreadPoolExecutor
from typing import Any, Callable

from ..adapters.eks import eks_access_for
from ..adapters.iam import IamPrincipals
from botocore.exceptions import BotoCoreError, ClientError

from ..adapters.ledger import DeferredCreatorRemovals, DynamoDbLedger, ExemptionTagGrants, PendingDecisions, entry_to_json
from ..arns import matches_any
from ..enforcement.exemption_tags import TagGuard
from ..enforcement.reconcile import acceptable
from ..enforcement.sweep_reconcile import reconcile_cluster
from ..enforcement.rollbacks.base import protected_principals
from ..alerts.channels import post_json
from ..clients import SWEEP_RETRIES, ClientFactory
from ..enforcement.enforcer import Outcome
from ..enforcement.rollbacks.base import DEFERRED, FAILED, RollbackResult
from ..enforcement.rollbacks.creator_admin import remove_creator_entry
from ..enforcement.stale_actions import act_on_stale_safely
from ..findings import Finding
from ..sweep.judge import creator_admin_finding
from ..state import EntryState
from ..sweep.run import SweepResult, sweep_clusters
from ..sweep.snapshot import ClusterRef, ClusterSnapshot, list_clusters
from .reporting import Reporter
from .settings import HandlerSettings

log = logging.getLogger(__name__)

DRIFT_DETAIL = "found by the sweep (no event reported it, or it predates the guardrail); the sweep reports, it does not roll back"


def fingerprint(finding: Finding) -> str:
    return "|".join((finding.rule, finding.region, finding.cluster or "", finding.principal_arn or "", finding.policy_arn or ""))


def parse_fingerprint(print_: str) -> tuple[str, str, str, str]:
    """(rule, region, cluster, principal) of a `fingerprint` ("" where it had none)."""
    rule, region, cluster, principal, _policy = (print_.split("|") + ["", "", "", "", ""])[:5]
    return rule, region, cluster, principal


def gone_findings(seen_before: set[str], result: SweepResult) -> list[tuple[str, str, str | None, str | None]]:
    """(region, rule, cluster, principal) of what the previous sweep reported and this one no longer sees.

    Only where this sweep really looked: a cluster it read, or one gone from a region it listed.
    A cluster or region it could not read says nothing, so nothing of it is resolved."""
    still = {(f.region, f.rule, f.cluster or "", f.principal_arn or "") for f in result.findings}
    read = {(c.region, c.name) for c in result.clusters if c.error is None}
    unreadable = {(c.region, c.name) for c in result.clusters if c.error is not None and not c.gone}
    unlisted_regions = {e.split(":", 1)[0] for e in result.errors if ": cannot list clusters:" in e}
    gone = set()
    for rule, region, cluster, principal in map(parse_fingerprint, seen_before):
        looked = (region, cluster) in read or ((region, cluster) not in unreadable and region not in unlisted_regions)
        if looked and (region, rule, cluster, principal) not in still:
            gone.add((region, rule, cluster or None, principal or None))
    return sorted(gone, key=lambda g: tuple(x or "" for x in g))


class SweepMemory:
    """What the previous sweep reported, so each run alerts only what is new (kept in the ledger table)."""

    def __init__(self, dynamodb_client: Any, table: str, scope: str):
        self._ddb, self._table, self._key = dynamodb_client, table, {"pk": {"S": "sweep-memory"}, "sk": {"S": scope}}

    def previous(self) -> set[str]:
        item = self._ddb.get_item(TableName=self._table, Key=self._key, ConsistentRead=True).get("Item")
        return set(json.loads(item["fingerprints"]["S"])) if item else set()

    def remember(self, fingerprints: set[str]) -> None:
        self._ddb.put_item(TableName=self._table, Item={**self._key, "fingerprints": {"S": json.dumps(sorted(fingerprints))}})

    def forget(self) -> None:
        self._ddb.delete_item(TableName=self._table, Key=self._key)

    @staticmethod
    def scopes(dynamodb_client: Any, table: str, account: str) -> list[str]:
        """Every scope remembered for the account (`account/regions`, or `account/region/cluster`)."""
        scopes = []
        for page in dynamodb_client.get_paginator("query").paginate(
            TableName=table,
            KeyConditionExpression="pk = :pk AND begins_with(sk, :account)",
            ExpressionAttributeValues={":pk": {"S": "sweep-memory"}, ":account": {"S": f"{account}/"}},
            ProjectionExpression="sk",
        ):
            scopes += [item["sk"]["S"] for item in page.get("Items", [])]
        return scopes


class SweepApp:
    def __init__(
        self,
        settings: HandlerSettings,
        clients: ClientFactory,
        *,
        account: str | None = None,
        metrics: Any = None,
        slack_post: Callable[[str, dict[str, Any]], None] = post_json,
        max_workers: int | None = None,
    ):
        self.settings = settings
        self.clients = clients
        self.account = account
        self.max_workers = max_workers or settings.sweep_threads
        self.reporter = Reporter(settings, clients, metrics=metrics, slack_post=slack_post)
        self.ledger = DynamoDbLedger(clients.client("dynamodb"), settings.ledger_table)

    def handle(self, event: dict[str, Any] | None = None, lambda_context: Any = None) -> dict[str, Any]:
        """The scheduled run: with a sweep queue, send one message per cluster (`sweep_fanout.py`);
        without, sweep every cluster here."""
        account = self.account or _account_of(lambda_context) or self.clients.client("sts").get_caller_identity()["Account"]
        eks_for_region = eks_access_for(self.clients)
        refs, errors = list_clusters(eks_for_region, self.settings.regions)
        creator_outcomes = self._retry_creator_removals(account, eks_for_region)
        if self.settings.sweep_queue_url:
            from .sweep_fanout import fan_out

            return fan_out(self, account, refs, errors, creator_outcomes)
        return self.sweep(account, refs, memory_scope=f"{account}/{','.join(self.settings.regions)}", errors=errors, done_before=creator_outcomes)

    def sweep(
        self,
        account: str,
        refs: list[ClusterRef],
        *,
        memory_scope: str,
        errors: list[str] = (),  # type: ignore[assignment]
        done_before: list[Outcome] = (),  # type: ignore[assignment]
        principals: IamPrincipals | None = None,
    ) -> dict[str, Any]:
        """Sweep these clusters (all of the account's, or one worker's): judge, act, reconcile,
        alert what is new since the last run of the same scope, refresh the ledger.
        `principals`: IAM answers already read in this run (a worker's earlier clusters)."""
        eks_for_region = eks_access_for(self.clients)
        result = sweep_clusters(
            account=account,
            refs=refs,
            org=self.settings.org,
            eks_for_region=eks_for_region,
            principals=principals or IamPrincipals(self.clients.client("iam"), account),
            max_workers=self.max_workers,
        )
        result.errors[:0] = errors
        with ThreadPoolExecutor(max_workers=self.max_workers) as pool:
            records = self._ledger_records(account, result, pool)
            acted = {id(s.finding): self._act(s, eks_for_region) for s in result.stale if s.finding.action in ("delete", "rebind")}
            reconciled, converged = self._reconcile(account, result, eks_for_region, records, pool)
            creator_outcomes = [*done_before, *reconciled]
            memory = SweepMemory(self.clients.client("dynamodb"), self.settings.ledger_table, memory_scope)
            seen_before = memory.previous()
            outcomes = [
                acted.get(id(f)) or Outcome(f, "alerted", DRIFT_DETAIL)
                for f in result.findings
                if (f.region, f.cluster, f.principal_arn) not in converged
            ]
            new = [o for o in outcomes if o.status != "alerted" or fingerprint(o.finding) not in seen_before] + creator_outcomes
            failed = self.reporter.report(new)
            failed += self.reporter.resolve(account, gone_findings(seen_before, result))
            memory.remember({fingerprint(f) for f in result.findings})
            refreshed, unchanged = self._refresh_ledger(account, result, records, skip=converged, pool=pool)
        for error in result.errors:
            log.error("sweep: %s", error)
            self.reporter.count("SweepErrors")
        summary = {
            "account": account,
            "regions": sorted({ref.region for ref in refs}) if self.settings.sweep_queue_url else list(self.settings.regions),
            "clusters": len(result.clusters),
            "entries": sum(len(c.entries) for c in result.clusters),
            "findings": len(result.findings),
            "alerted": len(new),
            "acted": [{"rule": o.finding.rule, "status": o.status, "detail": o.detail} for o in [*acted.values(), *creator_outcomes]],
            "ledger_refreshed": refreshed,
            "ledger_unchanged": unchanged,
            "errors": result.errors,
            "unswept": result.unswept,
            "alert_failures": failed,
        }
        log.info("sweep done", extra={"summary": summary})
        return summary

    def forget_gone_clusters(self, account: str, refs: list[ClusterRef], errors: list[str]) -> list[str]:
        """Fan-out runs remember each cluster apart: a cluster no longer listed (in a region that
        was listed) has its findings resolved and its memory dropped. Returns failed channels."""
        ddb, table = self.clients.client("dynamodb"), self.settings.ledger_table
        listed = {(ref.region, ref.name) for ref in refs}
        unlisted_regions = {e.split(":", 1)[0] for e in errors}
        failed: list[str] = []
        for scope in SweepMemory.scopes(ddb, table, account):
            parts = scope.split("/")
            if len(parts) != 3 or parts[1] not in self.settings.regions or parts[1] in unlisted_regions or (parts[1], parts[2]) in listed:
                continue
            memory = SweepMemory(ddb, table, scope)
            gone = [(region, rule, cluster or None, principal or None) for rule, region, cluster, principal in map(parse_fingerprint, memory.previous())]
            failed += self.reporter.resolve(account, sorted(set(gone), key=lambda g: tuple(x or "" for x in g)))
            memory.forget()
        return failed

    def _act(self, stale, eks_for_region) -> Outcome:
        finding = stale.finding
        result = act_on_stale_safely(finding.action, stale.stale, eks_for_region(finding.region), self.settings.org)
        assert result is not None
        return Outcome(finding, result.status, result.detail)

    def _retry_creator_removals(self, account: str, eks_for_region) -> list[Outcome]:
        """Creator-admin removals the access-entry handler had to defer (`bootstrap-admin: rollback`)."""
        org = self.settings.org
        if org.mode != "enforce" or org.settings("bootstrap-admin").action != "rollback":
            return []
        deferred = DeferredCreatorRemovals(self.clients.client("dynamodb"), self.settings.ledger_table, account)
        outcomes = []
        for key, creator in deferred.all().items():
            region, cluster = key.split("/", 1)
            try:
                result = remove_creator_entry(eks_for_region(region), org, cluster, creator)
            except (ClientError, BotoCoreError) as error:
                result = RollbackResult(FAILED, f"removal failed: {type(error).__name__}: {error}")
            if result.status == DEFERRED:
                continue  # still not possible: next sweep
            if result.status != FAILED:
                deferred.done(region, cluster)
            outcomes.append(Outcome(creator_admin_finding(org, account, region, cluster, creator), result.status, result.detail))
        return outcomes

    def _ledger_records(self, account: str, result: SweepResult, pool: Executor) -> dict[tuple[str, str], dict[str, EntryState]]:
        """The ledger's records of every cluster read (one Query each, run in `pool`)."""
        clusters = [(c.region, c.name) for c in result.clusters if c.error is None and c.authentication_mode != "CONFIG_MAP"]
        read = pool.map(lambda where: self.ledger.of_cluster(account, *where), clusters)
        return dict(zip(clusters, read))

    def _reconcile(self, account: str, result: SweepResult, eks_for_region, records, pool: Executor) -> tuple[list[Outcome], set[tuple]]:
        """`enforce` only: bring every entry the rules would roll back, every protected entry that
        vanished or weakened unseen, and every pending decision to what the rules demand, with
        the same lockout protection as the event handler (clusters in parallel). Returns the
        outcomes and the (region, cluster, principal) reconciled (their state changed: not
        drift, not recorded)."""
        org = self.settings.org
        if org.mode != "enforce":
            return [], set()
        pending_store = PendingDecisions(self.clients.client("dynamodb"), self.settings.ledger_table)
        waiting = pending_store.of_clusters(account, records)
        guard = TagGuard(org, ExemptionTagGrants(self.clients.client("dynamodb"), self.settings.ledger_table))
        by_cluster: dict[tuple[str, str], list[Finding]] = {}
        for f in result.findings:
            by_cluster.setdefault((f.region, f.cluster or ""), []).append(f)

        def reconcile(snapshot: ClusterSnapshot) -> tuple[list[Outcome], set[str]]:
            where = (snapshot.region, snapshot.name)
            return reconcile_cluster(
                org=org, eks=eks_for_region(snapshot.region), ledger=self.ledger, pending=pending_store, tags=guard,
                account=account, snapshot=snapshot, findings=by_cluster.get(where, []), known=records[where], waiting=waiting[where],
            )

        snapshots = [c for c in result.clusters if (c.region, c.name) in records]
        outcomes: list[Outcome] = []
        converged: set[tuple] = set()
        for snapshot, (done, principals) in zip(snapshots, pool.map(reconcile, snapshots)):
            outcomes += done
            converged |= {(snapshot.region, snapshot.name, p) for p in principals}
        return outcomes, converged

    def _refresh_ledger(self, account: str, result: SweepResult, records, *, skip: set[tuple], pool: Executor) -> tuple[int, int]:
        """Record every entry the rules accept (alert-only findings do not stop it) and the ledger
        does not already hold as it is: written in batches. A protected entry weaker than the
        ledger's record is never recorded (it is restored instead). Returns (written, unchanged)."""
        unacceptable = {
            (f.region, f.cluster, f.principal_arn) for f in result.findings if not f.exempt and f.configured_action != "alert"
        } | set(skip)
        protected = protected_principals(self.settings.org)
        changed: list[tuple[str, EntryState]] = []
        unchanged = 0
        for cluster in result.clusters:
            known = records.get((cluster.region, cluster.name), {})
            for entry in cluster.entries:
                before = known.get(entry.principal_arn)
                if matches_any(protected, entry.principal_arn) and not acceptable(entry, self.settings.org, account, cluster.region, before):
                    continue
                if (cluster.region, cluster.name, entry.principal_arn) in unacceptable:
                    continue
                if before is not None and entry_to_json(before) == entry_to_json(entry):
                    unchanged += 1
                    continue
                changed.append((cluster.region, entry))
        return self.ledger.put_many(account, changed, source="sweep", pool=pool), unchanged


def _account_of(lambda_context: Any) -> str | None:
    arn = getattr(lambda_context, "invoked_function_arn", "") or ""
    parts = arn.split(":")
    return parts[4] if len(parts) > 4 and parts[4] else None


def sweep_clients(session=None) -> ClientFactory:
    return ClientFactory(session, config=SWEEP_RETRIES)
