"""DeleteAccessEntry of a protected entry: recreate it from the ledger.

Recreating is two steps (the entry, then each policy association). If a retry finds the
entry back but not all of its associations, it completes the restore rather than calling
it done: a break-glass entry without its policy is no break-glass entry.
"""

from __future__ import annotations

from ...changes import AccessEntryDeleted
from .base import ALREADY_UNDONE, NOT_UNDONE, ROLLED_BACK, RollbackContext, RollbackResult, rollback


@rollback(AccessEntryDeleted, permissions=("eks:CreateAccessEntry", "eks:TagResource", "eks:AssociateAccessPolicy"))
def restore_deleted_entry(change: AccessEntryDeleted, ctx: RollbackContext) -> RollbackResult:
    before = ctx.ledger.get(change.meta.account, change.meta.region, change.cluster, change.principal_arn)
    if before is None:
        return RollbackResult(NOT_UNDONE, "not undone: the ledger has no earlier state of this entry (run the sweep to fill it)")
    current = ctx.eks.describe_entry(change.cluster, change.principal_arn)
    if current is None:
        ctx.eks.create_entry(before)
        policies = ", ".join(a.describe() for a in before.associations) or "no policies"
        return RollbackResult(ROLLED_BACK, f"recreated the {before.entry_type} entry with {policies}")
    missing = [a for a in before.associations if current.association(a.policy_arn) != a]
    if not missing:
        return RollbackResult(ALREADY_UNDONE, "the entry exists again, with its policies")
    for association in missing:
        ctx.eks.associate(change.cluster, change.principal_arn, association)
    return RollbackResult(ROLLED_BACK, f"completed the restore: associated {', '.join(a.describe() for a in missing)} again")
