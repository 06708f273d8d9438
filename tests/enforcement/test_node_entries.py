"""node-entry-principal on the emulator: a human role given a node-type entry (it maps to
`system:node:{{SessionName}}` in `system:nodes`, so its user can pose as a node) is flagged by
the handler and by the sweep, judged by the role's trust policy; real node roles are not."""

from __future__ import annotations

import json

from eks_guardrail.adapters.iam import IamPrincipals, _trusted_services
from eks_guardrail.demo.world import ACCOUNT

from world_helpers import enforce_rules
from .test_rollbacks import outcomes

NODE_TRUST = json.dumps(
    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "eks-fargate-pods.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
)


def test_a_human_role_with_a_fargate_entry_is_flagged_and_a_pod_execution_role_is_not(world, guardrail):
    world.platform.client("iam").create_role(RoleName="fargate-pods", AssumeRolePolicyDocument=NODE_TRUST)
    eks = world.eks("attacker")
    eks.create_access_entry(clusterName="prod", principalArn=world.role_arn("Developer"), type="FARGATE_LINUX")
    eks.create_access_entry(clusterName="prod", principalArn=world.role_arn("fargate-pods"), type="FARGATE_LINUX")

    results = world.deliver(guardrail)

    assert outcomes(results) == [("node-entry-principal", "alerted")]
    (alert,) = [a for a in world.alerts() if a["attributes"]["rule"] == "node-entry-principal"]
    assert "eks-fargate-pods.amazonaws.com" in json.loads(alert["message"])["content"]["description"]
    assert world.role_arn("Developer") in world.entries("prod")  # alert only: node entries are never rolled back


def test_the_sweep_finds_it_too(world):
    world.eks("attacker").create_access_entry(clusterName="prod", principalArn=world.role_arn("Developer"), type="HYBRID_LINUX")
    world.pending_events()
    world.sweep_app(enforce_rules()).handle()
    rules = [a["attributes"]["rule"] for a in world.alerts()]
    assert "node-entry-principal" in rules


def test_trust_policy_services_are_read_from_iam(world):
    principals = IamPrincipals(world.platform.client("iam"), ACCOUNT)
    assert principals.trusted_services(world.role_arn("Developer")) == frozenset()  # trusts the account root
    world.platform.client("iam").create_role(RoleName="nodes", AssumeRolePolicyDocument=NODE_TRUST.replace("eks-fargate-pods", "ec2"))
    assert principals.trusted_services(world.role_arn("nodes")) == {"ec2.amazonaws.com"}
    assert principals.trusted_services(f"arn:aws:iam::{ACCOUNT}:role/missing") is None
    assert principals.trusted_services("arn:aws:iam::999988887777:role/nodes") is None  # not this account's to read


def test_trust_documents_in_every_shape():
    assert _trusted_services({"Statement": {"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {"Service": ["ec2.amazonaws.com", "ssm.amazonaws.com"]}}}) == {
        "ec2.amazonaws.com", "ssm.amazonaws.com"}
    assert _trusted_services({"Statement": [{"Effect": "Deny", "Action": "sts:AssumeRole", "Principal": {"Service": "ec2.amazonaws.com"}}]}) == frozenset()
    assert _trusted_services("%7B%22Statement%22%3A%5B%5D%7D") == frozenset()
    assert _trusted_services("not json") == frozenset()
