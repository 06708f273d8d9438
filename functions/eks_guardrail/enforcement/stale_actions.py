"""What `stale-principal` does about a stale or dangling entry: delete it, or rebind it.

Rebinding deletes the entry and creates it again with the same type, username, groups,
tags and associations, so that EKS binds it to the recreated principal's new unique id.
It re-grants access AWS revoked on purpose, so it runs only for allow-listed principals.
Lockout protection applies to delete; `mode: monitor` (the finding's action is then
`alert`) makes no call at all.
"""

from __future__ import annotations

from dataclasses import replace

from ..adapters.eks import EksAccessEntries
from ..config import OrgRules
from ..sweep.judge import default_username
from ..sweep.stale import StalePrincipal
from .admin_view import lockout_refusal
from .lockout import Removal
from .rollbacks.base import ALREADY_UNDONE, REFUSED, ROLLED_BACK, RollbackResult, protected_principals

#: IAM permissions these actions need (the IAM-principal and sweep functions get them).
PERMISSIONS: dict[str, tuple[str, ...]] = {
    "delete": ("eks:DeleteAccessEntry",),
    "rebind": ("eks:DeleteAccessEntry", "eks:CreateAccessEntry", "eks:TagResource", "eks:AssociateAccessPolicy"),
}


def act_on_stale(action: str, stale: StalePrincipal, eks: EksAccessEntries, org: OrgRules) -> RollbackResult | None:
    """Carry out `delete` or `rebind`; None for `alert` (nothing to do)."""
    if action == "delete":
        return _delete(stale, eks, org)
    if action == "rebind":
        return _rebind(stale, eks)
    return None


def _delete(stale: StalePrincipal, eks: EksAccessEntries, org: OrgRules) -> RollbackResult:
    entry = stale.entry
    refusal = lockout_refusal(eks, entry.cluster, Removal(entry.principal_arn), protected_principals(org))
    if refusal:
        return RollbackResult(REFUSED, refusal)
    if not eks.delete_entry(entry.cluster, entry.principal_arn):
        return RollbackResult(ALREADY_UNDONE, "the entry no longer exists")
    return RollbackResult(ROLLED_BACK, f"deleted the {stale.kind} access entry of {entry.principal_arn}")


def _rebind(stale: StalePrincipal, eks: EksAccessEntries) -> RollbackResult:
    entry = stale.entry
    if not eks.delete_entry(entry.cluster, entry.principal_arn):
        return RollbackResult(ALREADY_UNDONE, "the entry no longer exists")
    username = entry.username if entry.username != default_username(entry.principal_arn, entry.entry_type) else None
    eks.create_entry(replace(entry, username=username))
    policies = ", ".join(a.describe() for a in entry.associations) or "no policies"
    return RollbackResult(ROLLED_BACK, f"rebound the entry to the recreated principal ({stale.principal.unique_id}) with {policies}")
