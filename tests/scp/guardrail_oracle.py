"""What the event-driven guardrail's own rule says of the same request: the SCP must agree with it."""

from __future__ import annotations

from typing import Any

from eks_guardrail import changes as c
from eks_guardrail.aws_catalog import DEFAULT_AUTHENTICATION_MODE, DEFAULT_BOOTSTRAP_CLUSTER_CREATOR_ADMIN
from eks_guardrail.config import OrgRules
from eks_guardrail.rules import REGISTRY

from .eks_requests import Request

CLUSTER = "prod"


def to_change(request: Request) -> Any:
    """The change the guardrail would parse from the CloudTrail record of this request."""
    action, context = request
    name = action.split(":", 1)[1]
    caller = context["aws:PrincipalArn"]
    account = context["aws:PrincipalAccount"]
    meta = c.EventMeta("event-1", name, "eks.amazonaws.com", "2025-01-01T00:00:00Z", account, "eu-west-1", c.Actor("AssumedRole", caller, account))
    principal = context.get("eks:principalArn", "")
    tags = {key.split("/", 1)[1]: value for key, value in context.items() if key.startswith("aws:RequestTag/")}
    if name == "CreateAccessEntry":
        return c.AccessEntryCreated(meta, CLUSTER, principal, context.get("eks:accessEntryType", "STANDARD"), context.get("eks:username"),
                                    tuple(context.get("eks:kubernetesGroups", ())), tags)
    if name == "AssociateAccessPolicy":
        scope = c.AccessScope(context["eks:accessScope"], tuple(context.get("eks:namespaces", ())))
        return c.AccessPolicyAssociated(meta, CLUSTER, principal, context["eks:policyArn"], scope)
    if name == "DisassociateAccessPolicy":
        return c.AccessPolicyDisassociated(meta, CLUSTER, principal, context["eks:policyArn"])
    if name == "UpdateAccessEntry":
        return c.AccessEntryUpdated(meta, CLUSTER, principal, username=None, kubernetes_groups=("changed",))
    if name == "DeleteAccessEntry":
        return c.AccessEntryDeleted(meta, CLUSTER, principal)
    if name == "CreateCluster":
        mode = context.get("eks:authenticationMode")
        bootstrap = context.get("eks:bootstrapClusterCreatorAdminPermissions")
        return c.ClusterCreated(meta, CLUSTER, mode or DEFAULT_AUTHENTICATION_MODE,
                                DEFAULT_BOOTSTRAP_CLUSTER_CREATOR_ADMIN if bootstrap is None else bootstrap,
                                access_config_defaulted=mode is None and bootstrap is None, tags=tags)
    if name == "UpdateClusterConfig":
        return c.ClusterConfigUpdated(meta, CLUSTER, context.get("eks:authenticationMode"))
    if name == "TagResource":
        return c.ResourceTagged(meta, f"arn:aws:eks:eu-west-1:{account}:cluster/{CLUSTER}", tags)
    raise ValueError(f"no change for {action}")


def guardrail_flags(org: OrgRules, rule_id: str, request: Request) -> bool:
    """Whether the rule's own check finds a violation (node-entry-principal: trust policy unknown)."""
    spec = REGISTRY[rule_id]
    change = to_change(request)
    if not isinstance(change, spec.handles):
        return False
    args = (change, org.settings(rule_id), org) + ((None,) if spec.needs_state else ())
    return any(True for _ in spec.check(*args))
