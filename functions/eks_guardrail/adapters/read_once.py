"""Each read once per event: a memo in front of the EKS adapter and the ledger, made for one
event (or one cluster's reconciliation) and dropped with it.

Reads are answered from the memo until a write: any EKS write forgets every EKS read (a
removal changes who holds admin, a restore changes the entry), a ledger write replaces the
one record it wrote. So what decides a rollback or an exemption is still read fresh for
every event and after every change the guardrail makes; only the same question asked twice
about an unchanged state is answered once.
"""

from __future__ import annotations

from typing import Any, Callable

from ..state import Association, ClusterState, EntryState
from .ledger import entry_from_json, entry_to_json

_MISSING = object()


class ReadOnceEks:
    """`EksAccessEntries`' interface; reads memoised until the next write."""

    def __init__(self, eks: Any):
        self._eks = eks
        self._memo: dict[tuple, Any] = {}

    def _read(self, key: tuple, read: Any) -> Any:
        value = self._memo.get(key, _MISSING)
        if value is _MISSING:
            value = self._memo[key] = read()
        return value

    def forget(self) -> None:
        self._memo.clear()

    # --- reads ------------------------------------------------------------------------------

    def describe_cluster(self, cluster: str) -> ClusterState | None:
        return self._read(("cluster", cluster), lambda: self._eks.describe_cluster(cluster))

    def list_principals(self, cluster: str, associated_policy_arn: str | None = None) -> list[str]:
        return list(self._read(("principals", cluster, associated_policy_arn), lambda: self._eks.list_principals(cluster, associated_policy_arn)))

    def associations(self, cluster: str, principal_arn: str) -> tuple[Association, ...]:
        return self._read(("associations", cluster, principal_arn), lambda: self._eks.associations(cluster, principal_arn))

    def describe_entry(self, cluster: str, principal_arn: str, *, with_associations: bool = True) -> EntryState | None:
        entry = self._read(("entry", cluster, principal_arn), lambda: self._eks.describe_entry(cluster, principal_arn, with_associations=False))
        if entry is None or not with_associations or entry.entry_type != "STANDARD":
            return entry
        return entry.with_associations(self.associations(cluster, principal_arn))

    def list_clusters(self) -> Any:
        return self._eks.list_clusters()

    def tags_of(self, resource_arn: str) -> dict[str, str] | None:
        tags = self._read(("tags", resource_arn), lambda: self._eks.tags_of(resource_arn))
        return None if tags is None else dict(tags)

    # --- writes: each forgets every read ---------------------------------------------------------

    def __getattr__(self, name: str) -> Any:
        write = getattr(self._eks, name)
        if not callable(write):
            return write

        def forgetting(*args: Any, **kwargs: Any) -> Any:
            self._memo.clear()
            try:
                return write(*args, **kwargs)
            finally:
                self._memo.clear()

        return forgetting


def read_once_per_region(eks_for_region: Callable[[str], Any]) -> Callable[[str], ReadOnceEks]:
    """`region -> ReadOnceEks` for one event: one memo per region."""
    memos: dict[str, ReadOnceEks] = {}

    def for_region(region: str) -> ReadOnceEks:
        if region not in memos:
            memos[region] = ReadOnceEks(eks_for_region(region))
        return memos[region]

    return for_region


class ReadOnceLedger:
    """The ledger's `get` memoised per key; `put` and `delete` keep the memo true."""

    def __init__(self, ledger: Any):
        self._ledger = ledger
        self._memo: dict[tuple[str, str, str, str], EntryState | None] = {}

    def get(self, account: str, region: str, cluster: str, principal_arn: str) -> EntryState | None:
        key = (account, region, cluster, principal_arn)
        if key not in self._memo:
            self._memo[key] = self._ledger.get(*key)
        return self._memo[key]

    def put(self, account: str, region: str, entry: EntryState, *, source: str) -> None:
        key = (account, region, entry.cluster, entry.principal_arn)
        self._memo.pop(key, None)
        self._ledger.put(account, region, entry, source=source)
        self._memo[key] = _as_recorded(entry)

    def put_if_absent(self, account: str, region: str, entry: EntryState, *, source: str) -> bool:
        key = (account, region, entry.cluster, entry.principal_arn)
        written = self._ledger.put_if_absent(account, region, entry, source=source)
        if written:
            self._memo[key] = _as_recorded(entry)
        else:
            self._memo.pop(key, None)  # there is a record: read it when it is needed
        return written

    def delete(self, account: str, region: str, cluster: str, principal_arn: str) -> None:
        self._memo.pop((account, region, cluster, principal_arn), None)
        self._ledger.delete(account, region, cluster, principal_arn)
        self._memo[(account, region, cluster, principal_arn)] = None

    def __getattr__(self, name: str) -> Any:
        return getattr(self._ledger, name)


class ReadOnceGrants:
    """Who set an exemption tag (`ExemptionTagGrants`): `granted` memoised per resource and value;
    `grant` and `revoke` forget the resource."""

    def __init__(self, grants: Any):
        self._grants = grants
        self._memo: dict[tuple[str, str], bool] = {}

    def granted(self, resource_arn: str, value: str) -> bool:
        key = (resource_arn, value)
        if key not in self._memo:
            self._memo[key] = self._grants.granted(resource_arn, value)
        return self._memo[key]

    def grant(self, resource_arn: str, value: str, *, set_by: str) -> None:
        self._forget(resource_arn)
        self._grants.grant(resource_arn, value, set_by=set_by)

    def revoke(self, resource_arn: str) -> None:
        self._forget(resource_arn)
        self._grants.revoke(resource_arn)

    def _forget(self, resource_arn: str) -> None:
        for key in [k for k in self._memo if k[0] == resource_arn]:
            del self._memo[key]


def _as_recorded(entry: EntryState) -> EntryState:
    """What a `get` of the record just put returns."""
    return entry_from_json(entry_to_json(entry))
