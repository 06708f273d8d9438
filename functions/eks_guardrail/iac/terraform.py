"""Terraform plans as `terraform show -json tfplan` prints them (format_version 1.x).

Read: `resource_changes` of managed `aws_eks_access_entry`, `aws_eks_access_policy_association`
and `aws_eks_cluster` at any module depth, with their `change.actions`, `before`, `after` and
`after_unknown` (nested blocks are lists of objects; an unknown value is null in `after` and
true at its place in `after_unknown`). An attribute the provider computes (`user_name`,
`kubernetes_groups`, `access_config`) is unknown when the configuration leaves it out: AWS's
default then applies, and only then (the plan's `configuration` says what was written).
"""

from __future__ import annotations

import json
import re
from dataclasses import replace
from typing import Any, Mapping

from ..changes import Change
from ..planned_changes import planned_association, planned_entry
from .resources import (
    UNKNOWN_NAME,
    Context,
    PlannedResource,
    Where,
    dig,
    dotted,
    iac_meta,
    planned_cluster,
    planned_cluster_update,
    planned_disassociation,
    planned_entry_deletion,
    planned_entry_update,
    planned_tagging,
)

ENTRY, ASSOCIATION, CLUSTER = "aws_eks_access_entry", "aws_eks_access_policy_association", "aws_eks_cluster"
#: CreateCluster without accessConfig (docs/aws-facts.md; CreateAccessConfigRequest).
API_DEFAULT_MODE, API_DEFAULT_BOOTSTRAP = "CONFIG_MAP", True


class PlanError(ValueError):
    """The plan is not in the shape `terraform show -json` writes."""


def is_terraform_plan(data: Any) -> bool:
    return isinstance(data, Mapping) and "resource_changes" in data or (
        isinstance(data, Mapping) and "terraform_version" in data and "format_version" in data
    )


def plan_resources(plan: Mapping[str, Any], text: str, file: str, context: Context) -> list[PlannedResource]:
    """Every EKS access resource the plan changes, as the changes applying it would make."""
    changes = plan.get("resource_changes") or []
    if not isinstance(changes, list):
        raise PlanError("resource_changes: expected a list")
    account = context.account or account_in_plan(changes)
    region = context.region or region_in_plan(changes)
    resources = []
    for index, change in enumerate(changes):
        if not isinstance(change, Mapping) or not isinstance(change.get("change"), Mapping):
            raise PlanError(f"resource_changes[{index}]: expected an object with a change")
        if change.get("mode", "managed") != "managed" or change.get("type") not in (ENTRY, ASSOCIATION, CLUSTER):
            continue
        address = str(change.get("address"))
        where = Where(file, address, line_of(text, address))
        resources.append(_resource(change, where, _expressions(plan, change), account, region))
    return resources


def _resource(change: Mapping[str, Any], where: Where, expressions: Mapping | None, account: str, region: str) -> PlannedResource:
    body = change["change"]
    actions = list(body.get("actions") or [])
    kind = change["type"]

    def meta(event_name: str):
        return iac_meta(event_name, where, account=account, region=region)

    before = _Values(body.get("before"), None, None)
    after = _Values(body.get("after"), body.get("after_unknown"), expressions)
    deleted = _deleted(kind, before, meta) if "delete" in actions else []  # `before` is always known
    if "create" in actions:
        planned = _created(kind, after, meta)
    elif "update" in actions:
        planned = _updated(kind, before, after, meta)
    else:
        planned = []
    unknown = tuple(dict.fromkeys(after.unknown))
    # A change built from unknown values is never judged: the resource is undecided instead.
    return PlannedResource(where, tuple(deleted) + (() if unknown else tuple(planned)), unknown)


def _deleted(kind: str, before: "_Values", meta) -> list[Change]:
    if kind == ENTRY:
        return [planned_entry_deletion(cluster=before.text("cluster_name"), principal_arn=before.text("principal_arn"), meta=meta("DeleteAccessEntry"))]
    if kind == ASSOCIATION:
        return [
            planned_disassociation(
                cluster=before.text("cluster_name"), principal_arn=before.text("principal_arn"),
                policy_arn=before.text("policy_arn"), meta=meta("DisassociateAccessPolicy"),
            )
        ]
    return []  # a deleted cluster takes its entries with it: no rule judges it


