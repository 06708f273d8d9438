"""Rule by rule: the violating request is denied, the compliant one allowed, and the guardrail's own rule agrees;
the guardrail's role and an exempt principal pass (protected-entry: only the guardrail's role)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from eks_guardrail.config import OrgRules, org_rules_from_data
from eks_guardrail.rules import REGISTRY
from eks_guardrail.scp import build_policy_set, guards_for

from .eks_requests import (
    ACCOUNT, BREAK_GLASS, CLUSTER_ADMIN, DEV_ROLE, EDIT, GUARDRAIL_ROLE, STRANGER_ACCOUNT, VIEW, Request, allowed,
    as_caller, associate, create_cluster, create_entry, on_entry, tag_resource, update_cluster_config,
)
from .guardrail_oracle import guardrail_flags

PLATFORM = f"arn:aws:iam::{ACCOUNT}:role/Platform"
SECURITY = f"arn:aws:iam::{ACCOUNT}:role/Security"
TRUSTED = "999988887777"
USER = f"arn:aws:iam::{ACCOUNT}:user/alice"
EXEMPT_TAG = "eks-guardrail/exempt"


@dataclass
class Case:
    rule: str
    settings: dict[str, Any]
    violating: list[Request]
    compliant: list[Request]
    top: dict[str, Any] = field(default_factory=dict)
    #: Denied by the SCP although the guardrail, not knowing more, lets it pass.
    stricter: list[Request] = field(default_factory=list)


CASES = [
    Case("reserved-prefix", {"prefixes": ["platform:"]},
         violating=[create_entry(DEV_ROLE, groups=["dev", "system:masters"]), create_entry(DEV_ROLE, groups=["platform:admins"]),
                    create_entry(DEV_ROLE, username="eks:me"), create_entry(DEV_ROLE, username="platform:ops")],
         compliant=[create_entry(DEV_ROLE), create_entry(DEV_ROLE, groups=[]), create_entry(DEV_ROLE, groups=["dev", "my-platform:x"]),
                    create_entry(DEV_ROLE, username="dev:me")]),
    Case("prefer-roles", {"allow": [f"arn:aws:iam::{ACCOUNT}:user/breakglass-*"]},
         violating=[create_entry(USER), create_entry(f"arn:aws:iam::{ACCOUNT}:user/team/bob")],
         compliant=[create_entry(DEV_ROLE), create_entry(f"arn:aws:iam::{ACCOUNT}:user/breakglass-1")]),
    Case("admin-policy", {"policies": {"AmazonEKSClusterAdminPolicy": {"allow": [PLATFORM]}, "AmazonEKSEditPolicy": {"allow_namespaced": True}}},
         violating=[associate(DEV_ROLE, CLUSTER_ADMIN), associate(DEV_ROLE, CLUSTER_ADMIN, namespaces=["dev"]), associate(DEV_ROLE, EDIT)],
         compliant=[associate(PLATFORM, CLUSTER_ADMIN), associate(DEV_ROLE, EDIT, namespaces=["dev"]), associate(DEV_ROLE, VIEW)]),
    Case("namespace-scope", {"protected_namespaces": ["kube-system", "platform-*"], "allow": [PLATFORM]},
         violating=[associate(DEV_ROLE, VIEW, namespaces=["kube-system"]), associate(DEV_ROLE, VIEW, namespaces=["dev", "kube-*"]),
                    associate(DEV_ROLE, VIEW, namespaces=["*"]), associate(DEV_ROLE, VIEW, namespaces=["k*"]),
                    associate(DEV_ROLE, VIEW, namespaces=["platform-ops"]), associate(DEV_ROLE, VIEW, namespaces=["platform*"]),
                    associate(DEV_ROLE, VIEW, namespaces=["kube-system*"])],
         compliant=[associate(DEV_ROLE, VIEW, namespaces=["dev", "kube"]), associate(DEV_ROLE, VIEW, namespaces=["kube-system2"]),
                    associate(DEV_ROLE, VIEW, namespaces=["platform"]), associate(DEV_ROLE, VIEW),
                    associate(PLATFORM, VIEW, namespaces=["kube-system"])]),
    Case("cross-account", {}, top={"trusted_accounts": [TRUSTED]},
         violating=[create_entry(f"arn:aws:iam::{STRANGER_ACCOUNT}:role/x"), create_entry(f"arn:aws:iam::{STRANGER_ACCOUNT}:user/y")],
         compliant=[create_entry(DEV_ROLE), create_entry(f"arn:aws:iam::{TRUSTED}:role/x")]),
    Case("custom-username", {},
         violating=[create_entry(DEV_ROLE, username="alice"), create_entry(DEV_ROLE, username="dev:{{SessionName}}")],
         compliant=[create_entry(DEV_ROLE), create_entry(DEV_ROLE, groups=["dev"])]),
    Case("required-tags", {"tags": ["owner", "ticket"]},
         violating=[create_entry(DEV_ROLE), create_entry(DEV_ROLE, tags={"owner": "me"}), create_entry(DEV_ROLE, tags={"ticket": "T-1"})],
         compliant=[create_entry(DEV_ROLE, tags={"owner": "me", "ticket": "T-1"})]),
    Case("node-entry-principal", {"node_roles": [f"arn:aws:iam::{ACCOUNT}:role/node-*"]},
         violating=[create_entry(USER, entry_type="EC2_LINUX"), create_entry(USER, entry_type="HYBRID_LINUX")],
         compliant=[create_entry(f"arn:aws:iam::{ACCOUNT}:role/node-group-a", entry_type="EC2_LINUX"), create_entry(DEV_ROLE),
                    create_entry(DEV_ROLE, entry_type="STANDARD")],
         stricter=[create_entry(DEV_ROLE, entry_type="FARGATE_LINUX")]),
    Case("protected-entry", {"principals": [PLATFORM]},
         violating=[on_entry("DeleteAccessEntry", PLATFORM), on_entry("UpdateAccessEntry", PLATFORM),
                    on_entry("DisassociateAccessPolicy", PLATFORM, **{"eks:policyArn": CLUSTER_ADMIN}),
                    associate(PLATFORM, CLUSTER_ADMIN, namespaces=["default"])],
         compliant=[on_entry("DeleteAccessEntry", DEV_ROLE), on_entry("UpdateAccessEntry", DEV_ROLE), associate(PLATFORM, CLUSTER_ADMIN),
                    on_entry("DisassociateAccessPolicy", DEV_ROLE, **{"eks:policyArn": CLUSTER_ADMIN})]),
    Case("authentication-mode", {"allowed_modes": ["API"]},
         violating=[create_cluster(mode="API_AND_CONFIG_MAP"), create_cluster(), update_cluster_config(mode="API_AND_CONFIG_MAP")],
         compliant=[create_cluster(mode="API"), update_cluster_config(), update_cluster_config(mode="API")]),
    Case("authentication-mode", {"allowed_modes": ["API", "CONFIG_MAP"]},
         violating=[create_cluster(mode="API_AND_CONFIG_MAP"), update_cluster_config(mode="API_AND_CONFIG_MAP")],
         compliant=[create_cluster(), create_cluster(mode="CONFIG_MAP"), update_cluster_config()]),
    Case("bootstrap-admin", {},
         violating=[create_cluster(), create_cluster(bootstrap=True), create_cluster(mode="API", bootstrap=True)],
         compliant=[create_cluster(mode="API", bootstrap=False)]),
    Case("exemption-tag", {}, top={"exemptions": {"tag": {"key": EXEMPT_TAG, "value": "true", "set_by": [SECURITY]}}},
         violating=[tag_resource({EXEMPT_TAG: "true"}), tag_resource({"owner": "me", EXEMPT_TAG: "true"}),
                    create_entry(DEV_ROLE, tags={EXEMPT_TAG: "true"}), create_cluster(mode="API", bootstrap=False, tags={EXEMPT_TAG: "true"})],
         compliant=[tag_resource({"owner": "me"}), create_entry(DEV_ROLE, tags={"owner": "me"})]),
]
IDS = [f"{case.rule}-{index}" for index, case in enumerate(CASES)]
#: Rules that except the exempt principals as callers (protected-entry never does; exemption-tag: set_by only).
EXEMPT_CALLERS_PASS = set(REGISTRY) - {"protected-entry", "exemption-tag"}


def only(rule: str, settings: dict[str, Any], top: dict[str, Any], action: str = "alert") -> OrgRules:
    """Every rule off but `rule`; BreakGlass exempt."""
    rules = {rule_id: {"action": "off"} for rule_id in REGISTRY}
    rules[rule] = {"action": action, **settings}
    exemptions = {"principals": [BREAK_GLASS], **top.get("exemptions", {})}
    return org_rules_from_data({**top, "rules": rules, "exemptions": exemptions})


def documents(org: OrgRules) -> list[dict[str, Any]]:
    return [scp.document for scp in build_policy_set(org).scps]


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_a_violating_request_is_denied_and_the_guardrail_agrees(case: Case):
    org = only(case.rule, case.settings, case.top)
    scps = documents(org)
    for request in case.violating:
        assert guardrail_flags(org, case.rule, request), request
        assert not allowed(scps, request), request


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_a_compliant_request_is_allowed_and_the_guardrail_agrees(case: Case):
    org = only(case.rule, case.settings, case.top)
    scps = documents(org)
    for request in case.compliant:
        assert not guardrail_flags(org, case.rule, request), request
        assert allowed(scps, request), request


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_the_guardrails_own_role_passes(case: Case):
    scps = documents(only(case.rule, case.settings, case.top))
    for request in case.violating:
        assert allowed(scps, as_caller(request, GUARDRAIL_ROLE)), request


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_an_exempt_principal_passes_except_where_the_guardrail_never_exempts(case: Case):
    scps = documents(only(case.rule, case.settings, case.top))
    for request in case.violating:
        assert allowed(scps, as_caller(request, BREAK_GLASS)) == (case.rule in EXEMPT_CALLERS_PASS), request


def test_the_exemption_tag_may_be_set_by_set_by():
    case = next(c for c in CASES if c.rule == "exemption-tag")
    scps = documents(only(case.rule, case.settings, case.top))
    assert all(allowed(scps, as_caller(request, SECURITY)) for request in case.violating)


def test_what_the_scp_denies_beyond_the_guardrail_is_listed():
    case = next(c for c in CASES if c.stricter)
    org = only(case.rule, case.settings, case.top)
    for request in case.stricter:
        assert not guardrail_flags(org, case.rule, request)
        assert not allowed(documents(org), request)


@pytest.mark.parametrize("action", ["alert", "rollback"])
def test_alert_and_rollback_both_produce_statements_and_off_none(action: str):
    for rule in ("reserved-prefix", "admin-policy", "bootstrap-admin", "prefer-roles"):
        assert guards_for(only(rule, {}, {}, action=action))
        assert not guards_for(only(rule, {}, {}, action="off"))


def test_rules_with_nothing_to_deny_produce_nothing():
    assert not guards_for(only("protected-entry", {"principals": []}, {}))
    assert not guards_for(only("required-tags", {"tags": []}, {}))
    assert not guards_for(only("node-entry-principal", {}, {}))
    assert not guards_for(only("exemption-tag", {}, {}))
    assert not guards_for(only("authentication-mode", {"allowed_modes": ["API", "API_AND_CONFIG_MAP", "CONFIG_MAP"]}, {}))
    assert not guards_for(only("stale-principal", {"action": "delete"}, {}))
    assert not guards_for(only("grants-nothing", {}, {}))


#: Every case at once, but custom-username (it would deny the reserved usernames first) and the second
#: authentication-mode case (one setting per rule).
COMBINED = [case for case in CASES if case.rule != "custom-username" and case.settings.get("allowed_modes") != ["API", "CONFIG_MAP"]]


def every_rule_on() -> OrgRules:
    rules: dict[str, Any] = {rule_id: {"action": "off"} for rule_id in REGISTRY}
    exemptions: dict[str, Any] = {"principals": [BREAK_GLASS]}
    top: dict[str, Any] = {}
    for case in COMBINED:
        rules[case.rule] = {"action": "alert", **case.settings}
        exemptions.update(case.top.get("exemptions", {}))
        top.update({key: value for key, value in case.top.items() if key != "exemptions"})
    return org_rules_from_data({**top, "rules": rules, "exemptions": exemptions})


def test_with_every_rule_on_everyday_requests_pass_and_every_violation_is_still_denied():
    org = every_rule_on()
    scps = documents(org)
    tags = {"owner": "me", "ticket": "T-1"}
    everyday = [
        create_entry(DEV_ROLE, groups=["dev"], tags=tags), create_entry(DEV_ROLE, tags=tags, entry_type="STANDARD"),
        associate(DEV_ROLE, VIEW), associate(DEV_ROLE, EDIT, namespaces=["dev"]), associate(PLATFORM, CLUSTER_ADMIN),
        on_entry("DeleteAccessEntry", DEV_ROLE), on_entry("UpdateAccessEntry", DEV_ROLE),
        create_cluster(mode="API", bootstrap=False, tags=tags), update_cluster_config(), tag_resource({"owner": "me"}),
    ]
    assert all(allowed(scps, request) for request in everyday)
    for case in COMBINED:
        for request in case.violating:
            assert not allowed(scps, request), (case.rule, request)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_the_boundary_denies_what_the_scps_deny(case: Case):
    """Beside an identity policy that allows it all, the boundary denies the violation (for every caller it is attached to)."""
    from .policy_eval import decide

    boundary = build_policy_set(only(case.rule, case.settings, case.top), boundary=True).boundary.document
    identity = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "eks:*", "Resource": "*"}]}
    for request in case.violating:
        assert decide([identity, boundary], *request) == "Deny", request
        assert decide([identity, boundary], *as_caller(request, GUARDRAIL_ROLE)) == "Deny"  # never attach it to those
    for request in case.compliant:
        assert decide([identity, boundary], *request) == "Allow", request


def test_with_a_deployment_the_guardrails_roles_are_named_per_region():
    from eks_guardrail.scp.statements import guardrail_role_patterns

    deployment = {"accounts": [ACCOUNT], "regions": ["eu-west-1", "eu-central-1"], "home_region": "eu-central-1"}
    org = org_rules_from_data({"deployment": deployment, "rules": {"prefer-roles": {"action": "rollback"}}})
    assert guardrail_role_patterns(org) == [
        "arn:*:iam::*:role/eks-guardrail-access-entry-eu-west-1",
        "arn:*:iam::*:role/eks-guardrail-access-entry-eu-central-1",
        "arn:*:iam::*:role/eks-guardrail-iam-principal-eu-central-1",
        "arn:*:iam::*:role/eks-guardrail-sweep-eu-central-1",
        "arn:*:iam::*:role/eks-guardrail-sweep-worker-eu-central-1",
    ]
    scps = documents(org)
    user_entry = create_entry(f"arn:aws:iam::{ACCOUNT}:user/alice")
    assert allowed(scps, as_caller(user_entry, GUARDRAIL_ROLE))
    assert not allowed(scps, as_caller(user_entry, f"arn:aws:iam::{ACCOUNT}:role/eks-guardrail-access-entry-us-east-1"))
