"""CloudFormation templates, JSON or YAML (short-form tags `!Ref`, `!Sub`, `!GetAtt`, ...), and
so the templates `cdk synth` writes.

Read: `AWS::EKS::AccessEntry` (its inline `AccessPolicies` are associations) and `AWS::EKS::Cluster`
(`AccessConfig`, CloudFormation's defaults when absent: AuthenticationMode CONFIG_MAP,
BootstrapClusterCreatorAdminPermissions true; CloudFormation Template Reference,
AWS::EKS::Cluster AccessConfig). Intrinsics are resolved where the template and the command
line allow: `Ref` of parameters (`--parameter`, else `Default`) and of AWS::AccountId
(`--account`), AWS::Region (`--region`), AWS::Partition, AWS::URLSuffix, AWS::NoValue;
`Ref` of an EKS cluster (its Name) or IAM role (its RoleName); `Fn::GetAtt Role.Arn` of an IAM
role with a RoleName; `Fn::Sub`, `Fn::Join`, `Fn::Select`. Anything else is unresolved, and a
resource whose verdict reads it is undecided.
"""

from __future__ import annotations

import json
import re
from dataclasses import replace
from typing import Any, Callable, Mapping

import yaml

from ..changes import Change
from ..planned_changes import planned_association, planned_entry
from .resources import UNKNOWN_NAME, Context, PlannedResource, Where, dig, dotted, iac_meta, planned_cluster

ENTRY, CLUSTER = "AWS::EKS::AccessEntry", "AWS::EKS::Cluster"
CFN_DEFAULT_MODE, CFN_DEFAULT_BOOTSTRAP = "CONFIG_MAP", True


class TemplateError(ValueError):
    """Not a CloudFormation template, or not one CloudFormation would accept."""


class Unresolved(Exception):
    """An intrinsic whose value is not known before deployment; the message says which."""


# --- loading ------------------------------------------------------------------------------


class _TemplateLoader(yaml.SafeLoader):
    """PyYAML's safe loader, reading the short-form tags as their long forms (`!Ref X` -> {"Ref": "X"})."""


