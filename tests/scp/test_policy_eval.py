"""The test evaluator against AWS's documented semantics (IAM User Guide), before it judges any SCP."""

from __future__ import annotations

import pytest

from .policy_eval import FULL_AWS_ACCESS, condition_matches, decide, scp_allows


def deny(condition, action="eks:CreateAccessEntry"):
    return {"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Action": action, "Resource": "*", "Condition": condition}]}


def test_absent_key_is_false_for_positive_operators_and_true_for_negated_ones():
    # "If the key ... is not present in the request context, the values do not match and the condition is
    # false. If the policy condition requires that the key is not matched, such as StringNotLike or
    # ArnNotLike, and the right key is not present, the condition is true."
    for operator in ("StringEquals", "StringLike", "ArnLike", "Bool"):
        assert condition_matches(operator, "eks:username", ["x"], {}) is False
    for operator in ("StringNotEquals", "StringNotLike", "ArnNotLike"):
        assert condition_matches(operator, "eks:username", ["x"], {}) is True


def test_if_exists_is_true_for_an_absent_key_and_the_operator_otherwise():
    assert condition_matches("BoolIfExists", "eks:bootstrapClusterCreatorAdminPermissions", ["true"], {}) is True
    assert condition_matches("BoolIfExists", "eks:bootstrapClusterCreatorAdminPermissions", ["true"], {"eks:bootstrapClusterCreatorAdminPermissions": True}) is True
    assert condition_matches("BoolIfExists", "eks:bootstrapClusterCreatorAdminPermissions", ["true"], {"eks:bootstrapClusterCreatorAdminPermissions": False}) is False
    assert condition_matches("Bool", "eks:bootstrapClusterCreatorAdminPermissions", ["true"], {}) is False


def test_null_tests_presence():
    assert condition_matches("Null", "aws:RequestTag/owner", ["true"], {}) is True
    assert condition_matches("Null", "aws:RequestTag/owner", ["true"], {"aws:RequestTag/owner": "me"}) is False
    assert condition_matches("Null", "aws:RequestTag/owner", ["false"], {"aws:RequestTag/owner": "me"}) is True


def test_values_of_one_key_are_ored_and_negated_operators_nor_them():
    context = {"eks:username": "b"}
    assert condition_matches("StringEquals", "eks:username", ["a", "b"], context) is True
    assert condition_matches("StringNotEquals", "eks:username", ["a", "b"], context) is False
    assert condition_matches("StringNotEquals", "eks:username", ["a", "c"], context) is True


def test_keys_of_one_operator_and_separate_operators_are_anded():
    policy = deny({"StringLike": {"eks:username": "x*", "eks:accessEntryType": "STANDARD"}, "ArnNotLike": {"aws:PrincipalArn": "arn:aws:iam::*:role/Ok"}})
    base = {"eks:username": "xy", "eks:accessEntryType": "STANDARD", "aws:PrincipalArn": "arn:aws:iam::1:role/Other"}
    assert decide([policy], "eks:CreateAccessEntry", base) == "Deny"
    assert decide([policy], "eks:CreateAccessEntry", {**base, "eks:accessEntryType": "EC2"}) == "ImplicitDeny"
    assert decide([policy], "eks:CreateAccessEntry", {**base, "aws:PrincipalArn": "arn:aws:iam::1:role/Ok"}) == "ImplicitDeny"


def test_for_any_value_is_false_for_an_absent_key_or_an_empty_set():
    condition = ("ForAnyValue:StringLike", "eks:kubernetesGroups", ["system:*"])
    assert condition_matches(*condition, {}) is False
    assert condition_matches(*condition, {"eks:kubernetesGroups": []}) is False
    assert condition_matches(*condition, {"eks:kubernetesGroups": ["dev", "system:masters"]}) is True
    assert condition_matches(*condition, {"eks:kubernetesGroups": ["dev"]}) is False


def test_for_all_values_is_true_for_an_absent_key_or_an_empty_set():
    condition = ("ForAllValues:StringLike", "eks:kubernetesGroups", ["system:*"])
    assert condition_matches(*condition, {}) is True
    assert condition_matches(*condition, {"eks:kubernetesGroups": []}) is True
    assert condition_matches(*condition, {"eks:kubernetesGroups": ["system:a", "system:b"]}) is True
    assert condition_matches(*condition, {"eks:kubernetesGroups": ["system:a", "dev"]}) is False


