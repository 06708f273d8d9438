"""What `stale-principal` does about a stale or dangling entry: delete it, or rebind it.

Rebinding deletes the entry and creates it again with the same type, username, groups,
tags and associations, so that EKS binds it to the recreated principal's new unique id.
It re-grants access AWS revoked on purpose, so it runs only for allow-listed principals.
Lockout protection applies to delete; `mode: monitor` (the finding's action is then
`alert`) makes no call at all.
"""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Callable

from botocore.exceptions import BotoCoreError, ClientError

from ..adapters.eks import EksAccessEntries
from ..adapters.ledger import entry_to_json
from ..config import OrgRules
from ..sweep.judge import default_username
from ..state import EntryState
from ..sweep.stale import StalePrincipal
from .admin_view import lockout_refusal
from .lockout import Removal
from .rollbacks.base import ALREADY_UNDONE, FAILED, REFUSED, ROLLED_BACK, RollbackResult

#: IAM permissions these actions need (the IAM-principal and sweep functions get them).
PERMISSIONS: dict[str, tuple[str, ...]] = {
    "delete": ("eks:DeleteAccessEntry",),
    "rebind": ("eks:DeleteAccessEntry", "eks:CreateAccessEntry", "eks:TagResource", "eks:AssociateAccessPolicy"),
}


#: Seconds to wait before each new try of the create in a rebind: IAM is eventually
#: consistent, and EKS answers "invalid principal" for a role created seconds ago.
REBIND_CREATE_BACKOFF = (2.0, 5.0, 10.0)


def act_on_stale(
    action: str, stale: StalePrincipal, eks: EksAccessEntries, org: OrgRules, *, sleep: Callable[[float], None] = time.sleep
) -> RollbackResult | None:
    """Carry out `delete` or `rebind`; None for `alert` (nothing to do)."""
    if action == "delete":
        return _delete(stale, eks, org)
    if action == "rebind":
        return _rebind(stale, eks, sleep)
    return None


def act_on_stale_safely(
    action: str, stale: StalePrincipal, eks: EksAccessEntries, org: OrgRules, *, sleep: Callable[[float], None] = time.sleep
) -> RollbackResult | None:
    """`act_on_stale`, with an AWS failure reported as a `failed` outcome: one entry that
    cannot be acted on never stops the others (nor their alerts)."""
    try:
        return act_on_stale(action, stale, eks, org, sleep=sleep)
    except (ClientError, BotoCoreError) as error:
        return RollbackResult(FAILED, f"{action} failed: {type(error).__name__}: {error}")


def _delete(stale: StalePrincipal, eks: EksAccessEntries, org: OrgRules) -> RollbackResult:
    entry = stale.entry
    refusal = lockout_refusal(eks, entry.cluster, Removal(entry.principal_arn))
    if refusal:
        return RollbackResult(REFUSED, refusal)
    if not eks.delete_entry(entry.cluster, entry.principal_arn):
        return RollbackResult(ALREADY_UNDONE, "the entry no longer exists")
    return RollbackResult(ROLLED_BACK, f"deleted the {stale.kind} access entry of {entry.principal_arn}")


def _rebind(stale: StalePrincipal, eks: EksAccessEntries, sleep: Callable[[float], None]) -> RollbackResult:
    entry = stale.entry
    username = entry.username if entry.username != default_username(entry.principal_arn, entry.entry_type) else None
    recreated = replace(entry, username=username)
    if not eks.delete_entry(entry.cluster, entry.principal_arn):
        return RollbackResult(ALREADY_UNDONE, "the entry no longer exists")
    for pause in (*REBIND_CREATE_BACKOFF, None):
        try:
            eks.create_entry(recreated, with_associations=False)
            break
        except ClientError as error:
            if pause is None:
                return _lost(recreated, error)
            sleep(pause)
    try:
        for association in recreated.associations:
            eks.associate(entry.cluster, entry.principal_arn, association)
    except ClientError as error:
        return _lost(recreated, error)
    policies = ", ".join(a.describe() for a in entry.associations) or "no policies"
    return RollbackResult(ROLLED_BACK, f"rebound the entry to the recreated principal ({stale.principal.unique_id}) with {policies}")


def _lost(entry: EntryState, error: ClientError) -> RollbackResult:
    """The old entry is gone and the new one incomplete: say exactly what to recreate."""
    return RollbackResult(
        FAILED, f"rebind deleted the stale entry but could not recreate it fully ({error}); recreate it as: {entry_to_json(entry)}"
    )
