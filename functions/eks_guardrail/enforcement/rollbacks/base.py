"""The rollback registry: one small module per kind of change that can be undone.

Each rollback declares the change type it undoes and the IAM permissions it needs (the CDK
stack grants exactly the union, and a test checks it). A rollback re-reads the current
state before acting: the event may be old, the entry gone or changed again since.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Callable

from ...adapters.eks import EksAccessEntries
from ...config import OrgRules
from ...state import EntryState
from ..admin_view import lockout_refusal
from ..lockout import Removal

ROLLED_BACK = "rolled-back"
ALREADY_UNDONE = "already-undone"
REFUSED = "refused"
NOT_UNDONE = "not-undone"
FAILED = "failed"
#: Not possible yet (cluster still CREATING, no other admin path yet); the sweep retries.
DEFERRED = "deferred"


@dataclass(frozen=True)
class RollbackResult:
    status: str
    detail: str


class LedgerReader:
    """What a rollback may ask of the ledger (protocol, documented by example)."""

    def get(self, account: str, region: str, cluster: str, principal_arn: str) -> EntryState | None: ...


@dataclass(frozen=True)
class RollbackContext:
    eks: EksAccessEntries
    ledger: LedgerReader
    org: OrgRules

    def lockout_refusal(self, cluster: str, removal: Removal) -> RollbackResult | None:
        reason = lockout_refusal(self.eks, cluster, removal)
        return RollbackResult(REFUSED, reason) if reason else None


def protected_principals(org: OrgRules) -> tuple[str, ...]:
    return org.settings("protected-entry").principals  # type: ignore[attr-defined]


Undo = Callable[..., RollbackResult]


@dataclass(frozen=True)
class RollbackSpec:
    name: str
    change_type: type
    permissions: tuple[str, ...]
    undo: Undo


ROLLBACKS: dict[type, RollbackSpec] = {}

#: Reads every rollback may make before acting (lockout view, current state).
READ_PERMISSIONS: tuple[str, ...] = (
    "eks:DescribeAccessEntry",
    "eks:ListAccessEntries",
    "eks:ListAssociatedAccessPolicies",
    "eks:DescribeCluster",
)


def rollback(change_type: type, *, permissions: tuple[str, ...]) -> Callable[[Undo], Undo]:
    def register(undo: Undo) -> Undo:
        if not permissions:
            raise ValueError(f"rollback {undo.__name__} declares no IAM permissions")
        ROLLBACKS[change_type] = RollbackSpec(undo.__name__, change_type, permissions, undo)
        return undo

    return register


def changed_since(moment: datetime | None, event_time: str) -> bool:
    """Whether AWS's timestamp is later than the event (CloudTrail keeps whole seconds)."""
    if moment is None or not event_time:
        return False
    when = datetime.fromisoformat(event_time.replace("Z", "+00:00"))
    return moment > when + timedelta(seconds=1)
