"""Lockout protection: never leave a cluster without a cluster-admin path.

A cluster-admin path is a principal that really holds cluster admin now: a STANDARD entry
with AmazonEKSClusterAdminPolicy cluster-wide. A protected entry counts only when it holds
that policy; a name on a list is never an admin path (a policy-less, view-only or node
entry of a protected principal gives nobody admin). The decision is pure; reading the
entries is the caller's.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Iterable

from ..aws_catalog import CLUSTER_ADMIN_POLICY, STANDARD, policy_arn
from ..state import Association, EntryState

CLUSTER_ADMIN_POLICY_ARN = policy_arn(CLUSTER_ADMIN_POLICY)


def is_admin_path(entry: EntryState) -> bool:
    return entry.entry_type == STANDARD and any(
        a.policy_arn == CLUSTER_ADMIN_POLICY_ARN and a.scope_type == "cluster" for a in entry.associations
    )


def has_admin_path(entries: Iterable[EntryState]) -> bool:
    return any(is_admin_path(e) for e in entries)


@dataclass(frozen=True)
class Removal:
    """What a rollback takes away: a whole entry, or one association (or narrows its scope)."""

    principal_arn: str
    policy_arn: str | None = None
    #: For a scope restore: the association that replaces the current one.
    replacement: Association | None = None

    def apply(self, entries: Iterable[EntryState]) -> list[EntryState]:
        after: list[EntryState] = []
        for entry in entries:
            if entry.principal_arn != self.principal_arn:
                after.append(entry)
            elif self.policy_arn is not None:
                kept = tuple(a for a in entry.associations if a.policy_arn != self.policy_arn)
                after.append(replace(entry, associations=kept + ((self.replacement,) if self.replacement else ())))
        return after


def would_lock_out(entries: list[EntryState], removal: Removal) -> bool:
    """True when the cluster has an admin path now and would have none after the removal.

    A cluster that has no admin path already is not made worse by the rollback, so the
    rollback goes ahead (the alert says so).
    """
    return has_admin_path(entries) and not has_admin_path(removal.apply(entries))
