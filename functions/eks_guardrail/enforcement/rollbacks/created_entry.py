"""CreateAccessEntry: delete the new entry."""

from __future__ import annotations

from ...changes import AccessEntryCreated
from ..lockout import Removal
from .base import ALREADY_UNDONE, ROLLED_BACK, RollbackContext, RollbackResult, changed_since, rollback


@rollback(AccessEntryCreated, permissions=("eks:DeleteAccessEntry",))
def delete_created_entry(change: AccessEntryCreated, ctx: RollbackContext) -> RollbackResult:
    current = ctx.eks.describe_entry(change.cluster, change.principal_arn, with_associations=False)
    if current is None:
        return RollbackResult(ALREADY_UNDONE, "the entry no longer exists")
    if changed_since(current.created_at, change.meta.event_time):
        return RollbackResult(ALREADY_UNDONE, "the entry was deleted and created again since; its own event decides")
    refusal = ctx.lockout_refusal(change.cluster, Removal(change.principal_arn))
    if refusal:
        return refusal
    if not ctx.eks.delete_entry(change.cluster, change.principal_arn):
        return RollbackResult(ALREADY_UNDONE, "the entry no longer exists")
    return RollbackResult(ROLLED_BACK, f"deleted the access entry of {change.principal_arn}")
