"""Read just the entries lockout protection needs: protected ones and cluster admins."""

from __future__ import annotations

from ..adapters.eks import EksAccessEntries
from ..arns import matches_any
from ..state import EntryState
from .lockout import CLUSTER_ADMIN_POLICY_ARN, Removal, would_lock_out


def read_admin_view(eks: EksAccessEntries, cluster: str, protected: tuple[str, ...]) -> list[EntryState]:
    """Entries that are (or may be) admin paths, with their associations.

    ListAccessEntries' `associatedPolicyArn` filter finds the cluster-admin holders without
    reading every entry's associations.
    """
    admins = eks.list_principals(cluster, associated_policy_arn=CLUSTER_ADMIN_POLICY_ARN)
    entries = [EntryState(cluster, p, "STANDARD", None, (), {}, eks.associations(cluster, p)) for p in sorted(admins)]
    if protected:
        # A protected entry is an admin path whatever it holds: no need to read its policies.
        entries += [
            EntryState(cluster, p, "STANDARD", None, (), {})
            for p in sorted(eks.list_principals(cluster))
            if p not in admins and matches_any(protected, p)
        ]
    return entries


def lockout_refusal(eks: EksAccessEntries, cluster: str, removal: Removal, protected: tuple[str, ...]) -> str | None:
    """Why the removal must not happen (it would lock everyone out), or None."""
    if would_lock_out(read_admin_view(eks, cluster, protected), removal, protected):
        return (
            f"refused: it would leave cluster {cluster} without any cluster-admin path "
            f"(an entry with AmazonEKSClusterAdminPolicy cluster-wide, or a protected entry)"
        )
    return None
