"""AssociateAccessPolicy: disassociate it, or restore the scope it had before."""

from __future__ import annotations

from ...aws_catalog import policy_name
from ...changes import AccessPolicyAssociated
from ..lockout import Removal
from .base import ALREADY_UNDONE, ROLLED_BACK, RollbackContext, RollbackResult, changed_since, rollback


@rollback(AccessPolicyAssociated, permissions=("eks:DisassociateAccessPolicy", "eks:AssociateAccessPolicy"))
def undo_associated_policy(change: AccessPolicyAssociated, ctx: RollbackContext) -> RollbackResult:
    name = policy_name(change.policy_arn)
    current = next((a for a in ctx.eks.associations(change.cluster, change.principal_arn) if a.policy_arn == change.policy_arn), None)
    if current is None:
        return RollbackResult(ALREADY_UNDONE, f"{name} is no longer associated")
    if changed_since(current.modified_at, change.meta.event_time):
        return RollbackResult(ALREADY_UNDONE, f"the association of {name} changed again since; its own event decides")
    before = ctx.ledger.get(change.meta.account, change.meta.region, change.cluster, change.principal_arn)
    previous = before.association(change.policy_arn) if before else None
    if previous == current:
        previous = None  # the ledger never saw a different scope: nothing to restore, so remove
    refusal = ctx.lockout_refusal(change.cluster, Removal(change.principal_arn, change.policy_arn, replacement=previous))
    if refusal:
        return refusal
    if previous is not None:
        ctx.eks.associate(change.cluster, change.principal_arn, previous)
        return RollbackResult(ROLLED_BACK, f"restored the previous scope: {previous.describe()}")
    if not ctx.eks.disassociate(change.cluster, change.principal_arn, change.policy_arn):
        return RollbackResult(ALREADY_UNDONE, f"{name} is no longer associated")
    return RollbackResult(ROLLED_BACK, f"disassociated {name} from {change.principal_arn}")
