"""Requests as EKS presents them to IAM: the action and its request context (docs/aws-facts.md D).

A key the request does not set is absent. Calls on an existing entry carry the keys of the
`access-entry` resource (its principal, username, groups, type) as the entry is.
"""

from __future__ import annotations

from typing import Any

from .policy_eval import scp_allows

ACCOUNT = "111122223333"
STRANGER_ACCOUNT = "444455556666"
ALICE = f"arn:aws:iam::{ACCOUNT}:role/Alice"  # an ordinary caller
GUARDRAIL_ROLE = f"arn:aws:iam::{ACCOUNT}:role/eks-guardrail-access-entry-eu-west-1"
BREAK_GLASS = f"arn:aws:iam::{ACCOUNT}:role/BreakGlass"  # exempt in EXEMPT_RULES
DEV_ROLE = f"arn:aws:iam::{ACCOUNT}:role/dev"
CLUSTER_ADMIN = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy"
EDIT = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSEditPolicy"
VIEW = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy"

Request = tuple[str, dict[str, Any]]


def caller_keys(caller: str) -> dict[str, Any]:
    return {"aws:PrincipalArn": caller, "aws:PrincipalAccount": caller.split(":")[4]}


def create_entry(principal: str, *, groups: list[str] | None = None, username: str | None = None, entry_type: str | None = None,
                 tags: dict[str, str] | None = None, caller: str = ALICE) -> Request:
    context: dict[str, Any] = {**caller_keys(caller), "eks:principalArn": principal}
    if groups is not None:
        context["eks:kubernetesGroups"] = list(groups)
    if username is not None:
        context["eks:username"] = username
    if entry_type is not None:
        context["eks:accessEntryType"] = entry_type
    if tags:
        context.update({f"aws:RequestTag/{k}": v for k, v in tags.items()})
        context["aws:TagKeys"] = list(tags)
    return "eks:CreateAccessEntry", context


def _entry_keys(principal: str) -> dict[str, Any]:
    """The access-entry resource's keys of an existing STANDARD entry with AWS's default username."""
    return {"eks:principalArn": principal, "eks:accessEntryType": "STANDARD", "eks:clusterName": "prod"}


def associate(principal: str, policy: str, *, namespaces: list[str] | None = None, caller: str = ALICE) -> Request:
    context: dict[str, Any] = {**caller_keys(caller), **_entry_keys(principal), "eks:policyArn": policy}
    if namespaces is None:
        context["eks:accessScope"] = "cluster"
    else:
        context["eks:accessScope"] = "namespace"
        context["eks:namespaces"] = list(namespaces)
    return "eks:AssociateAccessPolicy", context


def on_entry(action: str, principal: str, *, caller: str = ALICE, **extra: Any) -> Request:
    """UpdateAccessEntry, DeleteAccessEntry, DisassociateAccessPolicy: only the entry's keys (and a policy ARN)."""
    return f"eks:{action}", {**caller_keys(caller), **_entry_keys(principal), **extra}


def create_cluster(*, mode: str | None = None, bootstrap: bool | None = None, tags: dict[str, str] | None = None, caller: str = ALICE) -> Request:
    context: dict[str, Any] = caller_keys(caller)
    if mode is not None:
        context["eks:authenticationMode"] = mode
    if bootstrap is not None:
        context["eks:bootstrapClusterCreatorAdminPermissions"] = bootstrap
    if tags:
        context.update({f"aws:RequestTag/{k}": v for k, v in tags.items()})
        context["aws:TagKeys"] = list(tags)
    return "eks:CreateCluster", context


def update_cluster_config(*, mode: str | None = None, caller: str = ALICE) -> Request:
    context: dict[str, Any] = caller_keys(caller)
    if mode is not None:
        context["eks:authenticationMode"] = mode
    return "eks:UpdateClusterConfig", context


def tag_resource(tags: dict[str, str], *, caller: str = ALICE) -> Request:
    context = {**caller_keys(caller), **{f"aws:RequestTag/{k}": v for k, v in tags.items()}, "aws:TagKeys": list(tags)}
    return "eks:TagResource", context


def allowed(documents: list[dict[str, Any]], request: Request) -> bool:
    action, context = request
    return scp_allows(documents, action, context)


def as_caller(request: Request, caller: str) -> Request:
    action, context = request
    return action, {**context, **caller_keys(caller)}
