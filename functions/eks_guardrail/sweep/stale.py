"""Stale and dangling principals (pure).

EKS binds an entry to the principal's unique id, kept invisibly. When the role or user is
deleted the entry stays (dangling); when it is recreated under the same ARN the entry no
longer authenticates (stale). Visible sign: the principal's CreateDate is later than the
entry's createdAt.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..adapters.iam import PrincipalStatus
from ..state import EntryState

STALE = "stale"
DANGLING = "dangling"


@dataclass(frozen=True)
class StalePrincipal:
    entry: EntryState
    kind: str  # stale | dangling
    principal: PrincipalStatus

    def describe(self) -> str:
        if self.kind == DANGLING:
            return (
                f"the access entry of {self.entry.principal_arn} on cluster {self.entry.cluster} is dangling: "
                f"its IAM principal no longer exists"
            )
        return (
            f"the access entry of {self.entry.principal_arn} on cluster {self.entry.cluster} is stale: the principal "
            f"was recreated on {self.principal.create_date:%Y-%m-%d %H:%M:%S %Z}, after the entry was created "
            f"({self.entry.created_at:%Y-%m-%d %H:%M:%S %Z}), so the entry no longer authenticates it"
        )


def classify(entry: EntryState, principal: PrincipalStatus | None) -> StalePrincipal | None:
    if principal is None:
        return None
    if not principal.exists:
        return StalePrincipal(entry, DANGLING, principal)
    if principal.create_date and entry.created_at and principal.create_date > entry.created_at:
        return StalePrincipal(entry, STALE, principal)
    return None
