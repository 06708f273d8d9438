"""node-entry-principal: node, Fargate and hybrid entries only for node or pod-execution roles.

A node-type entry maps its principal to `system:node:{{SessionName}}` (or the EC2 private
DNS name) in the group `system:nodes`: a human role given a `FARGATE_LINUX` or
`HYBRID_LINUX` entry can choose a real node's name as its session name and impersonate that
node. AWS accepts any same-account role; the guardrail asks whether the role really is one:

- a principal that is not an IAM role (a user, the account root) always fires;
- a role matching `node_roles` passes;
- otherwise the role's trust policy decides, when the caller read it
  (`ObservedState.principal_trusted_services`): the service of the entry's type
  (`aws_catalog.NODE_ROLE_SERVICES`) must be allowed to assume it. Unknown trust passes
  (no guessing);
- entries EKS creates itself (managed node groups, Fargate profiles) never fire.

The only rule that reads the caller's `ObservedState` (`needs_state=True`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Iterator

from ..arns import matches_any, parse_principal_arn
from ..aws_catalog import EKS_SERVICE_LINKED_ROLE_PREFIX, NODE_ROLE_SERVICES, SERVICE_LINKED_ROLE_PATH
from ..changes import AccessEntryCreated, Actor
from ..findings import Violation
from .base import AlertOnlySettings, ArnPattern, rule, who

if TYPE_CHECKING:
    from ..engine import ObservedState


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
def check(change: AccessEntryCreated, settings: NodeEntryPrincipalSettings, org, state: ObservedState | None) -> Iterator[Violation]:
    expected = NODE_ROLE_SERVICES.get(change.entry_type)
    if expected is None:
        return  # STANDARD (or a type newer than this list)
    if made_by_eks(change.meta.actor):
        return  # managed node groups and Fargate profiles: EKS creates their entries itself
    if matches_any(settings.node_roles, change.principal_arn):
        return
    principal = parse_principal_arn(change.principal_arn)
    if principal is None or not principal.is_role:
        why = "it is not an IAM role"
    else:
        trusted = state.principal_trusted_services if state is not None else None
        if trusted is None or any(_service(name) in expected for name in trusted):
            return  # unknown trust: no guessing; or the role is assumed by that service
        why = f"its trust policy lets no {' or '.join(sorted(expected))} assume it"
    yield Violation(
        f"{who(change)} gave {change.principal_arn} a {change.entry_type} entry on cluster {change.cluster}, which maps "
        f"it to system:node:... in system:nodes; {why}, so whoever uses it can pose as a node"
    )


def made_by_eks(actor: Actor) -> bool:
    """An AWS service call, or a session of one of EKS's service-linked roles (by path: nobody
    but AWS can create a role under `/aws-service-role/`, so a look-alike name does not pass)."""
    if actor.identity_type == "AWSService":
        return True
    principal = parse_principal_arn(actor.principal_arn)
    return (
        principal is not None
        and principal.is_role
        and principal.path.startswith(SERVICE_LINKED_ROLE_PATH)
        and principal.name.startswith(EKS_SERVICE_LINKED_ROLE_PREFIX)
    )


def _service(name: str) -> str:
    """`ec2.amazonaws.com.cn` (China) names the same service as `ec2.amazonaws.com`."""
    name = name.lower()
    return name[: -len(".cn")] if name.endswith(".amazonaws.com.cn") else name
