"""One Deny statement (or a few) per rule of the org rules: what an SCP can prevent before it happens.

Which rules: every rule whose action is not `off`. A rule that only alerts (`alert`) gets its
statement as well as one that rolls back (`rollback`): the point of an SCP is that the
change never happens, and a change the organisation wants to hear about is one it does not
want. `mode` (monitor/enforce) does not matter either: attaching the SCP is the decision.

Who is excepted (`aws:PrincipalArn`, `ArnNotLike`, in every statement):

- the guardrail's own roles (`eks-guardrail-<function>-<region>`, as `infra/naming.py` names
  them), so that rollbacks and restores still run;
- `exemptions.principals` as callers: break-glass stays possible. The guardrail itself reads
  that list as the principals whose *entries* are exempt; the SCP does not go that far (an
  exempt principal's entry still cannot be given a forbidden grant by someone else), and
  the event-driven guardrail still judges what excepted callers do.

`protected-entry` excepts only the guardrail's roles (an exemption never lets anyone delete or
weaken a protected entry), and `exemption-tag` excepts the guardrail's roles and
`exemptions.tag.set_by`.

Every condition fails closed where a key might be absent: negated operators (true when the
key is missing) for what must be present, `BoolIfExists` for the bootstrap flag whose absence
means `true`, `ForAnyValue:` on the multi-valued keys.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from ..aws_catalog import (
    ACCESS_POLICY_ARN_PREFIX, AUTHENTICATION_MODES, AWS_RESERVED_PREFIXES, DEFAULT_AUTHENTICATION_MODE, NODE_ENTRY_TYPES,
)
from ..config import OrgRules
from ..rules import REGISTRY
from .patterns import arn_pattern, like_literal, namespace_values

#: The guardrail's functions, each with one role per region (`infra/naming.py` `role_name`).
GUARDRAIL_FUNCTIONS = ("access-entry", "iam-principal", "sweep", "sweep-worker")
#: Every IAM user, in any partition and account.
IAM_USERS = "arn:*:iam::*:user/*"
ACCESS_POLICY_ARN = ACCESS_POLICY_ARN_PREFIX.replace("arn:aws:", "arn:*:", 1) + "{name}"

Statement = dict[str, Any]


@dataclass(frozen=True)
class Guard:
    """A Deny statement for one rule, with what it denies in words."""

    rule_id: str
    summary: str
    statement: Statement
    #: The (operator, key) whose list of values may be spread over several statements when
    #: the statement is too large for one SCP; None: it cannot be split.
    split_on: tuple[str, str] | None = None


def role_name(function: str, region: str) -> str:
    """`eks-guardrail-access-entry-eu-west-1`: the same as `infra.naming.role_name` (a test keeps them equal)."""
    return f"eks-guardrail-{function}-{region}"


def guardrail_role_patterns(org: OrgRules) -> list[str]:
    """The guardrail's own roles: by name where `deployment` says the regions, else any region's."""
    deployment = org.deployment
    if deployment is None:
        return [f"arn:*:iam::*:role/{role_name(function, '*')}" for function in GUARDRAIL_FUNCTIONS]
    names = [role_name("access-entry", region) for region in deployment.regions]
    names += [role_name(function, deployment.home) for function in ("iam-principal", "sweep", "sweep-worker")]
    return [f"arn:*:iam::*:role/{name}" for name in names]


def excepted_callers(org: OrgRules) -> list[str]:
    """The guardrail's roles and the exempt principals (as callers)."""
    exempt = [arn_pattern(p, "exemptions.principals") for p in org.exemptions.principals]
    return _unique(guardrail_role_patterns(org) + exempt)


def guards_for(org: OrgRules) -> list[Guard]:
    """Every statement the org rules ask for, rule by rule (rules in `off` give none)."""
    guards: list[Guard] = []
    for rule_id in sorted(REGISTRY):
        settings = org.settings(rule_id)
        builder = BUILDERS.get(rule_id)
        if builder is not None and settings.action != "off":
            guards += builder(settings, org)
    return guards


