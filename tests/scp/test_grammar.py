"""Every statement written is valid policy grammar, uses each key only on actions that carry it, and the right set operator."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from eks_guardrail.config import OrgRules
from eks_guardrail.scp import SCP_CHARACTERS, build_policy_set, policy_problems
from eks_guardrail.scp.condition_keys import ACTION_KEYS, key_of, supports
from eks_guardrail.scp.grammar import parse_operator
from eks_guardrail.scp.statements import role_name

from .test_rules import every_rule_on

ROOT = Path(__file__).resolve().parents[2]


def deny(condition, action="eks:CreateAccessEntry"):
    return {"Version": "2012-10-17", "Statement": [{"Sid": "S1", "Effect": "Deny", "Action": action, "Resource": "*", "Condition": condition}]}


@pytest.mark.parametrize("org", [OrgRules(), every_rule_on()], ids=["defaults", "every-rule"])
def test_every_statement_keeps_to_the_key_table_and_the_set_operators(org):
    policies = build_policy_set(org, boundary=True)
    for policy in list(policies.scps) + [policies.boundary]:
        limit = 6_144 if policy is policies.boundary else SCP_CHARACTERS
        assert policy_problems(policy.document, limit=limit) == []
        for statement in policy.document["Statement"]:
            if statement["Effect"] == "Allow":
                assert "Condition" not in statement and policy is policies.boundary
                continue
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            for operator, clauses in statement["Condition"].items():
                qualifier, _, _ = parse_operator(operator)
                for key in clauses:
                    assert all(supports(action, key) for action in actions), (actions, key)
                    assert (qualifier == "ForAnyValue") == key_of(key).multi_valued, (operator, key)


def test_the_table_follows_docs_aws_facts():
    """Spot checks against docs/aws-facts.md D: request keys, resource keys, and what UpdateAccessEntry lacks."""
    facts = (ROOT / "docs" / "aws-facts.md").read_text(encoding="utf-8")
    assert "| CreateAccessEntry | aws:RequestTag/${TagKey}, aws:TagKeys, eks:accessEntryType, eks:kubernetesGroups, eks:principalArn, eks:username |" in facts
    assert "| AssociateAccessPolicy | eks:accessScope, eks:namespaces, eks:policyArn |" in facts
    for key in ("eks:principalArn", "eks:kubernetesGroups", "eks:username", "eks:accessEntryType", "aws:TagKeys", "aws:RequestTag/owner"):
        assert supports("eks:CreateAccessEntry", key)
    for key in ("eks:accessScope", "eks:namespaces", "eks:policyArn", "eks:principalArn"):
        assert supports("eks:AssociateAccessPolicy", key)
    assert not supports("eks:UpdateAccessEntry", "eks:policyArn")
    assert not supports("eks:CreateAccessEntry", "eks:policyArn")
    assert not supports("eks:UpdateClusterConfig", "eks:bootstrapClusterCreatorAdminPermissions")
    assert supports("eks:CreateCluster", "eks:bootstrapClusterCreatorAdminPermissions")
    assert not supports("eks:ListAccessEntries", "eks:principalArn")
    assert supports("eks:ListAccessEntries", "aws:PrincipalArn")  # global
    assert set(ACTION_KEYS) >= {"eks:CreateAccessEntry", "eks:AssociateAccessPolicy", "eks:UpdateAccessEntry", "eks:DeleteAccessEntry", "eks:CreateCluster"}


def test_the_classic_holes_are_refused():
    problems = policy_problems(deny({"ForAllValues:StringLike": {"eks:kubernetesGroups": "system:*"}}), limit=SCP_CHARACTERS)
    assert any("matches an absent key or an empty set" in p for p in problems)
    problems = policy_problems(deny({"StringLike": {"eks:kubernetesGroups": "system:*"}}), limit=SCP_CHARACTERS)
    assert any("multi-valued" in p for p in problems)
    problems = policy_problems(deny({"ForAnyValue:StringLike": {"eks:username": "system:*"}}), limit=SCP_CHARACTERS)
    assert any("single-valued" in p for p in problems)
    problems = policy_problems(deny({"ForAnyValue:StringNotLike": {"eks:kubernetesGroups": "dev"}}), limit=SCP_CHARACTERS)
    assert any("as soon as one value differs" in p for p in problems)


def test_keys_on_actions_that_do_not_carry_them_are_refused():
    problems = policy_problems(deny({"StringLike": {"eks:username": "system:*"}}, action="eks:CreateCluster"), limit=SCP_CHARACTERS)
    assert problems == ["statement 1 (S1): eks:CreateCluster does not carry eks:username"]
    problems = policy_problems(deny({"Bool": {"eks:bootstrapClusterCreatorAdminPermissions": "true"}}, action="eks:UpdateClusterConfig"), limit=SCP_CHARACTERS)
    assert problems == ["statement 1 (S1): eks:UpdateClusterConfig does not carry eks:bootstrapClusterCreatorAdminPermissions"]


def test_grammar_types_variables_and_size():
    assert any("does not suit" in p for p in policy_problems(deny({"ArnLike": {"eks:username": "x"}}), limit=SCP_CHARACTERS))
    assert any("unknown policy variable" in p for p in policy_problems(deny({"StringLike": {"eks:username": "${aws:username}"}}), limit=SCP_CHARACTERS))
    assert any("unknown condition operator" in p for p in policy_problems(deny({"StringMatches": {"eks:username": "x"}}), limit=SCP_CHARACTERS))
    document = deny({"StringLike": {"eks:username": "x"}})
    document["Statement"][0]["Principal"] = "*"
    document["Statement"].append(dict(document["Statement"][0]))
    problems = policy_problems(document, limit=100)
    assert any("over the limit of 100" in p for p in problems)
    assert any("Sid 'S1' is used twice" in p for p in problems)
    assert any("'Principal' is not allowed" in p for p in problems)
    assert policy_problems({"Statement": []}, limit=100) == ["Version must be '2012-10-17'", "Statement must be a non-empty list"]


def test_the_guardrails_role_names_are_infra_naming():
    sys.path.insert(0, str(ROOT))
    from infra import naming

    for function in ("access-entry", "iam-principal", "sweep", "sweep-worker"):
        assert role_name(function, "eu-west-1") == naming.role_name(function, "eu-west-1")
