"""Every rule of the catalogue: a change that breaks it and one that does not.

Cases are data: (rule, org-rules data, CloudTrail record built from botocore's shapes,
expected). `test_every_rule_has_a_passing_and_a_failing_case` keeps the table complete.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

import cloudtrail_builder as ct
from eks_guardrail.changes import parse_event
from eks_guardrail.config import org_rules_from_data
from eks_guardrail.engine import ObservedState, evaluate
from eks_guardrail.rules import REGISTRY

ADMIN = ct.role_arn("PlatformAdmin")
DEV = ct.role_arn("Developer")
CI = ct.role_arn("ci", path="/automation/")
#: What a caller read from a role's trust policy (node-entry-principal).
TRUSTS_NO_SERVICE = ObservedState(principal_trusted_services=frozenset())  # e.g. trusts the account root
TRUSTS_EC2 = ObservedState(principal_trusted_services=frozenset({"ec2.amazonaws.com"}))
#: CloudTrail's userIdentity when an AWS service makes the call itself.
EKS_SERVICE = {"type": "AWSService", "invokedBy": "eks.amazonaws.com"}


@dataclass(frozen=True)
class Case:
    rule: str
    record: dict[str, Any]
    #: None: the rule must stay silent; otherwise words the finding's message must contain.
    violation: str | None
    config: dict[str, Any] = field(default_factory=dict)
    id: str = ""
    #: Top-level org-rules keys the case needs besides its rule's settings.
    org: dict[str, Any] = field(default_factory=dict)
    #: What the caller read from AWS (None: nothing).
    state: ObservedState | None = None


CASES = [
    # reserved-prefix
    Case("reserved-prefix", ct.create_access_entry(DEV, groups=["platform:admins"]), "'platform:admins'", {"prefixes": ["platform:"]}, "org group prefix"),
    Case("reserved-prefix", ct.update_access_entry(DEV, username="eks:impostor"), "'eks:impostor'", id="aws prefix on update"),
    Case("reserved-prefix", ct.create_access_entry(DEV, groups=["developers"], username="dev:{{SessionName}}"), None, {"prefixes": ["platform:"]}, "ordinary names"),
    Case("reserved-prefix", ct.create_access_entry(ct.role_arn("node"), entry_type="EC2_LINUX"), None, id="node entry's system:node username"),
    # prefer-roles
    Case("prefer-roles", ct.create_access_entry(ct.user_arn("alice")), "IAM user arn:aws:iam::111122223333:user/alice"),
    Case("prefer-roles", ct.create_access_entry(ct.user_arn("break-glass")), None, {"allow": ["arn:aws:iam::*:user/break-glass"]}, "allow-listed user"),
    Case("prefer-roles", ct.create_access_entry(DEV), None, id="role"),
    # admin-policy
    Case("admin-policy", ct.associate_access_policy(DEV, "AmazonEKSClusterAdminPolicy"), "AmazonEKSClusterAdminPolicy (cluster-wide)",
         {"policies": {"AmazonEKSClusterAdminPolicy": {"allow": [ADMIN]}}}, "cluster admin to unlisted role"),
    Case("admin-policy", ct.associate_access_policy(ADMIN, "AmazonEKSClusterAdminPolicy"), None,
         {"policies": {"AmazonEKSClusterAdminPolicy": {"allow": ["arn:aws:iam::*:role/PlatformAdmin"]}}}, "allow-listed"),
    Case("admin-policy", ct.associate_access_policy(DEV, "AmazonEKSAdminViewPolicy"), "AmazonEKSAdminViewPolicy", id="reads Secrets: privileged by default"),
    Case("admin-policy", ct.associate_access_policy(DEV, "AmazonEKSSecretReaderPolicy", namespaces=["web"]), "AmazonEKSSecretReaderPolicy (namespaces web)",
         id="reads Secrets, even in one namespace"),
    Case("admin-policy", ct.associate_access_policy(DEV, "AmazonEKSSecretAdminPolicy"), "AmazonEKSSecretAdminPolicy", id="writes Secrets"),
    Case("admin-policy", ct.associate_access_policy(DEV, "AmazonEKSEditPolicy"), "cluster-wide it is reserved to nobody",
         id="Edit cluster-wide reads every Secret"),
    Case("admin-policy", ct.associate_access_policy(DEV, "AmazonEKSEditPolicy", namespaces=["web"]), None, id="Edit in a team's namespace"),
    Case("admin-policy", ct.associate_access_policy(DEV, "AmazonEKSViewPolicy"), None, id="View reads no Secrets"),
    Case("admin-policy", ct.associate_access_policy(DEV, "AmazonEKSAdminPolicy"), "cluster-wide it is reserved",
         {"policies": {"AmazonEKSAdminPolicy": {"allow": [ADMIN], "allow_namespaced": True}}}, "namespaced-only policy cluster-wide"),
    Case("admin-policy", ct.associate_access_policy(DEV, "AmazonEKSAdminPolicy", namespaces=["team-a"]), None,
         {"policies": {"AmazonEKSAdminPolicy": {"allow": [ADMIN], "allow_namespaced": True}}}, "namespaced-only policy in a namespace"),
    Case("admin-policy", ct.associate_access_policy(DEV, "AmazonEKSViewPolicy"), None, id="unprivileged policy"),
    Case("admin-policy", ct.associate_access_policy(CI, "AmazonEKSSecretReaderPolicy"), "AmazonEKSSecretReaderPolicy",
         {"policies": {"arn:aws:eks::aws:cluster-access-policy/AmazonEKSSecretReaderPolicy": {}}}, "policy configured by ARN"),
    # namespace-scope
    Case("namespace-scope", ct.associate_access_policy(DEV, "AmazonEKSEditPolicy", namespaces=["web", "kube-system"]), "kube-system"),
    Case("namespace-scope", ct.associate_access_policy(DEV, "AmazonEKSEditPolicy", namespaces=["kube-*"]), "kube-system", id="pattern covering it"),
    Case("namespace-scope", ct.associate_access_policy(DEV, "AmazonEKSEditPolicy", namespaces=["dev-*"]), None, id="other namespaces"),
    Case("namespace-scope", ct.associate_access_policy(ADMIN, "AmazonEKSEditPolicy", namespaces=["kube-system"]), None, {"allow": [ADMIN]}, "allow-listed"),
    Case("namespace-scope", ct.associate_access_policy(DEV, "AmazonEKSViewPolicy"), None, id="cluster scope is admin-policy's business"),
    # cross-account
    Case("cross-account", ct.create_access_entry(ct.role_arn("Auditor", account="999988887777")), "account 999988887777"),
    Case("cross-account", ct.create_access_entry(ct.role_arn("Auditor", account=ct.OTHER_ACCOUNT)), None, {}, "trusted account"),
    Case("cross-account", ct.create_access_entry(DEV), None, id="own account"),
    # custom-username
    Case("custom-username", ct.create_access_entry(DEV, username="dev-user"), "'dev-user'"),
    Case("custom-username", ct.create_access_entry(DEV), None, id="default mapping"),
    # required-tags
    Case("required-tags", ct.create_access_entry(DEV, tags={"team": "a"}), "owner", {"tags": ["owner"]}),
    Case("required-tags", ct.create_access_entry(DEV, tags={"owner": "team-a"}), None, {"tags": ["owner"]}),
    # authentication-mode
    Case("authentication-mode", ct.create_cluster("c1", mode="CONFIG_MAP"), "CONFIG_MAP", {"allowed_modes": ["API"]}),
    Case("authentication-mode", ct.create_cluster("c1"), "the API default", {"allowed_modes": ["API"]}, "no accessConfig"),
    Case("authentication-mode", ct.update_cluster_config("c1", mode="API_AND_CONFIG_MAP"), "switched cluster c1", {"allowed_modes": ["API"]}),
    Case("authentication-mode", ct.update_cluster_config("c1", mode="API"), None, {"allowed_modes": ["API"]}),
    Case("authentication-mode", ct.update_cluster_config("c1"), None, {"allowed_modes": ["API"]}, "update without accessConfig"),
    # bootstrap-admin
    Case("bootstrap-admin", ct.create_cluster("c1", mode="API", bootstrap=True), "bootstrapClusterCreatorAdminPermissions=true"),
    Case("bootstrap-admin", ct.create_cluster("c1", mode="API", bootstrap=False), None),
    # protected-entry
    Case("protected-entry", ct.delete_access_entry(ADMIN), "deleted the protected access entry", {"principals": [ADMIN]}),
    Case("protected-entry", ct.update_access_entry(ADMIN, groups=["x"]), "changed the username or groups", {"principals": [ADMIN]}),
    Case("protected-entry", ct.disassociate_access_policy(ADMIN, "AmazonEKSClusterAdminPolicy"), "removed AmazonEKSClusterAdminPolicy", {"principals": [ADMIN]}),
    Case("protected-entry", ct.delete_access_entry(DEV), None, {"principals": [ADMIN]}, "unprotected entry"),
    Case("protected-entry", ct.associate_access_policy(ADMIN, "AmazonEKSClusterAdminPolicy", namespaces=["default"]),
         "scoped AmazonEKSClusterAdminPolicy to namespaces default", {"principals": [ADMIN]}, "narrowed to namespaces"),
    Case("protected-entry", ct.associate_access_policy(ADMIN, "AmazonEKSClusterAdminPolicy"), None, {"principals": [ADMIN]}, "given cluster-wide"),
    # node-entry-principal (the role's trust policy comes from the caller's ObservedState)
    Case("node-entry-principal", ct.create_access_entry(ct.user_arn("alice"), entry_type="FARGATE_LINUX"), "not an IAM role", id="a user as a Fargate node"),
    Case("node-entry-principal", ct.create_access_entry(f"arn:aws:iam::{ct.ACCOUNT}:root", entry_type="EC2_LINUX"), "not an IAM role",
         id="the account root as an EC2 node", state=TRUSTS_EC2),
    Case("node-entry-principal", ct.create_access_entry(DEV, entry_type="FARGATE_LINUX"), "lets no eks-fargate-pods.amazonaws.com assume it",
         id="a human role as a Fargate node", state=TRUSTS_NO_SERVICE),
    Case("node-entry-principal", ct.create_access_entry(ct.role_arn("nodes"), entry_type="HYBRID_LINUX"),
         "lets no rolesanywhere.amazonaws.com or ssm.amazonaws.com assume it", id="an EC2 node role as a hybrid node", state=TRUSTS_EC2),
    Case("node-entry-principal", ct.create_access_entry(DEV, entry_type="HYPERPOD_LINUX"), "lets no sagemaker.amazonaws.com assume it",
         id="a human role as a HyperPod node", state=TRUSTS_NO_SERVICE),
    Case("node-entry-principal", ct.create_access_entry(DEV, entry_type="EC2", identity=ct.assumed_role_identity("AWSServiceRoleForAmazonEKS")),
         "lets no ec2.amazonaws.com assume it", id="a look-alike of EKS's service-linked role", state=TRUSTS_NO_SERVICE),
    Case("node-entry-principal", ct.create_access_entry(ct.role_arn("pods"), entry_type="FARGATE_LINUX"), None,
         {"node_roles": ["arn:aws:iam::*:role/pods"]}, "a listed pod execution role", state=TRUSTS_NO_SERVICE),
    Case("node-entry-principal", ct.create_access_entry(ct.role_arn("pods"), entry_type="FARGATE_LINUX"), None,
         id="a role trusting Fargate", state=ObservedState(principal_trusted_services=frozenset({"eks-fargate-pods.amazonaws.com"}))),
    Case("node-entry-principal", ct.create_access_entry(ct.role_arn("edge"), entry_type="HYBRID_LINUX"), None,
         id="a role trusting IAM Roles Anywhere", state=ObservedState(principal_trusted_services=frozenset({"rolesanywhere.amazonaws.com"}))),
    Case("node-entry-principal", ct.create_access_entry(ct.role_arn("nodes"), entry_type="EC2_WINDOWS"), None,
         id="a role trusting EC2 in the China partition", state=ObservedState(principal_trusted_services=frozenset({"ec2.amazonaws.com.cn"}))),
    Case("node-entry-principal", ct.create_access_entry(DEV, entry_type="FARGATE_LINUX"), None, id="trust unknown: no guessing"),
    Case("node-entry-principal", ct.create_access_entry(ct.user_arn("alice")), None, id="a STANDARD entry"),
    Case("node-entry-principal", ct.create_access_entry(DEV, entry_type="EC2_LINUX", identity=EKS_SERVICE), None,
         id="made by EKS itself", state=TRUSTS_NO_SERVICE),
    Case("node-entry-principal", ct.create_access_entry(DEV, entry_type="FARGATE_LINUX", identity=ct.assumed_role_identity(
        "AWSServiceRoleForAmazonEKSForFargate", session="AmazonEKS", path="/aws-service-role/eks-fargate.amazonaws.com/")), None,
         id="made by EKS's service-linked role", state=TRUSTS_NO_SERVICE),
    # exemption-tag
    Case("exemption-tag", ct.create_access_entry(DEV, tags={"guardrail": "exempt"}), "exemption tag guardrail=exempt",
         org={"exemptions": {"tag": {"key": "guardrail", "value": "exempt", "set_by": ["arn:aws:iam::*:role/PlatformAdmin"]}}}, id="set by anyone"),
    Case("exemption-tag", ct.create_access_entry(DEV, tags={"guardrail": "exempt"}), None,
         org={"exemptions": {"tag": {"key": "guardrail", "value": "exempt", "set_by": ["arn:aws:iam::*:user/alice"]}}}, id="set by an allowed principal"),
]


def _case_id(case: Case) -> str:
    verdict = "violates" if case.violation else "complies"
    return f"{case.rule}-{verdict}" + (f"-{case.id}" if case.id else "")


def _org(case: Case):
    return org_rules_from_data({"trusted_accounts": [ct.OTHER_ACCOUNT], "rules": {case.rule: case.config}, **case.org})


@pytest.mark.parametrize("case", CASES, ids=_case_id)
def test_rule(case: Case):
    org = _org(case)
    change = parse_event(ct.eventbridge(case.record))
    findings = [f for f in evaluate(change, org, case.state) if f.rule == case.rule]
    if case.violation is None:
        assert findings == []
        return
    assert len(findings) == 1, findings
    finding = findings[0]
    assert case.violation in finding.message
    assert finding.event_id == case.record["eventID"]
    assert finding.account == ct.ACCOUNT and finding.region == case.record["awsRegion"]
    assert finding.actor_arn == case.record["userIdentity"]["arn"]
    assert finding.actor_arn in finding.message, "the message says who did it"
    if finding.principal_arn:
        assert finding.principal_arn in finding.message, "the message says to which principal"
    if finding.cluster:
        assert finding.cluster in finding.message, "the message says on which cluster"


def test_every_rule_has_a_passing_and_a_failing_case():
    judged = {rule_id for rule_id, spec in REGISTRY.items() if spec.check is not None}
    violating = {c.rule for c in CASES if c.violation}
    complying = {c.rule for c in CASES if not c.violation}
    assert judged - violating == set(), "rules without a failing case"
    assert judged - complying == set(), "rules without a passing case"
    # Rules no single event decides are judged from state (IAM handler, sweep): their cases are
    # in tests/sweep (SWEEP_CASES; stale-principal against the emulator's ground truth).
    from sweep.test_sweep import SWEEP_CASES

    assert set(REGISTRY) - judged == {"stale-principal", "grants-nothing"}
    assert set(SWEEP_CASES) == {"grants-nothing"}


def test_node_entries_are_judged_only_by_rules_that_make_sense_for_them():
    org = org_rules_from_data({"rules": {"required-tags": {"tags": ["owner"]}, "custom-username": {"action": "alert"}}})
    record = ct.create_access_entry(ct.role_arn("fargate-pods"), entry_type="FARGATE_LINUX")
    rules = {f.rule for f in evaluate(parse_event(record), org)}
    assert rules == {"required-tags"}
    cross = ct.create_access_entry(ct.role_arn("nodes", account="999988887777"), entry_type="EC2_LINUX")
    assert {f.rule for f in evaluate(parse_event(cross), org)} == {"cross-account", "required-tags"}
