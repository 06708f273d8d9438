"""namespace-scope: namespaced associations must not reach protected namespaces."""

from __future__ import annotations

from dataclasses import dataclass

from typing import Iterator

from ..arns import matches_any, wildcard_match
from ..aws_catalog import policy_name
from ..changes import AccessPolicyAssociated
from ..findings import Violation
from .base import ArnPattern, RuleSettings, rule, who


@dataclass(frozen=True)
class NamespaceScopeSettings(RuleSettings):
    protected_namespaces: tuple[str, ...] = ("kube-system",)
    #: Principals allowed to hold policies in protected namespaces.
    allow: tuple[ArnPattern, ...] = ()


@rule(
    "namespace-scope",
    summary="a namespaced association reaches a protected namespace",
    settings=NamespaceScopeSettings,
    handles=(AccessPolicyAssociated,),
    severity="high",
)
def check(change: AccessPolicyAssociated, settings: NamespaceScopeSettings, org) -> Iterator[Violation]:
    if change.scope.type != "namespace" or matches_any(settings.allow, change.principal_arn):
        return
    reached = sorted(
        {
            protected
            for pattern in change.scope.namespaces
            for protected in settings.protected_namespaces
            # `dev-*` in an association covers every namespace it matches; a protected
            # entry may itself be a pattern (`kube-*`).
            if wildcard_match(pattern, protected) or wildcard_match(protected, pattern)
        }
    )
    if reached:
        yield Violation(
            f"{who(change)} associated {policy_name(change.policy_arn)} to {change.principal_arn} on cluster "
            f"{change.cluster} in namespaces {', '.join(change.scope.namespaces)}, which reach the protected "
            f"namespace(s) {', '.join(reached)}",
            policy_arn=change.policy_arn,
        )
