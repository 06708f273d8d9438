"""DisassociateAccessPolicy from a protected entry: associate it again with its old scope."""

from __future__ import annotations

from ...aws_catalog import policy_name
from ...changes import AccessPolicyDisassociated
from .base import ALREADY_UNDONE, NOT_UNDONE, ROLLED_BACK, RollbackContext, RollbackResult, rollback


@rollback(AccessPolicyDisassociated, permissions=("eks:AssociateAccessPolicy",))
def restore_disassociated_policy(change: AccessPolicyDisassociated, ctx: RollbackContext) -> RollbackResult:
    name = policy_name(change.policy_arn)
    before = ctx.ledger.get(change.meta.account, change.meta.region, change.cluster, change.principal_arn)
    previous = before.association(change.policy_arn) if before else None
    if previous is None:
        return RollbackResult(NOT_UNDONE, f"not undone: the ledger does not know the scope {name} had (run the sweep to fill it)")
    current = ctx.eks.describe_entry(change.cluster, change.principal_arn)
    if current is None:
        return RollbackResult(ALREADY_UNDONE, "the entry no longer exists; restoring the entry is the deletion's rollback")
    if current.association(change.policy_arn) is not None:
        return RollbackResult(ALREADY_UNDONE, f"{name} is associated again")
    ctx.eks.associate(change.cluster, change.principal_arn, previous)
    return RollbackResult(ROLLED_BACK, f"associated {previous.describe()} again")
