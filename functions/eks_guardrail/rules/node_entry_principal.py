"""node-entry-principal: node, Fargate and hybrid entries only for node or pod-execution roles.

A node-type entry maps its principal to `system:node:{{SessionName}}` (or the EC2 private
DNS name) in the group `system:nodes`: a human role given a `FARGATE_LINUX` or
`HYBRID_LINUX` entry can choose a real node's name as its session name and impersonate that
node. AWS accepts any same-account role; the guardrail asks whether the role really is one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

from ..arns import matches_any, parse_principal_arn
from ..changes import AccessEntryCreated
from ..findings import Violation
from .base import AlertOnlySettings, ArnPattern, rule, who

#: The service a role of each entry type is assumed by (its trust policy names it).
NODE_SERVICES: dict[str, frozenset[str]] = {
    "EC2_LINUX": frozenset({"ec2.amazonaws.com"}),
    "EC2_WINDOWS": frozenset({"ec2.amazonaws.com"}),
    "EC2": frozenset({"ec2.amazonaws.com"}),
    "FARGATE_LINUX": frozenset({"eks-fargate-pods.amazonaws.com"}),
    "HYBRID_LINUX": frozenset({"ssm.amazonaws.com", "rolesanywhere.amazonaws.com"}),
    "HYPERPOD_LINUX": frozenset({"sagemaker.amazonaws.com"}),
}


@dataclass(frozen=True)
class NodeEntryPrincipalSettings(AlertOnlySettings):
    #: The organisation's node, pod-execution and hybrid-node roles (always accepted).
    node_roles: tuple[ArnPattern, ...] = ()


@rule(
    "node-entry-principal",
    summary="a node, Fargate or hybrid entry is given to a principal that is not a node or pod-execution role",
    settings=NodeEntryPrincipalSettings,
    handles=(AccessEntryCreated,),
    severity="high",
    judges_node_entries=True,
    needs_state=True,
)
def check(change: AccessEntryCreated, settings: NodeEntryPrincipalSettings, org, state) -> Iterator[Violation]:
    expected = NODE_SERVICES.get(change.entry_type)
    if expected is None:
        return  # STANDARD (or a type newer than this list)
    actor = change.meta.actor
    if actor.identity_type == "AWSService" or "AWSServiceRoleForAmazonEKS" in actor.principal_arn:
        return  # EKS creates node groups' entries itself
    if matches_any(settings.node_roles, change.principal_arn):
        return
    principal = parse_principal_arn(change.principal_arn)
    if principal is None or not principal.is_role:
        why = "it is not an IAM role"
    else:
        trusted = state.principal_trusted_services if state is not None else None
        if trusted is None or trusted & expected:
            return  # unknown trust: no guessing; or the role is assumed by that service
        why = f"its trust policy lets no {' or '.join(sorted(expected))} assume it"
    yield Violation(
        f"{who(change)} gave {change.principal_arn} a {change.entry_type} entry on cluster {change.cluster}, which maps "
        f"it to system:node:... in system:nodes; {why}, so whoever uses it can pose as a node"
    )