def enabled_rules(org: OrgRules) -> list[str]:
    return [rule_id for rule_id in sorted(REGISTRY) if org.settings(rule_id).action != "off"]


def _deny(actions: list[str], condition: dict[str, dict[str, Any]]) -> Statement:
    clean = {op: {key: _one_or_list(values) for key, values in keys.items() if values} for op, keys in condition.items()}
    return {"Effect": "Deny", "Action": _one_or_list(actions), "Resource": "*", "Condition": {op: keys for op, keys in clean.items() if keys}}


def _one_or_list(values: Any) -> Any:
    if isinstance(values, (list, tuple)):
        values = _unique(list(values))
        return values[0] if len(values) == 1 else values
    return values


def _unique(values: list[str]) -> list[str]:
    return list(dict.fromkeys(values))


def _arns(patterns: tuple[str, ...], where: str) -> list[str]:
    return [arn_pattern(p, where) for p in patterns]


def reserved_prefix(settings: Any, org: OrgRules) -> list[Guard]:
    prefixes = _unique(list(AWS_RESERVED_PREFIXES) + list(settings.prefixes))
    values = [like_literal(p) + "*" for p in prefixes]
    callers = excepted_callers(org)
    shown = ", ".join(prefixes)
    return [
        Guard(
            "reserved-prefix",
            f"CreateAccessEntry with a Kubernetes group starting with {shown}",
            _deny(["eks:CreateAccessEntry"], {"ForAnyValue:StringLike": {"eks:kubernetesGroups": values}, "ArnNotLike": {"aws:PrincipalArn": callers}}),
            ("ForAnyValue:StringLike", "eks:kubernetesGroups"),
        ),
        Guard(
            "reserved-prefix",
            f"CreateAccessEntry with a username starting with {shown}",
            _deny(["eks:CreateAccessEntry"], {"StringLike": {"eks:username": values}, "ArnNotLike": {"aws:PrincipalArn": callers}}),
            ("StringLike", "eks:username"),
        ),
    ]


def prefer_roles(settings: Any, org: OrgRules) -> list[Guard]:
    allow = _arns(settings.allow, "rules.prefer-roles.allow")
    condition = {
        "ArnLike": {"eks:principalArn": [IAM_USERS]},
        "ArnNotLike": {"eks:principalArn": allow, "aws:PrincipalArn": excepted_callers(org)},
    }
    but = f" other than {len(allow)} allowed" if allow else ""
    return [
        Guard(
            "prefer-roles",
            f"CreateAccessEntry for an IAM user{but}",
            _deny(["eks:CreateAccessEntry"], condition),
            ("ArnNotLike", "eks:principalArn") if allow else None,
        )
    ]


def admin_policy(settings: Any, org: OrgRules) -> list[Guard]:
    """One statement per distinct grant: policies with the same allow-list share it."""
    grants: dict[tuple[tuple[str, ...], bool], list[str]] = {}
    for name, grant in settings.policies.items():
        grants.setdefault((grant.allow, grant.allow_namespaced), []).append(name)
    callers = excepted_callers(org)
    guards = []
    for (allow_patterns, namespaced), names in grants.items():
        allow = _arns(allow_patterns, "rules.admin-policy.policies.*.allow")
        condition: dict[str, dict[str, Any]] = {"ArnLike": {"eks:policyArn": [ACCESS_POLICY_ARN.format(name=n) for n in names]}}
        if namespaced:
            # Deny unless the scope is namespaced: fails closed if the key were ever absent.
            condition["StringNotEquals"] = {"eks:accessScope": ["namespace"]}
        condition["ArnNotLike"] = {"eks:principalArn": allow, "aws:PrincipalArn": callers}
        who = f"a principal outside its allow-list ({len(allow)})" if allow else "anyone"
        scope = " cluster-wide (namespaced: anyone)" if namespaced else ""
        guards.append(
            Guard(
                "admin-policy",
                f"AssociateAccessPolicy of {', '.join(names)}{scope} to {who}",
                _deny(["eks:AssociateAccessPolicy"], condition),
                ("ArnNotLike", "eks:principalArn") if allow else None,
            )
        )
    return guards


