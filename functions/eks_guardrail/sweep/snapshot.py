"""Read every cluster's access configuration: the unit of work is one cluster.

Bounded concurrency (one thread pool over every call of every cluster), pagination
everywhere, and a cluster that fails is reported while the rest continue. The sweep fans out
one queue message per cluster (`sweep/fanout.py`); `scan` reads all clusters in one process.
"""

from __future__ import annotations

import queue
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Callable, Iterable

from botocore.exceptions import BotoCoreError, ClientError

from ..adapters.eks import EksAccessEntries
from ..state import ClusterState, EntryState


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

    @property
    def gone(self) -> bool:
        return self.error == GONE


Progress = Callable[[int, int, ClusterRef], None]

#: A cluster deleted between listing and reading: nothing to judge, and nothing failed.
GONE = "the cluster no longer exists"


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
    """One cluster, one call at a time (see `read_clusters` for many)."""
    return read_clusters(lambda region: eks, [ref], max_workers=1)[0]


@dataclass
class _Reading:
    """One cluster while it is read: its head (cluster, principals), then its entries."""

    ref: ClusterRef
    eks: EksAccessEntries
    cluster: ClusterState | None = None
    principals: list[str] = field(default_factory=list)
    entries: list[EntryState | None] = field(default_factory=list)
    error: str | None = None
    left: int = 0

    def read_head(self) -> None:
        try:
            self.cluster = self.eks.describe_cluster(self.ref.name)
            if self.cluster is None:
                self.error = GONE
            elif self.cluster.authentication_mode != "CONFIG_MAP":  # no access entries in that mode
                self.principals = list(self.eks.list_principals(self.ref.name))
        except (ClientError, BotoCoreError) as error:
            self.error = f"{type(error).__name__}: {error}"
        self.entries = [None] * len(self.principals)
        self.left = len(self.principals)

    def read_entry(self, index: int) -> None:
        try:
            self.entries[index] = self.eks.describe_entry(self.ref.name, self.principals[index])
        except (ClientError, BotoCoreError) as error:
            self.error = self.error or f"{type(error).__name__}: {error}"

    def snapshot(self) -> ClusterSnapshot:
        if self.error or self.cluster is None:
            return ClusterSnapshot(self.ref.region, self.ref.name, error=self.error or GONE)
        cluster = self.cluster
        entries = tuple(e for e in self.entries if e is not None)  # None: deleted while we read
        return ClusterSnapshot(self.ref.region, self.ref.name, cluster.authentication_mode, dict(cluster.tags), entries, arn=cluster.arn)


def read_clusters(
    eks_for_region: Callable[[str], EksAccessEntries],
    refs: list[ClusterRef],
    *,
    max_workers: int = 8,
    progress: Progress | None = None,
) -> list[ClusterSnapshot]:
    """Snapshots in the order of `refs`; `progress(done, total, ref)` after each cluster.

    Every call is one task in one pool of `max_workers` threads: first each cluster's head
    (DescribeCluster, ListAccessEntries), then every entry of every cluster (DescribeAccessEntry
    and its associations), so the pool stays full whether there are few clusters or many,
    small or large. A cluster that fails is reported; the others are read on."""
    readings = [_Reading(ref, eks_for_region(ref.region)) for ref in refs]
    done = 0

    def finished(reading: _Reading) -> None:
        nonlocal done
        done += 1
        if progress:
            progress(done, len(refs), reading.ref)

    results: queue.SimpleQueue = queue.SimpleQueue()
    with ThreadPoolExecutor(max_workers=max(1, max_workers)) as pool:

        def submit(reading: _Reading, index: int | None) -> None:
            work = pool.submit(reading.read_head) if index is None else pool.submit(reading.read_entry, index)
            work.add_done_callback(lambda future: results.put((future, reading, index)))

        for reading in readings:
            submit(reading, None)
        outstanding = len(readings)
        while outstanding:
            future, reading, index = results.get()
            outstanding -= 1
            future.result()  # anything but an AWS error (caught in the task) is a bug: raise it
            if index is None:
                for entry_index in range(len(reading.principals)):
                    submit(reading, entry_index)
                outstanding += len(reading.principals)
            else:
                reading.left -= 1
            if reading.left == 0:
                finished(reading)
    return [reading.snapshot() for reading in readings]
