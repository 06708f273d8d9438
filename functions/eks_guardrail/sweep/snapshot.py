"""Read every cluster's access configuration: the unit of work is one cluster.

Bounded concurrency (a thread pool over clusters), pagination everywhere, and a cluster
that fails is reported while the rest continue. One cluster per unit also lets the sweep
fan out later (one queue message per cluster) without a redesign.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from typing import Callable, Iterable

from botocore.exceptions import BotoCoreError, ClientError

from ..adapters.eks import EksAccessEntries
from ..state import EntryState


@dataclass(frozen=True)
class ClusterRef:
    region: str
    name: str


@dataclass(frozen=True)
class ClusterSnapshot:
    region: str
    name: str
    authentication_mode: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    entries: tuple[EntryState, ...] = ()
    #: Why this cluster could not be read; the others still are.
    error: str | None = None
    arn: str | None = None


Progress = Callable[[int, int, ClusterRef], None]


def list_clusters(eks_for_region: Callable[[str], EksAccessEntries], regions: Iterable[str]) -> tuple[list[ClusterRef], list[str]]:
    """Every cluster in the regions, and an error line per region that could not be listed."""
    refs, errors = [], []
    for region in regions:
        try:
            refs += [ClusterRef(region, name) for name in eks_for_region(region).list_clusters()]
        except (ClientError, BotoCoreError) as error:
            errors.append(f"{region}: cannot list clusters: {error}")
    return refs, errors


def read_cluster(eks: EksAccessEntries, ref: ClusterRef) -> ClusterSnapshot:
    try:
        cluster = eks.describe_cluster(ref.name)
        if cluster is None:
            return ClusterSnapshot(ref.region, ref.name, error="the cluster no longer exists")
        if cluster.authentication_mode == "CONFIG_MAP":
            # Access entries do not exist in this mode; the mode itself is still judged.
            return ClusterSnapshot(ref.region, ref.name, cluster.authentication_mode, dict(cluster.tags), arn=cluster.arn)
        entries = []
        for principal in eks.list_principals(ref.name):
            entry = eks.describe_entry(ref.name, principal)
            if entry is not None:  # deleted while we read: nothing to judge
                entries.append(entry)
        return ClusterSnapshot(ref.region, ref.name, cluster.authentication_mode, dict(cluster.tags), tuple(entries), arn=cluster.arn)
    except (ClientError, BotoCoreError) as error:
        return ClusterSnapshot(ref.region, ref.name, error=f"{type(error).__name__}: {error}")


def read_clusters(
    eks_for_region: Callable[[str], EksAccessEntries],
    refs: list[ClusterRef],
    *,
    max_workers: int = 4,
    progress: Progress | None = None,
) -> list[ClusterSnapshot]:
    """Snapshots in the order of `refs`; `progress(done, total, ref)` after each cluster."""
    results: dict[ClusterRef, ClusterSnapshot] = {}
    with ThreadPoolExecutor(max_workers=max(1, max_workers)) as pool:
        futures = {pool.submit(read_cluster, eks_for_region(ref.region), ref): ref for ref in refs}
        for done, future in enumerate(as_completed(futures), 1):
            ref = futures[future]
            results[ref] = future.result()
            if progress:
                progress(done, len(refs), ref)
    return [results[ref] for ref in refs]

