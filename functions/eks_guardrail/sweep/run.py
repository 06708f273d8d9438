"""One read-only pass over an account: snapshots, then judgement. Shared by the sweep
handler, `eks-guardrail scan` and the IAM-principal handler."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Iterable

from botocore.exceptions import BotoCoreError, ClientError

from ..adapters.eks import EksAccessEntries
from ..adapters.iam import IamPrincipals
from ..config import OrgRules
from ..findings import Finding
from .judge import StaleFinding, judge_cluster
from .snapshot import ClusterSnapshot, Progress, list_clusters, read_clusters


@dataclass
class SweepResult:
    clusters: list[ClusterSnapshot] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    stale: list[StaleFinding] = field(default_factory=list)
    #: Regions or clusters that could not be read.
    errors: list[str] = field(default_factory=list)


def sweep_account(
    *,
    account: str,
    regions: Iterable[str],
    org: OrgRules,
    eks_for_region: Callable[[str], EksAccessEntries],
    principals: IamPrincipals,
    max_workers: int = 4,
    progress: Progress | None = None,
) -> SweepResult:
    result = SweepResult()
    refs, result.errors = list_clusters(eks_for_region, regions)
    result.clusters = read_clusters(eks_for_region, refs, max_workers=max_workers, progress=progress)
    for snapshot in result.clusters:
        if snapshot.error:
            result.errors.append(f"{snapshot.region}/{snapshot.name}: {snapshot.error}")
            continue
        try:
            findings, stale = judge_cluster(snapshot, account, org, principals.status, principals.trusted_services)
        except (ClientError, BotoCoreError) as error:  # e.g. iam:GetRole denied
            result.errors.append(f"{snapshot.region}/{snapshot.name}: cannot judge: {type(error).__name__}: {error}")
            continue
        result.findings += findings
        result.stale += stale
    return result
