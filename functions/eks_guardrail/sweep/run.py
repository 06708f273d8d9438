"""One read-only pass over an account: snapshots, then judgement. Shared by the sweep
handler, `eks-guardrail scan` and the IAM-principal handler."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

from botocore.exceptions import BotoCoreError, ClientError

from ..adapters.eks import EksAccessEntries
from ..adapters.iam import IamPrincipals
from ..config import OrgRules
from ..findings import Finding
from .judge import StaleFinding, judge_cluster
from .snapshot import ClusterRef, ClusterSnapshot, Progress, list_clusters, read_clusters


@dataclass
class SweepResult:
    clusters: list[ClusterSnapshot] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    stale: list[StaleFinding] = field(default_factory=list)
    #: Regions or clusters that could not be read.
    errors: list[str] = field(default_factory=list)
    #: `region/name` of the clusters that could not be read or judged (a deleted one was swept: it is gone).
    unswept: list[str] = field(default_factory=list)


def sweep_account(*, regions: Iterable[str], eks_for_region: Callable[[str], EksAccessEntries], **options: Any) -> SweepResult:
    """Every cluster of the regions (`sweep_clusters`' options: account, org, principals, ...);
    a region that cannot be listed is an error line, the others are swept."""
    refs, errors = list_clusters(eks_for_region, regions)
    result = sweep_clusters(refs=refs, eks_for_region=eks_for_region, **options)
    result.errors[:0] = errors
    return result


def sweep_clusters(
    *,
    account: str,
    refs: list[ClusterRef],
    org: OrgRules,
    eks_for_region: Callable[[str], EksAccessEntries],
    principals: IamPrincipals,
    max_workers: int = 8,
    progress: Progress | None = None,
) -> SweepResult:
    """Read, then judge, the given clusters: every AWS call (EKS reads, then one IAM lookup per
    distinct principal) in a pool of `max_workers` threads."""
    result = SweepResult()
    result.clusters = read_clusters(eks_for_region, refs, max_workers=max_workers, progress=progress)
    with ThreadPoolExecutor(max_workers=max(1, max_workers)) as pool:
        principals.look_up((e.principal_arn for c in result.clusters for e in c.entries), pool)
    for snapshot in result.clusters:
        if snapshot.error:
            result.errors.append(f"{snapshot.region}/{snapshot.name}: {snapshot.error}")
            if not snapshot.gone:
                result.unswept.append(f"{snapshot.region}/{snapshot.name}")
            continue
        try:
            findings, stale = judge_cluster(snapshot, account, org, principals.status, principals.trusted_services)
        except (ClientError, BotoCoreError) as error:  # e.g. iam:GetRole denied
            result.errors.append(f"{snapshot.region}/{snapshot.name}: cannot judge: {type(error).__name__}: {error}")
            result.unswept.append(f"{snapshot.region}/{snapshot.name}")
            continue
        result.findings += findings
        result.stale += stale
    return result
