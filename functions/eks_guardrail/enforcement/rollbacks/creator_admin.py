"""CreateCluster with creator admin (opt-in): remove the creator's entry once another admin path exists.

When the event arrives the cluster is usually still CREATING, and the creator is its only
admin: the removal is then `deferred`, and the sweep retries it until it can be done.
"""

from __future__ import annotations

from ...adapters.eks import EksAccessEntries
from ...changes import ClusterCreated
from ...config import OrgRules
from ..admin_view import lockout_refusal
from ..lockout import Removal
from .base import ALREADY_UNDONE, DEFERRED, REFUSED, ROLLED_BACK, RollbackContext, RollbackResult, rollback


@rollback(ClusterCreated, permissions=("eks:DeleteAccessEntry",))
def remove_creator_admin(change: ClusterCreated, ctx: RollbackContext) -> RollbackResult:
    return remove_creator_entry(ctx.eks, ctx.org, change.cluster, change.meta.actor.principal_arn)


def remove_creator_entry(eks: EksAccessEntries, org: OrgRules, cluster_name: str, creator: str) -> RollbackResult:
    cluster = eks.describe_cluster(cluster_name)
    if cluster is None:
        return RollbackResult(ALREADY_UNDONE, "the cluster no longer exists")
    if cluster.status and cluster.status != "ACTIVE":
        return RollbackResult(DEFERRED, f"the cluster is {cluster.status}; the sweep removes the creator's entry once it is ACTIVE")
    if cluster.authentication_mode == "CONFIG_MAP":
        return RollbackResult(REFUSED, "refused: the cluster is in CONFIG_MAP mode, where access entries cannot be changed")
    if eks.describe_entry(cluster_name, creator, with_associations=False) is None:
        return RollbackResult(ALREADY_UNDONE, "the creator's entry no longer exists")
    refusal = lockout_refusal(eks, cluster_name, Removal(creator))
    if refusal:
        return RollbackResult(DEFERRED, refusal.replace("refused: ", "not yet: ") + "; the sweep retries once another admin path exists")
    if not eks.delete_entry(cluster_name, creator):
        return RollbackResult(ALREADY_UNDONE, "the creator's entry no longer exists")
    return RollbackResult(ROLLED_BACK, f"deleted the cluster creator's admin entry ({creator})")