def namespace_scope(settings: Any, org: OrgRules) -> list[Guard]:
    if not settings.protected_namespaces:
        return []
    values = _unique([v for protected in settings.protected_namespaces for v in namespace_values(protected)])
    allow = _arns(settings.allow, "rules.namespace-scope.allow")
    condition = {
        # ForAnyValue: one reaching namespace is enough; an absent or empty list (cluster scope) is not.
        "ForAnyValue:StringLike": {"eks:namespaces": values},
        "ArnNotLike": {"eks:principalArn": allow, "aws:PrincipalArn": excepted_callers(org)},
    }
    return [
        Guard(
            "namespace-scope",
            f"AssociateAccessPolicy in namespaces reaching {', '.join(settings.protected_namespaces)}"
            + (f" to a principal outside its allow-list ({len(allow)})" if allow else ""),
            _deny(["eks:AssociateAccessPolicy"], condition),
            ("ArnNotLike", "eks:principalArn") if allow else None,
        )
    ]


def cross_account(settings: Any, org: OrgRules) -> list[Guard]:
    # The caller's account is the cluster's: EKS has no resource policies, so nobody calls it
    # across accounts. `*` cannot reach past a colon of an IAM ARN (names hold none).
    accounts = ["${aws:PrincipalAccount}"] + list(org.trusted_accounts)
    condition = {
        "StringNotLike": {"eks:principalArn": [f"arn:*:iam::{account}:*" for account in accounts]},
        "ArnNotLike": {"aws:PrincipalArn": excepted_callers(org)},
    }
    trusted = f" or {len(org.trusted_accounts)} trusted account(s)" if org.trusted_accounts else ""
    return [Guard("cross-account", f"CreateAccessEntry for a principal outside the cluster's account{trusted}", _deny(["eks:CreateAccessEntry"], condition))]


def custom_username(settings: Any, org: OrgRules) -> list[Guard]:
    condition = {"StringLike": {"eks:username": ["*"]}, "ArnNotLike": {"aws:PrincipalArn": excepted_callers(org)}}
    return [Guard("custom-username", "CreateAccessEntry with a username set by hand", _deny(["eks:CreateAccessEntry"], condition))]


def required_tags(settings: Any, org: OrgRules) -> list[Guard]:
    callers = excepted_callers(org)
    return [
        Guard(
            "required-tags",
            f"CreateAccessEntry without the tag {tag}",
            _deny(["eks:CreateAccessEntry"], {"Null": {f"aws:RequestTag/{tag}": ["true"]}, "ArnNotLike": {"aws:PrincipalArn": callers}}),
        )
        for tag in settings.tags
    ]


def node_entry_principal(settings: Any, org: OrgRules) -> list[Guard]:
    """Only with `node_roles`: an SCP cannot read a role's trust policy, the guardrail's other test."""
    if not settings.node_roles:
        return []
    condition = {
        # The node types by name: an absent type is STANDARD, the default.
        "StringEquals": {"eks:accessEntryType": sorted(NODE_ENTRY_TYPES)},
        "ArnNotLike": {"eks:principalArn": _arns(settings.node_roles, "rules.node-entry-principal.node_roles"), "aws:PrincipalArn": excepted_callers(org)},
    }
    return [
        Guard(
            "node-entry-principal",
            f"CreateAccessEntry of a node, Fargate or hybrid type for a principal outside node_roles ({len(settings.node_roles)})",
            _deny(["eks:CreateAccessEntry"], condition),
            ("ArnNotLike", "eks:principalArn"),
        )
    ]


