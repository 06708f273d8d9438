"""The IAM actions each Lambda function needs, assembled from what each piece of code declares.

Rollbacks and stale-principal actions declare their own EKS write permissions (next to the
code that calls them); the reads are declared here, next to the adapters they serve. The CDK
stack grants exactly these, and a test compares the synthesised policies with them.
"""

from __future__ import annotations

from .enforcement.rollbacks import READ_PERMISSIONS, ROLLBACKS
from .enforcement.reconcile import PERMISSIONS as RECONCILE_PERMISSIONS
from .enforcement.stale_actions import PERMISSIONS as STALE_PERMISSIONS

#: Reading every cluster of a region (sweep, IAM-principal handler): `adapters/eks.py`.
EKS_SWEEP_READS = frozenset(
    {"eks:ListClusters", "eks:DescribeCluster", "eks:ListAccessEntries", "eks:DescribeAccessEntry", "eks:ListAssociatedAccessPolicies"}
)
#: Does a principal exist, since when: `adapters/iam.py`.
IAM_READS = frozenset({"iam:GetRole", "iam:GetUser"})


def eks_permissions(function: str) -> dict[str, frozenset[str]]:
    """EKS actions of one function, split into `read` (any resource) and `write` (scoped ARNs)."""
    if function == "access-entry":
        writes = set().union(*(spec.permissions for spec in ROLLBACKS.values()))
        return {"read": frozenset(READ_PERMISSIONS), "write": frozenset(writes)}
    if function == "iam-principal":
        writes = set().union(*STALE_PERMISSIONS.values())
        return {"read": EKS_SWEEP_READS, "write": frozenset(writes)}
    if function == "sweep":
        # the sweep also reconciles what the event handler could not (enforcement/reconcile.py)
        writes = set().union(*STALE_PERMISSIONS.values(), RECONCILE_PERMISSIONS)
        return {"read": EKS_SWEEP_READS, "write": frozenset(writes)}
    raise ValueError(f"unknown function {function!r}")


FUNCTIONS = ("access-entry", "iam-principal", "sweep")


def iam_permissions(function: str) -> frozenset[str]:
    if function == "access-entry":
        return frozenset({"iam:GetRole"})  # a node-type entry's role: its trust policy (node-entry-principal)
    return IAM_READS if function in ("iam-principal", "sweep") else frozenset()
