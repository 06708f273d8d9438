"""DeleteAccessEntry of a protected entry: recreate it from the ledger."""

from __future__ import annotations

from ...changes import AccessEntryDeleted
from .base import ALREADY_UNDONE, NOT_UNDONE, ROLLED_BACK, RollbackContext, RollbackResult, rollback


@rollback(AccessEntryDeleted, permissions=("eks:CreateAccessEntry", "eks:TagResource", "eks:AssociateAccessPolicy"))
def restore_deleted_entry(change: AccessEntryDeleted, ctx: RollbackContext) -> RollbackResult:
    before = ctx.ledger.get(change.meta.account, change.meta.region, change.cluster, change.principal_arn)
    if before is None:
        return RollbackResult(NOT_UNDONE, "not undone: the ledger has no earlier state of this entry (run the sweep to fill it)")
    if ctx.eks.describe_entry(change.cluster, change.principal_arn, with_associations=False) is not None:
        return RollbackResult(ALREADY_UNDONE, "the entry exists again")
    ctx.eks.create_entry(before)
    policies = ", ".join(a.describe() for a in before.associations) or "no policies"
    return RollbackResult(ROLLED_BACK, f"recreated the {before.entry_type} entry with {policies}")
