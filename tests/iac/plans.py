"""Terraform plans in the shape `terraform show -json tfplan` (Terraform 1.x, hashicorp/aws 5.x) writes
them, built from the provider's schemas: aws_eks_access_entry (cluster_name, principal_arn, type,
user_name and kubernetes_groups optional+computed, tags, tags_all, access_entry_arn computed),
aws_eks_access_policy_association (access_scope: a block list of {type, namespaces}), aws_eks_cluster
(access_config: a block list of {authentication_mode, bootstrap_cluster_creator_admin_permissions})."""

from __future__ import annotations

import json
from typing import Any

ACCOUNT = "111122223333"
CLUSTER_ARN = f"arn:aws:eks:eu-west-1:{ACCOUNT}:cluster/prod"
ADMIN = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy"


def resource_change(address: str, actions: list[str], before: Any, after: Any, after_unknown: Any = None) -> dict[str, Any]:
    module, _, local = address.rpartition(".aws_") if address.startswith("module.") else ("", "", address[4:])
    kind, name = f"aws_{local}".split(".", 1)
    index = None
    if "[" in name:
        name, index = name[: name.index("[")], json.loads(name[name.index("[") + 1 : -1])
    change = {
        "address": address,
        "mode": "managed",
        "type": kind,
        "name": name,
        "provider_name": "registry.terraform.io/hashicorp/aws",
        "change": {
            "actions": actions,
            "before": before,
            "after": after,
            "after_unknown": after_unknown or {},
            "before_sensitive": False if before is None else {},
            "after_sensitive": False if after is None else {},
        },
    }
    if module:
        change["module_address"] = module
    if index is not None:
        change["index"] = index
    return change


def entry_after(principal: str, *, user_name: str | None = None, groups: list[str] | None = None, tags: dict | None = None) -> dict:
    return {
        "cluster_name": "prod", "principal_arn": principal, "type": "STANDARD", "user_name": user_name,
        "kubernetes_groups": groups, "tags": tags, "timeouts": None,
    }


def entry_unknown(**extra: Any) -> dict:
    """What Terraform marks unknown on a new entry: the computed attributes not set in the configuration."""
    marks = {"access_entry_arn": True, "created_at": True, "id": True, "modified_at": True, "tags_all": True}
    marks.update(extra)
    return marks


def entry_state(principal: str, *, user_name: str, groups: list[str], tags: dict | None = None) -> dict:
    return {
        "access_entry_arn": f"arn:aws:eks:eu-west-1:{ACCOUNT}:access-entry/prod/role/{ACCOUNT}/x/abc",
        "cluster_name": "prod", "created_at": "2024-05-01T10:00:00Z", "id": f"prod:{principal}",
        "kubernetes_groups": groups, "modified_at": "2024-05-01T10:00:00Z", "principal_arn": principal,
        "tags": tags or {}, "tags_all": tags or {}, "timeouts": None, "type": "STANDARD", "user_name": user_name,
    }


def association_after(principal: str, policy: str, scope: str, namespaces: list[str] | None = None) -> dict:
    return {
        "access_scope": [{"namespaces": namespaces, "type": scope}], "cluster_name": "prod",
        "policy_arn": policy, "principal_arn": principal, "timeouts": None,
    }


def cluster_after(access_config: list[dict] | None) -> dict:
    return {
        "access_config": access_config, "bootstrap_self_managed_addons": True, "name": "prod",
        "role_arn": f"arn:aws:iam::{ACCOUNT}:role/eks-cluster", "tags": None, "version": "1.30",
        "vpc_config": [{"subnet_ids": ["subnet-1", "subnet-2"], "endpoint_private_access": False}],
    }


def module_config(resources: list[dict], **module_calls: dict) -> dict:
    module: dict = {"resources": resources}
    if module_calls:
        module["module_calls"] = {name: {"source": f"./modules/{name}", "module": body} for name, body in module_calls.items()}
    return module


def configured(address: str, **expressions: Any) -> dict:
    kind, name = address.split(".", 1)
    return {"address": address, "mode": "managed", "type": kind, "name": name, "expressions": expressions}


def plan(resource_changes: list[dict], configuration: dict | None = None) -> dict:
    data: dict = {
        "format_version": "1.2",
        "terraform_version": "1.9.5",
        "planned_values": {"root_module": {}},
        "resource_changes": resource_changes,
    }
    if configuration is not None:
        data["configuration"] = {"provider_config": {"aws": {"name": "aws"}}, "root_module": configuration}
    return data
