"""The sweep's half of convergence: reconcile one cluster from its snapshot (`enforce` only).

Targets: every entry a rule would roll back, every protected entry that vanished or weakened
without an event reaching the handler (from the ledger's records of the cluster), and every
pending decision. Protected restores go first, so the admin path they give back lets the
removals that follow pass lockout protection.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from ..adapters.eks import EksAccessEntries
from ..adapters.read_once import ReadOnceEks, ReadOnceLedger
from ..arns import matches_any
from ..config import OrgRules
from ..engine import ObservedState
from ..findings import Finding
from ..state import EntryState
from ..sweep.snapshot import ClusterSnapshot
from .enforcer import Outcome, Pending, _parse_time, _pending_record, _with_finding, attempt, failed_attempt
from .exemption_tags import TagGuard
from .reconcile import REMEDY_KIND, Reconciler, acceptable
from .rollbacks.base import protected_principals


def reconcile_cluster(
    *,
    org: OrgRules,
    eks: EksAccessEntries,
    ledger: Any,
    pending: Pending,
    tags: TagGuard | None,
    account: str,
    snapshot: ClusterSnapshot,
    findings: list[Finding],
    known: dict[str, EntryState] | None = None,
    waiting: Any = None,
) -> tuple[list[Outcome], set[str]]:
    """Outcomes to report (new ones only: a pending decision is not re-alerted while its status
    stays the same), and the principals whose entries were acted on.

    `known` (the ledger's records of the cluster) and `waiting` (its pending decisions) are
    read here unless the caller read them, in batches, moments ago."""
    region, cluster = snapshot.region, snapshot.name
    protected = protected_principals(org)
    present = {e.principal_arn: e for e in snapshot.entries}
    known = ledger.of_cluster(account, region, cluster) if known is None else known
    waiting = pending.of_cluster(account, region, cluster) if waiting is None else waiting
    targets = {f.principal_arn for f in findings if f.configured_action == "rollback" and f.rule in REMEDY_KIND and f.principal_arn}
    targets |= {
        p for p, state in known.items() if matches_any(protected, p) and (p not in present or not acceptable(present[p], org, account, region, state))
    }
    targets |= set(waiting)
    if not targets:
        return [], set()

    def observe(entry: Any) -> ObservedState:
        trusted = tags.trusted if tags is not None else (lambda arn, t: {})
        return ObservedState(entry_tags=trusted(entry.arn, entry.tags), cluster_tags=trusted(snapshot.arn, snapshot.tags), entry_type=entry.entry_type)

    eks = ReadOnceEks(eks)  # type: ignore[assignment]  # e.g. the lockout view, once per removal at most
    # What decides a restore is read fresh, target by target (the batch read above may predate a
    # good state the event handler recorded since): once each, for the few targets only.
    reconciler = Reconciler(org, eks, account, region, known_good=ReadOnceLedger(ledger).get, observe=observe)
    outcomes: list[Outcome] = []
    acted: set[str] = set()
    updates: dict[str, dict[str, Any] | None] = {}
    for principal in sorted(targets, key=lambda p: (not matches_any(protected, p), p)):
        born_bad = _parse_time(waiting.get(principal, {}).get("born_bad_at"))
        try:
            done = attempt(reconciler, tags, cluster, principal, waiting.get(principal), born_bad_at=born_bad)
        except (ClientError, BotoCoreError) as error:
            done = failed_attempt(principal, f"failed: {type(error).__name__}: {error}"[:300])
        updates[principal] = _pending_record(done, born_bad, waiting.get(principal))
        if done.remedies:
            acted.add(principal)
        seen: set[int] = set()
        for remedy in done.remedies:
            if id(remedy.result) in seen or (principal in waiting and remedy.result.status == waiting[principal].get("status")):
                continue  # one alert per step; a decision told before is not told again
            seen.add(id(remedy.result))
            remedy = _with_finding(remedy, done, org, account, region, cluster, principal)
            if remedy.finding is not None:
                outcomes.append(Outcome(remedy.finding, remedy.result.status, remedy.result.detail))
    pending.update(account, region, cluster, {p: r for p, r in updates.items() if r is not None or p in waiting}, based_on=waiting)
    return outcomes, acted
