"""UpdateAccessEntry: restore the previous username and groups from the ledger."""

from __future__ import annotations

from ...changes import AccessEntryUpdated
from .base import ALREADY_UNDONE, NOT_UNDONE, ROLLED_BACK, RollbackContext, RollbackResult, changed_since, rollback


@rollback(AccessEntryUpdated, permissions=("eks:UpdateAccessEntry",))
def revert_updated_entry(change: AccessEntryUpdated, ctx: RollbackContext) -> RollbackResult:
    before = ctx.ledger.get(change.meta.account, change.meta.region, change.cluster, change.principal_arn)
    if before is None:
        return RollbackResult(NOT_UNDONE, "not undone: the ledger has no earlier state of this entry (run the sweep to fill it)")
    current = ctx.eks.describe_entry(change.cluster, change.principal_arn, with_associations=False)
    if current is None:
        return RollbackResult(ALREADY_UNDONE, "the entry no longer exists")
    if changed_since(current.modified_at, change.meta.event_time):
        return RollbackResult(ALREADY_UNDONE, "the entry changed again since; its own event decides")
    if (current.username, current.groups) == (before.username, before.groups):
        return RollbackResult(ALREADY_UNDONE, "the entry already has its previous username and groups")
    if not ctx.eks.update_entry(change.cluster, change.principal_arn, username=before.username, groups=before.groups):
        return RollbackResult(ALREADY_UNDONE, "the entry no longer exists")
    groups = ", ".join(before.groups) or "none"
    return RollbackResult(ROLLED_BACK, f"restored username {before.username!r} and groups [{groups}]")
