"""protected-entry: break-glass and platform entries must not be deleted, changed or weakened."""

from __future__ import annotations

from dataclasses import dataclass

from typing import Iterator

from ..arns import matches_any
from ..aws_catalog import policy_name
from ..changes import AccessEntryDeleted, AccessEntryUpdated, AccessPolicyAssociated, AccessPolicyDisassociated
from ..findings import Violation
from .base import ArnPattern, RuleSettings, rule, who


@dataclass(frozen=True)
class ProtectedEntrySettings(RuleSettings):
    #: Principals whose entries are protected; also count as a cluster-admin path for
    #: lockout protection.
    principals: tuple[ArnPattern, ...] = ()


@rule(
    "protected-entry",
    summary="a protected access entry is deleted, updated or loses a policy (or its cluster-wide scope)",
    settings=ProtectedEntrySettings,
    handles=(AccessEntryDeleted, AccessEntryUpdated, AccessPolicyDisassociated, AccessPolicyAssociated),
    severity="critical",
    judges_node_entries=True,
)
def check(
    change: AccessEntryDeleted | AccessEntryUpdated | AccessPolicyDisassociated | AccessPolicyAssociated,
    settings: ProtectedEntrySettings,
    org,
) -> Iterator[Violation]:
    if not matches_any(settings.principals, change.principal_arn):
        return
    if isinstance(change, AccessPolicyAssociated):
        # Giving a protected entry a policy is fine; scoping one to namespaces weakens it
        # (cluster admin re-associated to `namespace` is barely admin at all).
        if change.scope.type != "namespace":
            return
        what = f"scoped {policy_name(change.policy_arn)} to namespaces {', '.join(change.scope.namespaces)} on"
        policy: str | None = change.policy_arn
    elif isinstance(change, AccessEntryDeleted):
        what, policy = "deleted", None
    elif isinstance(change, AccessEntryUpdated):
        what, policy = "changed the username or groups of", None
    else:
        what, policy = f"removed {policy_name(change.policy_arn)} from", change.policy_arn
    yield Violation(
        f"{who(change)} {what} the protected access entry of {change.principal_arn} on cluster {change.cluster}",
        policy_arn=policy,
    )