def _created(kind: str, after: "_Values", meta) -> list[Change]:
    if kind == ENTRY:
        entry = planned_entry(
            cluster=after.name("cluster_name"),
            principal_arn=after.text("principal_arn"),
            entry_type=after.text("type") or "STANDARD",
            username=after.text("user_name", computed_default=None),
            groups=after.strings("kubernetes_groups", computed_default=()) or (),
            meta=meta("CreateAccessEntry"),
        )
        return [replace(entry, tags=after.mapping("tags"))]
    if kind == ASSOCIATION:
        return [
            planned_association(
                cluster=after.name("cluster_name"),
                principal_arn=after.text("principal_arn"),
                policy_arn=after.text("policy_arn"),
                scope_type=after.text("access_scope", 0, "type") or "",
                namespaces=after.strings("access_scope", 0, "namespaces") or (),
                meta=meta("AssociateAccessPolicy"),
            )
        ]
    mode = after.get("access_config", 0, "authentication_mode", computed_default=None)
    bootstrap = after.get("access_config", 0, "bootstrap_cluster_creator_admin_permissions", computed_default=None)
    return [
        planned_cluster(
            name=after.name("name"),
            authentication_mode=mode or API_DEFAULT_MODE,
            bootstrap_admin=API_DEFAULT_BOOTSTRAP if bootstrap is None else bool(bootstrap),
            defaulted=mode is None and bootstrap is None,
            tags=after.mapping("tags"),
            meta=meta("CreateCluster"),
        )
    ]


def _updated(kind: str, before: "_Values", after: "_Values", meta) -> list[Change]:
    """In-place updates: EKS's UpdateAccessEntry (username, groups), UpdateClusterConfig (mode),
    TagResource. Everything else of these resources forces replacement (delete, create)."""
    out: list[Change] = []
    if kind == ENTRY:
        username, groups = after.text("user_name"), after.strings("kubernetes_groups")
        username_changed = username != before.text("user_name")
        groups_changed = sorted(groups or ()) != sorted(before.strings("kubernetes_groups") or ())
        if username_changed or groups_changed:
            out.append(
                planned_entry_update(
                    cluster=before.text("cluster_name"), principal_arn=before.text("principal_arn"),
                    username=username if username_changed else None, groups=(groups or ()) if groups_changed else None,
                    entry_type=before.text("type"), meta=meta("UpdateAccessEntry"),
                )
            )
        arn = before.text("access_entry_arn")
    elif kind == CLUSTER:
        mode = after.get("access_config", 0, "authentication_mode")
        if mode is not None and mode != before.get("access_config", 0, "authentication_mode"):
            out.append(planned_cluster_update(name=before.text("name"), authentication_mode=mode, meta=meta("UpdateClusterConfig")))
        arn = before.text("arn")
    else:
        return out
    old_tags, new_tags = before.mapping("tags"), after.mapping("tags")
    added = {key: value for key, value in new_tags.items() if old_tags.get(key) != value}
    if added and arn:
        out.append(planned_tagging(resource_arn=arn, tags=added, meta=meta("TagResource")))
    return out


_NOTHING = object()


