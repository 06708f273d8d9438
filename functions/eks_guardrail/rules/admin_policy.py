"""admin-policy: privileged access policies only for allow-listed principals."""

from __future__ import annotations

from dataclasses import dataclass, field

from typing import Annotated, Iterator


from ..arns import matches_any
from ..aws_catalog import ACCESS_POLICY_ARN_PREFIX, ACCESS_POLICY_NAMES, PRIVILEGED_ACCESS_POLICIES, policy_name
from ..changes import AccessPolicyAssociated
from ..findings import Violation
from ..schema import Check
from .base import ArnPattern, RuleSettings, rule, who


@dataclass(frozen=True)
class PolicyGrant:
    #: Principals that may hold the policy at any scope.
    allow: tuple[ArnPattern, ...] = ()
    #: Anyone may hold it scoped to namespaces; cluster-wide still needs `allow`.
    allow_namespaced: bool = False


def _default_policies() -> dict[str, PolicyGrant]:
    """Every access policy that reads Secrets or writes RBAC (`aws_catalog.PRIVILEGED_ACCESS_POLICIES`)."""
    return {name: PolicyGrant(allow_namespaced=namespaced) for name, (_, namespaced) in PRIVILEGED_ACCESS_POLICIES.items()}


def _access_policy(key: str) -> str:
    """A policy name, or its full ARN; unknown names are typos until given as an ARN."""
    if key.startswith("arn:"):
        if not key.startswith(ACCESS_POLICY_ARN_PREFIX):
            raise ValueError(f"{key!r} is not an access policy ARN ({ACCESS_POLICY_ARN_PREFIX}NAME)")
        return policy_name(key)
    if key not in ACCESS_POLICY_NAMES:
        from difflib import get_close_matches  # only for a typo's hint: not on every start

        close = get_close_matches(key, ACCESS_POLICY_NAMES, n=1)
        hint = f"did you mean {close[0]}? " if close else ""
        raise ValueError(
            f"unknown access policy {key!r}; {hint}(a policy newer than eks-guardrail's list "
            f"can be given by its full ARN, {ACCESS_POLICY_ARN_PREFIX}NAME)"
        )
    return key


AccessPolicyName = Annotated[str, Check(_access_policy)]


@dataclass(frozen=True)
class AdminPolicySettings(RuleSettings):
    #: Privileged policy (name or full ARN) -> who may hold it.
    policies: dict[AccessPolicyName, PolicyGrant] = field(default_factory=_default_policies)


@rule(
    "admin-policy",
    summary="a privileged access policy is associated to a principal not allowed to hold it",
    settings=AdminPolicySettings,
    handles=(AccessPolicyAssociated,),
    severity="critical",
)
def check(change: AccessPolicyAssociated, settings: AdminPolicySettings, org) -> Iterator[Violation]:
    name = policy_name(change.policy_arn)
    grant = settings.policies.get(name)
    if grant is None or matches_any(grant.allow, change.principal_arn):
        return
    namespaced = change.scope.type == "namespace"
    if namespaced and grant.allow_namespaced:
        return
    if grant.allow_namespaced:
        why = f"cluster-wide it is reserved to {_listed(grant.allow)} (others may hold it in namespaces only)"
    else:
        why = f"it is reserved to {_listed(grant.allow)}"
    scope = f"namespaces {', '.join(change.scope.namespaces)}" if namespaced else "cluster-wide"
    yield Violation(
        f"{who(change)} associated {name} ({scope}) to {change.principal_arn} on cluster {change.cluster}; {why}",
        policy_arn=change.policy_arn,
    )


def _listed(patterns: tuple[str, ...]) -> str:
    return ", ".join(patterns) if patterns else "nobody (the allow-list is empty)"