def protected_entry(settings: Any, org: OrgRules) -> list[Guard]:
    """By the access entry's own `eks:principalArn` (a key of the `access-entry` resource)."""
    if not settings.principals:
        return []
    protected = _arns(settings.principals, "rules.protected-entry.principals")
    own = guardrail_role_patterns(org)  # exemptions never weaken a protected entry
    return [
        Guard(
            "protected-entry",
            "DeleteAccessEntry, UpdateAccessEntry or DisassociateAccessPolicy on a protected entry",
            _deny(
                ["eks:DeleteAccessEntry", "eks:UpdateAccessEntry", "eks:DisassociateAccessPolicy"],
                {"ArnLike": {"eks:principalArn": protected}, "ArnNotLike": {"aws:PrincipalArn": own}},
            ),
            ("ArnLike", "eks:principalArn"),
        ),
        Guard(
            "protected-entry",
            "AssociateAccessPolicy scoped to namespaces on a protected entry",
            _deny(
                ["eks:AssociateAccessPolicy"],
                {"ArnLike": {"eks:principalArn": protected}, "StringNotEquals": {"eks:accessScope": ["cluster"]}, "ArnNotLike": {"aws:PrincipalArn": own}},
            ),
            ("ArnLike", "eks:principalArn"),
        ),
    ]


def authentication_mode(settings: Any, org: OrgRules) -> list[Guard]:
    allowed = list(settings.allowed_modes)
    disallowed = [m for m in AUTHENTICATION_MODES if m not in allowed]
    if not disallowed:
        return []
    callers = excepted_callers(org)
    if DEFAULT_AUTHENTICATION_MODE in allowed:
        create = {"StringEquals": {"eks:authenticationMode": disallowed}}  # no accessConfig: the allowed default
    else:
        create = {"StringNotEquals": {"eks:authenticationMode": allowed}}  # no accessConfig: CONFIG_MAP, denied too
    return [
        Guard(
            "authentication-mode",
            f"CreateCluster with authentication mode {', '.join(disallowed)}"
            + ("" if DEFAULT_AUTHENTICATION_MODE in allowed else " (also by default, without accessConfig)"),
            _deny(["eks:CreateCluster"], {**create, "ArnNotLike": {"aws:PrincipalArn": callers}}),
        ),
        Guard(
            "authentication-mode",
            f"UpdateClusterConfig to authentication mode {', '.join(disallowed)}",
            # Positive match: UpdateClusterConfig without accessConfig changes something else.
            _deny(["eks:UpdateClusterConfig"], {"StringEquals": {"eks:authenticationMode": disallowed}, "ArnNotLike": {"aws:PrincipalArn": callers}}),
        ),
    ]


def bootstrap_admin(settings: Any, org: OrgRules) -> list[Guard]:
    condition = {
        # Absent means true (the API default), so IfExists: absent or true is denied.
        "BoolIfExists": {"eks:bootstrapClusterCreatorAdminPermissions": ["true"]},
        "ArnNotLike": {"aws:PrincipalArn": excepted_callers(org)},
    }
    return [Guard("bootstrap-admin", "CreateCluster with bootstrapClusterCreatorAdminPermissions true or left to its default (true)", _deny(["eks:CreateCluster"], condition))]


def exemption_tag(settings: Any, org: OrgRules) -> list[Guard]:
    tag = org.exemptions.tag
    if tag is None:
        return []
    setters = _unique(guardrail_role_patterns(org) + _arns(tag.set_by, "exemptions.tag.set_by"))
    condition = {"ForAnyValue:StringEquals": {"aws:TagKeys": [tag.key]}, "ArnNotLike": {"aws:PrincipalArn": setters}}
    return [
        Guard(
            "exemption-tag",
            f"setting the exemption tag {tag.key} (TagResource, CreateAccessEntry, CreateCluster) by anyone outside set_by",
            _deny(["eks:TagResource", "eks:CreateAccessEntry", "eks:CreateCluster"], condition),
        )
    ]


BUILDERS: dict[str, Callable[[Any, OrgRules], list[Guard]]] = {
    "reserved-prefix": reserved_prefix,
    "prefer-roles": prefer_roles,
    "admin-policy": admin_policy,
    "namespace-scope": namespace_scope,
    "cross-account": cross_account,
    "custom-username": custom_username,
    "required-tags": required_tags,
    "node-entry-principal": node_entry_principal,
    "protected-entry": protected_entry,
    "authentication-mode": authentication_mode,
    "bootstrap-admin": bootstrap_admin,
    "exemption-tag": exemption_tag,
}