def _intrinsic(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    if suffix == "Ref" or suffix == "Condition":
        return {suffix: value}
    if suffix == "GetAtt" and isinstance(value, str):
        value = value.split(".", 1)
    return {f"Fn::{suffix}": value}


_TemplateLoader.add_multi_constructor("!", _intrinsic)


def is_template(data: Any) -> bool:
    return isinstance(data, Mapping) and isinstance(data.get("Resources"), Mapping)


def load_yaml_template(text: str) -> tuple[Any, dict[str, int]]:
    """The template and the line of each resource's logical id."""
    data = yaml.load(text, Loader=_TemplateLoader)  # noqa: S506 - a SafeLoader subclass
    return data, _composed_lines(text)


def _composed_lines(text: str) -> dict[str, int]:
    root = yaml.compose(text, Loader=yaml.SafeLoader)
    if isinstance(root, yaml.MappingNode):
        for key, value in root.value:
            if key.value == "Resources" and isinstance(value, yaml.MappingNode):
                return {k.value: k.start_mark.line + 1 for k, _ in value.value}
    return {}


def json_resource_lines(text: str, template: Mapping[str, Any]) -> dict[str, int]:
    """The line of each logical id in a JSON template: read as YAML (JSON nearly is), else its
    first `"Id":` after `"Resources"`."""
    try:
        return _composed_lines(text)
    except yaml.YAMLError:
        pass
    start = max(text.find('"Resources"'), 0)
    lines = {}
    for logical_id in template.get("Resources") or {}:
        found = re.compile(re.escape(json.dumps(logical_id)) + r"\s*:").search(text, start)
        if found:
            lines[logical_id] = text.count("\n", 0, found.start()) + 1
    return lines


# --- resources ----------------------------------------------------------------------------


def template_resources(template: Mapping[str, Any], lines: Mapping[str, int], file: str, context: Context) -> list[PlannedResource]:
    account = context.account or Resolver(template, context).account_in_template()
    resolver = Resolver(template, replace(context, account=account))  # AWS::AccountId too
    out = []
    for logical_id, resource in template["Resources"].items():
        if not isinstance(resource, Mapping):
            raise TemplateError(f"Resources.{logical_id}: expected an object")
        kind = resource.get("Type")
        if kind not in (ENTRY, CLUSTER):
            continue
        properties = resource.get("Properties") or {}
        if not isinstance(properties, Mapping):
            raise TemplateError(f"Resources.{logical_id}.Properties: expected an object")
        where = Where(file, str(logical_id), lines.get(logical_id))
        fields = _Fields(resolver, properties)

        def meta(event_name: str, where: Where = where) -> Any:
            return iac_meta(event_name, where, account=account, region=context.region)

        changes = _entry(fields, meta) if kind == ENTRY else _cluster(fields, meta)
        out.append(PlannedResource(where, () if fields.unknown else tuple(changes), tuple(dict.fromkeys(fields.unknown))))
    return out


def _entry(fields: "_Fields", meta: Callable[[str], Any]) -> list[Change]:
    cluster, principal = fields.name("ClusterName"), fields.text("PrincipalArn")
    tags = fields.tags("Tags")
    entry = planned_entry(
        cluster=cluster, principal_arn=principal, entry_type=fields.text("Type") or "STANDARD",
        username=fields.text("Username"), groups=fields.strings("KubernetesGroups"), meta=meta("CreateAccessEntry"),
    )
    changes: list[Change] = [replace(entry, tags=tags)]
    for index, _policy in enumerate(fields.get("AccessPolicies") or []):
        at = ("AccessPolicies", index)
        changes.append(
            planned_association(
                cluster=cluster, principal_arn=principal, policy_arn=fields.text(*at, "PolicyArn"),
                scope_type=fields.text(*at, "AccessScope", "Type") or "", namespaces=fields.strings(*at, "AccessScope", "Namespaces"),
                meta=meta("AssociateAccessPolicy"),
            )
        )
    return changes


def _cluster(fields: "_Fields", meta: Callable[[str], Any]) -> list[Change]:
    mode = fields.text("AccessConfig", "AuthenticationMode")
    bootstrap = fields.get("AccessConfig", "BootstrapClusterCreatorAdminPermissions")
    if isinstance(bootstrap, str):  # a parameter's value, or "true" written as a string
        bootstrap = bootstrap.lower() == "true"
    return [
        planned_cluster(
            name=fields.name("Name"), authentication_mode=mode or CFN_DEFAULT_MODE,
            bootstrap_admin=CFN_DEFAULT_BOOTSTRAP if bootstrap is None else bool(bootstrap),
            defaulted=mode is None and bootstrap is None, tags=fields.tags("Tags"), meta=meta("CreateCluster"),
        )
    ]


class _Fields:
    """A resource's properties, resolved one field at a time; unresolved fields are collected by name."""

    def __init__(self, resolver: "Resolver", properties: Mapping[str, Any]):
        self.resolver, self.properties = resolver, properties
        self.unknown: list[str] = []

    def get(self, *path: str | int) -> Any:
        """The value at `path`, intrinsics on the way resolved; None when absent or unresolved."""
        try:
            value: Any = self.properties
            for step in path:
                value = dig(self.resolver.value(value) if _is_intrinsic(value) else value, (step,))
            return self.resolver.value(value)
        except Unresolved as why:
            self.unknown.append(f"{dotted(path)} ({why})")
            return None

    def text(self, *path: str | int) -> Any:
        value = self.get(*path)
        if value is not None and not isinstance(value, str):
            raise TemplateError(f"{dotted(path)}: expected a string, got {type(value).__name__}")
        return value

    def name(self, *path: str | int) -> str:
        try:
            return self.resolver.value(dig(self.properties, path)) or UNKNOWN_NAME
        except Unresolved:
            return UNKNOWN_NAME

    def strings(self, *path: str | int) -> tuple[str, ...]:
        value = self.get(*path)
        if value is None:
            return ()
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            raise TemplateError(f"{dotted(path)}: expected a list of strings")
        return tuple(value)

    def tags(self, *path: str) -> dict[str, str]:
        value = self.get(*path) or []
        if isinstance(value, Mapping):  # AWS::EKS::Cluster documents a list; CDK L1 writes a list too
            return {str(k): str(v) for k, v in value.items()}
        if not isinstance(value, list) or not all(isinstance(tag, Mapping) and "Key" in tag for tag in value):
            raise TemplateError(f"{dotted(path)}: expected a list of {{Key, Value}}")
        return {str(tag["Key"]): str(tag.get("Value", "")) for tag in value}


def _is_intrinsic(value: Any) -> bool:
    return isinstance(value, Mapping) and len(value) == 1 and next(iter(value)) in INTRINSICS


# --- intrinsics ---------------------------------------------------------------------------

INTRINSICS = frozenset({"Ref", "Condition"}) | {
    f"Fn::{name}"
    for name in ("Sub", "Join", "GetAtt", "Select", "If", "Split", "ImportValue", "FindInMap", "Base64", "GetAZs", "Cidr", "Transform", "ToJsonString", "Length")
}
NO_VALUE = "AWS::NoValue"


class Resolver:
    """Resolves intrinsics from the template's parameters and resources and the command line's context."""

    def __init__(self, template: Mapping[str, Any], context: Context):
        self.parameters = template.get("Parameters") or {}
        self.resources = template.get("Resources") or {}
        self.context = context

    def value(self, node: Any) -> Any:
        if isinstance(node, list):
            return [self.value(item) for item in node if item != {"Ref": NO_VALUE}]
        if not isinstance(node, Mapping):
            return node
        if len(node) == 1 and next(iter(node)) in INTRINSICS:
            name, argument = next(iter(node.items()))
            if name == "Ref":
                return self.ref(argument)
            if name == "Fn::Sub":
                return self.sub(argument)
            if name == "Fn::Join" and isinstance(argument, list) and len(argument) == 2:
                parts = self.value(argument[1])
                if not isinstance(parts, list):
                    raise Unresolved("Fn::Join of a list that is not known")
                return str(self.value(argument[0])).join(str(part) for part in parts)
            if name == "Fn::Select" and isinstance(argument, list) and len(argument) == 2:
                items, index = self.value(argument[1]), self.value(argument[0])
                if not isinstance(items, list) or not str(index).isdigit() or int(index) >= len(items):
                    raise TemplateError(f"Fn::Select: index {index!r} out of the list")
                return items[int(index)]
            if name == "Fn::GetAtt":
                return self.get_att(argument)
            raise Unresolved(f"{name} is not resolved before deployment")
        return {key: self.value(item) for key, item in node.items() if item != {"Ref": NO_VALUE}}

    def ref(self, name: Any) -> Any:
        pseudo = {
            "AWS::AccountId": self.context.account,
            "AWS::Region": self.context.region,
            "AWS::Partition": partition(self.context.region),
            "AWS::URLSuffix": "amazonaws.com.cn" if self.context.region.startswith("cn-") else "amazonaws.com",
        }
        if name in pseudo:
            if not pseudo[name]:
                raise Unresolved(f"Ref {name}: pass --{'account' if name == 'AWS::AccountId' else 'region'}")
            return pseudo[name]
        if name in self.parameters:
            return self.parameter(name)
        resource = self.resources.get(name)
        if isinstance(resource, Mapping):
            properties = resource.get("Properties") or {}
            key = {CLUSTER: "Name", "AWS::IAM::Role": "RoleName", "AWS::IAM::User": "UserName"}.get(resource.get("Type"))
            if key and properties.get(key) is not None:
                return self.value(properties[key])
        raise Unresolved(f"Ref {name} is known only after deployment")

    def parameter(self, name: str) -> Any:
        definition = self.parameters[name] if isinstance(self.parameters[name], Mapping) else {}
        value = self.context.parameters.get(name, definition.get("Default"))
        if value is None:
            raise Unresolved(f"parameter {name} has no Default: pass --parameter {name}=VALUE")
        kind = str(definition.get("Type", "String"))
        if kind == "CommaDelimitedList" or kind.startswith("List<"):
            return [item.strip() for item in value.split(",")] if isinstance(value, str) else list(value)
        return value if isinstance(value, (str, bool)) else str(value)

    def get_att(self, argument: Any) -> Any:
        logical_id, attribute = (argument + [None, None])[:2] if isinstance(argument, list) else (None, None)
        resource = self.resources.get(logical_id) if isinstance(logical_id, str) else None
        if isinstance(resource, Mapping) and attribute == "Arn" and resource.get("Type") in ("AWS::IAM::Role", "AWS::IAM::User"):
            properties = resource.get("Properties") or {}
            kind, key = ("role", "RoleName") if resource["Type"] == "AWS::IAM::Role" else ("user", "UserName")
            if properties.get(key) is not None:
                path = self.value(properties.get("Path", "/"))
                return f"arn:{self.ref('AWS::Partition')}:iam::{self.ref('AWS::AccountId')}:{kind}{path}{self.value(properties[key])}"
        raise Unresolved(f"Fn::GetAtt {'.'.join(str(a) for a in argument) if isinstance(argument, list) else argument} is known only after deployment")

    def sub(self, argument: Any) -> str:
        text, variables = (argument, {}) if isinstance(argument, str) else (argument + [{}])[:2] if isinstance(argument, list) else ("", {})
        if not isinstance(text, str) or not isinstance(variables, Mapping):
            raise Unresolved("Fn::Sub with an unexpected shape")

        def replace(found: re.Match[str]) -> str:
            name = found.group(1)
            if name.startswith("!"):
                return "${" + name[1:] + "}"  # ${!Literal}
            if name in variables:
                return str(self.value(variables[name]))
            if "." in name and name.split(".", 1)[0] in self.resources:
                return str(self.get_att(name.split(".", 1)))
            return str(self.ref(name))

        return re.sub(r"\$\{([^}]*)\}", replace, text)

    def account_in_template(self) -> str:
        """The cluster's account from a literal cluster role ARN (the role is in the cluster's account), or ""."""
        for resource in self.resources.values():
            if isinstance(resource, Mapping) and resource.get("Type") == CLUSTER:
                try:
                    arn = self.value((resource.get("Properties") or {}).get("RoleArn"))
                except Unresolved:
                    continue
                parts = arn.split(":") if isinstance(arn, str) else []
                if len(parts) > 5 and re.fullmatch(r"[0-9]{12}", parts[4]):
                    return parts[4]
        return ""


def partition(region: str) -> str:
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    return "aws"
