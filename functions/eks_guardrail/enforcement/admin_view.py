"""Read just the entries lockout protection needs: the principals that really hold cluster admin."""

from __future__ import annotations

from ..adapters.eks import EksAccessEntries
from ..state import EntryState
from .lockout import CLUSTER_ADMIN_POLICY_ARN, Removal, would_lock_out

LOCKOUT_DETAIL = (
    "it would leave cluster {cluster} without any cluster-admin path "
    "(a principal holding AmazonEKSClusterAdminPolicy cluster-wide)"
)


def read_admin_view(eks: EksAccessEntries, cluster: str) -> list[EntryState]:
    """Entries holding AmazonEKSClusterAdminPolicy, with their associations (to see the scope).

    ListAccessEntries' `associatedPolicyArn` filter finds the holders without reading every
    entry's associations. Only STANDARD entries can hold access policies.
    """
    admins = eks.list_principals(cluster, associated_policy_arn=CLUSTER_ADMIN_POLICY_ARN)
    return [EntryState(cluster, p, "STANDARD", None, (), {}, eks.associations(cluster, p)) for p in sorted(admins)]


def lockout_refusal(eks: EksAccessEntries, cluster: str, removal: Removal) -> str | None:
    """Why the removal must not happen (it would lock everyone out), or None."""
    if would_lock_out(read_admin_view(eks, cluster), removal):
        return "refused: " + LOCKOUT_DETAIL.format(cluster=cluster)
    return None
