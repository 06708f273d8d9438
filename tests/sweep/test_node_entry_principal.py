"""node-entry-principal from state: the IAM adapter reads a role's trust policy (iam:GetRole on
moto), `judge_cluster` asks it for node-type entries only, and the sweep and `scan` flag a human
role holding a FARGATE_LINUX entry (it maps to `system:node:{{SessionName}}` in `system:nodes`,
so whoever assumes it can pose as a node) while a real pod execution role passes."""

from __future__ import annotations

import json
from urllib.parse import quote

import pytest

from eks_guardrail.adapters.iam import IamPrincipals, _trusted_services
from eks_guardrail.cli import main
from eks_guardrail.config import org_rules_from_data
from eks_guardrail.demo.world import ACCOUNT
from eks_guardrail.local import mock_aws
from eks_guardrail.state import EntryState
from eks_guardrail.sweep.judge import judge_cluster
from eks_guardrail.sweep.snapshot import ClusterSnapshot
from world_helpers import enforce_rules


def trust(*statements: dict) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def allow(service: str | list[str], action: str | list[str] = "sts:AssumeRole") -> dict:
    return {"Effect": "Allow", "Principal": {"Service": service}, "Action": action}


ROOT_TRUST = trust({"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, "Action": "sts:AssumeRole"})
FARGATE_TRUST = trust(allow("eks-fargate-pods.amazonaws.com"))
#: IAM Roles Anywhere, as the EKS hybrid-nodes guide writes it: TagSession/SetSourceIdentity
#: in one statement, AssumeRole in another.
ROLES_ANYWHERE_TRUST = trust(
    allow("rolesanywhere.amazonaws.com", ["sts:TagSession", "sts:SetSourceIdentity"]),
    allow("rolesanywhere.amazonaws.com", "sts:AssumeRole"),
)


# --- the IAM adapter, on moto --------------------------------------------------------------


@pytest.fixture
def iam():
    with mock_aws():
        import boto3

        yield boto3.client("iam", region_name="us-east-1")


def role(iam, name: str, document: str) -> str:
    return iam.create_role(RoleName=name, AssumeRolePolicyDocument=document)["Role"]["Arn"]


def test_a_node_role_trusts_ec2_and_a_human_role_trusts_no_service(iam):
    nodes = role(iam, "nodes", trust(allow("ec2.amazonaws.com")))
    human = role(iam, "Developer", ROOT_TRUST)
    principals = IamPrincipals(iam, ACCOUNT)
    assert principals.trusted_services(nodes) == {"ec2.amazonaws.com"}
    assert principals.trusted_services(human) == frozenset()  # known: trusts only the account root


def test_trust_is_unknown_for_what_iam_cannot_answer(iam):
    iam.create_user(UserName="alice")
    principals = IamPrincipals(iam, ACCOUNT)
    assert principals.trusted_services(f"arn:aws:iam::{ACCOUNT}:role/missing") is None  # NoSuchEntity
    assert principals.trusted_services(f"arn:aws:iam::{ACCOUNT}:user/alice") is None  # users have no trust policy
    assert principals.trusted_services("arn:aws:iam::999988887777:role/nodes") is None  # not this account's to read
    assert principals.trusted_services("not-an-arn") is None


def test_trust_and_status_share_one_get_role_per_role(iam):
    arn = role(iam, "pods", FARGATE_TRUST)
    calls = []
    iam.meta.events.register("before-parameter-build.iam.GetRole", lambda **kwargs: calls.append(kwargs["params"]["RoleName"]))
    principals = IamPrincipals(iam, ACCOUNT)
    assert principals.status(arn).exists
    assert principals.trusted_services(arn) == {"eks-fargate-pods.amazonaws.com"}
    assert principals.trusted_services(arn.replace(":role/", ":role/some/path/")) == {"eks-fargate-pods.amazonaws.com"}  # by name
    assert calls == ["pods"]


def test_hybrid_trust_policies_of_both_credential_providers(iam):
    principals = IamPrincipals(iam, ACCOUNT)
    anywhere = role(iam, "hybrid-anywhere", ROLES_ANYWHERE_TRUST)
    ssm = role(iam, "hybrid-ssm", trust(allow("ssm.amazonaws.com")))
    assert principals.trusted_services(anywhere) == {"rolesanywhere.amazonaws.com"}
    assert principals.trusted_services(ssm) == {"ssm.amazonaws.com"}


def test_trust_documents_in_every_shape():
    assert _trusted_services({"Statement": allow(["ec2.amazonaws.com", "ssm.amazonaws.com"])}) == {"ec2.amazonaws.com", "ssm.amazonaws.com"}
    assert _trusted_services({"Statement": [allow("ec2.amazonaws.com", "sts:*")]}) == {"ec2.amazonaws.com"}
    assert _trusted_services({"Statement": [allow("ec2.amazonaws.com", "*")]}) == {"ec2.amazonaws.com"}
    assert _trusted_services({"Statement": [allow("ec2.amazonaws.com", "STS:assumerole")]}) == {"ec2.amazonaws.com"}  # case-insensitive
    assert _trusted_services({"Statement": [allow("ec2.amazonaws.com", "sts:Assume*")]}) == {"ec2.amazonaws.com"}
    assert _trusted_services({"Statement": [allow("rolesanywhere.amazonaws.com", "sts:TagSession")]}) == {"rolesanywhere.amazonaws.com"}
    assert _trusted_services({"Statement": [{**allow("ec2.amazonaws.com"), "Effect": "Deny"}]}) == frozenset()
    assert _trusted_services({"Statement": [allow("ec2.amazonaws.com", "sts:AssumeRoleWithWebIdentity")]}) == frozenset()
    assert _trusted_services({"Statement": [allow("ec2.amazonaws.com", "s3:GetObject")]}) == frozenset()
    assert _trusted_services({"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "sts:AssumeRole"}]}) == frozenset()  # anyone: no service
    # the API's own form (URL-encoded JSON), should a caller bypass botocore's decoding
    assert _trusted_services(quote(FARGATE_TRUST)) == {"eks-fargate-pods.amazonaws.com"}
    for junk in ("not json", None, [], {"Statement": "x"}, {"Statement": [{"Effect": "Allow", "Action": 3, "Principal": {"Service": 4}}]}):
        assert _trusted_services(junk) == frozenset()


# --- judge_cluster: trust asked for node-type entries only -----------------------------------


def test_judge_cluster_asks_for_the_trust_of_node_type_entries_only():
    human = f"arn:aws:iam::{ACCOUNT}:role/Developer"
    pods = f"arn:aws:iam::{ACCOUNT}:role/pods"
    viewer = f"arn:aws:iam::{ACCOUNT}:role/Viewer"
    entries = (
        EntryState("prod", human, "FARGATE_LINUX", "system:node:{{SessionName}}", ("system:node-proxier",), {}),
        EntryState("prod", pods, "FARGATE_LINUX", "system:node:{{SessionName}}", ("system:node-proxier",), {}),
        EntryState("prod", viewer, "STANDARD", None, ("viewers",), {}),
    )
    trusts = {human: frozenset(), pods: frozenset({"eks-fargate-pods.amazonaws.com"})}
    asked = []

    def principal_trust(arn):
        asked.append(arn)
        return trusts[arn]

    snapshot = ClusterSnapshot("eu-west-1", "prod", "API", {}, entries)
    findings, _ = judge_cluster(snapshot, ACCOUNT, org_rules_from_data({}), lambda arn: None, principal_trust)
    assert asked == [human, pods]
    (finding,) = [f for f in findings if f.rule == "node-entry-principal"]
    assert finding.principal_arn == human and "eks-fargate-pods.amazonaws.com" in finding.message
    assert "found by the sweep" in finding.message
    # without a trust callable (older callers), nothing is guessed
    findings, _ = judge_cluster(snapshot, ACCOUNT, org_rules_from_data({}), lambda arn: None)
    assert [f for f in findings if f.rule == "node-entry-principal"] == []


# --- the sweep and `scan` on the emulator ----------------------------------------------------


def fargate_entries(world) -> tuple[str, str]:
    """The Developer (a human role: trusts the account root) and a pod execution role, each with
    a FARGATE_LINUX entry that no event announced (the events were lost)."""
    world.platform.client("iam").create_role(RoleName="fargate-pods", AssumeRolePolicyDocument=FARGATE_TRUST)
    developer, pods = world.role_arn("Developer"), world.role_arn("fargate-pods")
    eks = world.eks("attacker")
    eks.create_access_entry(clusterName="prod", principalArn=developer, type="FARGATE_LINUX")
    eks.create_access_entry(clusterName="prod", principalArn=pods, type="FARGATE_LINUX")
    world.pending_events()
    return developer, pods


def test_the_sweep_flags_a_human_role_holding_a_fargate_entry(world):
    developer, pods = fargate_entries(world)

    result = world.sweep_app(enforce_rules()).handle()

    alerts = [a for a in world.alerts() if a["attributes"]["rule"] == "node-entry-principal"]
    assert len(alerts) == 1 and result["errors"] == []
    description = json.loads(alerts[0]["message"])["content"]["description"]
    assert developer in description and "FARGATE_LINUX" in description and "eks-fargate-pods.amazonaws.com" in description
    assert pods not in description
    assert developer in world.entries("prod") and pods in world.entries("prod")  # alert only: never removed
    assert [a for a in result["acted"] if a["rule"] == "node-entry-principal"] == []


def test_the_sweep_accepts_roles_listed_in_node_roles(world):
    fargate_entries(world)
    world.sweep_app(enforce_rules({"node-entry-principal": {"node_roles": ["arn:aws:iam::*:role/Developer"]}})).handle()
    assert [a for a in world.alerts() if a["attributes"]["rule"] == "node-entry-principal"] == []


def test_scan_reports_the_human_role_and_not_the_pod_execution_role(world, capsys, monkeypatch):
    monkeypatch.setenv("AWS_DEFAULT_REGION", world.region)
    developer, pods = fargate_entries(world)

    code = main(["scan", "--format", "json"])
    out, err = capsys.readouterr()

    assert code == 1, err
    flagged = [f for f in json.loads(out)["findings"] if f["rule"] == "node-entry-principal"]
    assert [(f["principal_arn"], f["severity"], f["action"]) for f in flagged] == [(developer, "high", "alert")]
