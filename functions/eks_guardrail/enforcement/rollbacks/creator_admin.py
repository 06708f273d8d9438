"""CreateCluster with creator admin (opt-in): remove the creator's entry once another admin path exists."""

from __future__ import annotations

from ...changes import ClusterCreated
from ..lockout import Removal
from .base import ALREADY_UNDONE, REFUSED, ROLLED_BACK, RollbackContext, RollbackResult, rollback


@rollback(ClusterCreated, permissions=("eks:DeleteAccessEntry",))
def remove_creator_admin(change: ClusterCreated, ctx: RollbackContext) -> RollbackResult:
    creator = change.meta.actor.principal_arn
    cluster = ctx.eks.describe_cluster(change.cluster)
    if cluster is None:
        return RollbackResult(ALREADY_UNDONE, "the cluster no longer exists")
    if cluster.authentication_mode == "CONFIG_MAP":
        return RollbackResult(REFUSED, "refused: the cluster is in CONFIG_MAP mode, where access entries cannot be changed")
    if ctx.eks.describe_entry(change.cluster, creator, with_associations=False) is None:
        return RollbackResult(ALREADY_UNDONE, "the creator's entry no longer exists")
    refusal = ctx.lockout_refusal(change.cluster, Removal(creator))
    if refusal:
        return RollbackResult(REFUSED, refusal.detail + "; add another admin path first, the sweep retries")
    if not ctx.eks.delete_entry(change.cluster, creator):
        return RollbackResult(ALREADY_UNDONE, "the creator's entry no longer exists")
    return RollbackResult(ROLLED_BACK, f"deleted the cluster creator's admin entry ({creator})")