def test_the_classic_hole_for_all_values_on_a_deny():
    """ForAllValues in a Deny denies every request without groups and lets through a reserved group mixed with another."""
    wrong = deny({"ForAllValues:StringLike": {"eks:kubernetesGroups": "system:*"}})
    right = deny({"ForAnyValue:StringLike": {"eks:kubernetesGroups": "system:*"}})
    no_groups = {"eks:principalArn": "arn:aws:iam::1:role/a"}
    mixed = {**no_groups, "eks:kubernetesGroups": ["dev", "system:masters"]}
    assert not scp_allows([wrong], "eks:CreateAccessEntry", no_groups)  # denies the harmless
    assert scp_allows([wrong], "eks:CreateAccessEntry", mixed)  # lets the dangerous through
    assert scp_allows([right], "eks:CreateAccessEntry", no_groups)
    assert not scp_allows([right], "eks:CreateAccessEntry", mixed)


def test_string_like_wildcards_and_their_literal_escapes():
    assert condition_matches("StringLike", "eks:username", ["a*c"], {"eks:username": "abbbc"})
    assert condition_matches("StringLike", "eks:username", ["a?c"], {"eks:username": "abc"})
    assert not condition_matches("StringLike", "eks:username", ["a?c"], {"eks:username": "ac"})
    assert condition_matches("StringLike", "eks:username", ["a${*}"], {"eks:username": "a*"})
    assert not condition_matches("StringLike", "eks:username", ["a${*}"], {"eks:username": "ab"})
    assert condition_matches("StringLike", "eks:username", ["[ab]"], {"eks:username": "[ab]"})  # no character classes
    assert not condition_matches("StringLike", "eks:username", ["[ab]"], {"eks:username": "a"})
    assert not condition_matches("StringLike", "eks:username", ["abc"], {"eks:username": "ABC"})  # case-sensitive


def test_policy_variables_take_the_request_value():
    context = {"aws:PrincipalAccount": "111122223333", "eks:principalArn": "arn:aws:iam::111122223333:role/x"}
    assert condition_matches("StringLike", "eks:principalArn", ["arn:*:iam::${aws:PrincipalAccount}:*"], context)
    assert not condition_matches("StringLike", "eks:principalArn", ["arn:*:iam::${aws:PrincipalAccount}:*"], {**context, "aws:PrincipalAccount": "444455556666"})


def test_arn_like_matches_each_of_the_six_parts_on_its_own():
    arn = {"aws:PrincipalArn": "arn:aws:iam::111122223333:role/path/Name"}
    assert condition_matches("ArnLike", "aws:PrincipalArn", ["arn:*:iam::*:role/*"], arn)
    assert condition_matches("ArnLike", "aws:PrincipalArn", ["arn:aws:iam::111122223333:role/path/Name"], arn)
    assert not condition_matches("ArnLike", "aws:PrincipalArn", ["arn:aws:iam::*"], arn)  # five parts: no `*` across colons
    assert not condition_matches("ArnLike", "aws:PrincipalArn", ["arn:aws:*:role/*"], arn)
    assert not condition_matches("ArnLike", "aws:PrincipalArn", ["arn:aws:iam::111122223333:role/name"], {"aws:PrincipalArn": "arn:aws:iam::111122223333:role/Name"})


def test_condition_keys_are_case_insensitive():
    assert condition_matches("StringEquals", "EKS:Username", ["a"], {"eks:username": "a"})


def test_a_multi_valued_key_needs_a_set_operator():
    with pytest.raises(ValueError):
        condition_matches("StringLike", "eks:kubernetesGroups", ["a"], {"eks:kubernetesGroups": ["a"]})


def test_deny_overrides_allow_and_scps_need_an_allow():
    allow = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "eks:*", "Resource": "*"}]}
    denial = deny({"StringLike": {"eks:username": "*"}})
    context = {"eks:username": "x"}
    assert decide([allow, denial], "eks:CreateAccessEntry", context) == "Deny"
    assert decide([allow], "eks:CreateAccessEntry", context) == "Allow"
    assert decide([denial], "eks:CreateAccessEntry", {}) == "ImplicitDeny"  # an SCP set without FullAWSAccess allows nothing
    assert scp_allows([denial], "eks:CreateAccessEntry", {})  # FullAWSAccess beside it
    assert decide([FULL_AWS_ACCESS], "iam:CreateRole", {}) == "Allow"


def test_actions_match_case_insensitively_and_only_their_own():
    denial = deny({"StringLike": {"eks:username": "*"}}, action=["eks:CreateAccessEntry"])
    assert not scp_allows([denial], "EKS:createaccessentry", {"eks:username": "x"})
    assert scp_allows([denial], "eks:UpdateAccessEntry", {"eks:username": "x"})