class _Values:
    """One side of a change (`before`, or `after` with `after_unknown`); unknown reads are collected by name."""

    def __init__(self, values: Any, unknown: Any, expressions: Mapping | None):
        self.values, self.unknown_marks, self.expressions = values or {}, unknown or {}, expressions
        self.unknown: list[str] = []

    def get(self, *path: str | int, computed_default: Any = _NOTHING) -> Any:
        if _marked(self.unknown_marks, path):
            if computed_default is not _NOTHING and self.expressions is not None and not _marked(self.expressions, path, leaf=Mapping):
                return computed_default  # the configuration leaves it to AWS
            self.unknown.append(dotted(path))
            return None
        return dig(self.values, path)

    def text(self, *path: str | int, computed_default: Any = _NOTHING) -> Any:
        value = self.get(*path, computed_default=computed_default)
        if value is not None and not isinstance(value, str):
            raise PlanError(f"{dotted(path)}: expected a string, got {type(value).__name__}")
        return value

    def name(self, *path: str | int) -> str:
        """A cluster name: only shown in messages, so an unknown one is not a reason to be undecided."""
        if _marked(self.unknown_marks, path):
            return UNKNOWN_NAME
        return self.text(*path) or UNKNOWN_NAME

    def strings(self, *path: str | int, computed_default: Any = _NOTHING) -> tuple[str, ...] | None:
        value = self.get(*path, computed_default=computed_default)
        if value is None:
            return None
        if not isinstance(value, (list, tuple)) or not all(isinstance(item, str) for item in value):
            raise PlanError(f"{dotted(path)}: expected a list of strings")
        return tuple(value)

    def mapping(self, *path: str | int) -> dict[str, str]:
        value = self.get(*path)
        return {str(k): str(v) for k, v in value.items()} if isinstance(value, Mapping) else {}


def _marked(marks: Any, path: tuple[str | int, ...], leaf: type | None = None) -> bool:
    """Whether `after_unknown` marks the path (or a block around it) true; with `leaf`, whether
    the configuration's `expressions` hold the path (an expression object is a Mapping)."""
    value = marks
    for step in path:
        if value is True:
            return leaf is None
        value = dig(value, (step,))
        if value is None:
            return False
    return _any_true(value) if leaf is None else isinstance(value, leaf)


def _any_true(marks: Any) -> bool:
    """`after_unknown` marks an element of a list or a key of a map unknown in place: `[false, true]`."""
    if isinstance(marks, list):
        return any(_any_true(item) for item in marks)
    if isinstance(marks, Mapping):
        return any(_any_true(item) for item in marks.values())
    return marks is True


def _expressions(plan: Mapping[str, Any], change: Mapping[str, Any]) -> Mapping | None:
    """What the configuration writes for this resource (`configuration.root_module`, through module_calls), or None."""
    module = dig(plan, ("configuration", "root_module"))
    for name in re.findall(r"module\.([^.\[]+)", str(change.get("module_address") or "")):
        module = dig(module, ("module_calls", name, "module"))
    for resource in (module or {}).get("resources") or []:
        if isinstance(resource, Mapping) and (resource.get("mode", "managed"), resource.get("type"), resource.get("name")) == (
            "managed", change.get("type"), change.get("name")
        ):
            expressions = resource.get("expressions")
            return expressions if isinstance(expressions, Mapping) else {}
    return None


def _arns_in_plan(changes: list[Any]) -> list[str]:
    arns = []
    for change in changes:
        if not isinstance(change, Mapping) or change.get("type") not in (CLUSTER, ENTRY):
            continue
        for side in ("before", "after"):
            values = dig(change, ("change", side)) or {}
            for key in ("arn", "access_entry_arn", "role_arn"):  # the cluster's own role is in its account
                if isinstance(values, Mapping) and isinstance(values.get(key), str):
                    arns.append(values[key])
    return arns


def account_in_plan(changes: list[Any]) -> str:
    """The cluster's account from a cluster, entry or cluster-role ARN in the plan, or ""."""
    for arn in _arns_in_plan(changes):
        parts = arn.split(":")
        if len(parts) > 5 and re.fullmatch(r"[0-9]{12}", parts[4]):
            return parts[4]
    return ""


def region_in_plan(changes: list[Any]) -> str:
    for arn in _arns_in_plan(changes):
        parts = arn.split(":")
        if len(parts) > 5 and parts[2] == "eks" and parts[3]:
            return parts[3]
    return ""


def line_of(text: str, address: str) -> int:
    """The line of `"address": "<address>"` (always 1 in the one-line JSON Terraform prints)."""
    at = text.find(json.dumps(address))
    return text.count("\n", 0, at) + 1 if at >= 0 else 1
