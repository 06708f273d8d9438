"""AWS's limits: 5,120 characters an SCP, 5 SCPs a target, 6,144 a boundary; long allow-lists split without a hole."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings, strategies as st

from eks_guardrail.arns import matches_any
from eks_guardrail.config import org_rules_from_data
from eks_guardrail.scp import SCP_CHARACTERS, SCPS_PER_TARGET, ScpError, build_policy_set, minified, policy_problems
from eks_guardrail.scp.split import literal_ending, may_reach, split_statement

from .eks_requests import ACCOUNT, CLUSTER_ADMIN, allowed, associate, create_entry
from .policy_eval import scp_allows


def admins(count: int) -> list[str]:
    return [f"arn:aws:iam::{ACCOUNT}:role/team-{n:04d}-admin" for n in range(count)]


def allow_listed(arns: list[str], **extra) -> dict:
    policies = {"AmazonEKSClusterAdminPolicy": {"allow": arns}}
    return {"rules": {"admin-policy": {"action": "rollback", "policies": policies}, **extra}}


def test_300_allow_listed_arns_split_into_several_scps_each_within_the_limit():
    arns = admins(300) + [f"arn:aws:iam::{ACCOUNT}:role/platform-*", "arn:aws:iam::*:role/BreakGlass"]
    policies = build_policy_set(org_rules_from_data(allow_listed(arns)))
    assert 1 < len(policies.scps) <= SCPS_PER_TARGET
    for scp in policies.scps:
        assert scp.characters <= SCP_CHARACTERS
        assert scp.characters == len(json.dumps(scp.document, separators=(",", ":")))
        assert policy_problems(scp.document, limit=SCP_CHARACTERS) == []
    documents = [scp.document for scp in policies.scps]
    for arn in arns[:300] + [f"arn:aws:iam::{ACCOUNT}:role/platform-x", f"arn:aws:iam::{ACCOUNT}:role/BreakGlass"]:
        assert allowed(documents, associate(arn, CLUSTER_ADMIN)), arn
    strangers = [f"arn:aws:iam::{ACCOUNT}:role/team-0300-admin", f"arn:aws:iam::{ACCOUNT}:role/team-0001-admin2",
                 f"arn:aws:iam::{ACCOUNT}:role/x-team-0001-admin", f"arn:aws:iam::{ACCOUNT}:role/platform", f"arn:aws:iam::{ACCOUNT}:role/dev"]
    for arn in strangers:
        assert not allowed(documents, associate(arn, CLUSTER_ADMIN)), arn


def test_too_many_fail_saying_which_rule():
    with pytest.raises(ScpError, match=r"need \d+ SCPs, more than the 5 .*admin-policy"):
        build_policy_set(org_rules_from_data(allow_listed(admins(800))))


def test_the_boundary_is_one_policy_of_at_most_6144_characters():
    assert build_policy_set(org_rules_from_data(allow_listed(admins(20))), boundary=True).boundary.characters <= 6_144
    with pytest.raises(ScpError, match="permissions boundary takes .* more than a managed policy holds"):
        build_policy_set(org_rules_from_data(allow_listed(admins(300))), boundary=True)


def test_a_statement_that_cannot_be_split_fails_saying_so():
    # 300 exempt principals appear in every statement: nothing splits that list.
    exempt = [f"arn:aws:iam::{ACCOUNT}:role/breakglass-{n}" for n in range(300)]
    with pytest.raises(ScpError, match="cannot be split"):
        build_policy_set(org_rules_from_data({"exemptions": {"principals": exempt}}))
    # Allow patterns that all end in a wildcard cannot be told apart by their endings.
    wild = [f"arn:aws:iam::{ACCOUNT}:role/team-{n:04d}-*" for n in range(300)]
    with pytest.raises(ScpError, match="ending in a wildcard"):
        build_policy_set(org_rules_from_data(allow_listed(wild)))


def test_a_positive_list_splits_into_chunks():
    protected = [f"arn:aws:iam::{ACCOUNT}:role/protected-{n:04d}" for n in range(150)]
    org = org_rules_from_data({"rules": {"protected-entry": {"principals": protected}}})
    policies = build_policy_set(org)
    documents = [scp.document for scp in policies.scps]
    assert len(policies.scps) > 1
    from .eks_requests import on_entry

    assert all(not allowed(documents, on_entry("DeleteAccessEntry", arn)) for arn in protected)
    assert allowed(documents, on_entry("DeleteAccessEntry", f"arn:aws:iam::{ACCOUNT}:role/protected-0150"))


def test_patterns_arn_like_reads_differently_are_refused():
    with pytest.raises(ScpError, match="six colon-separated parts"):
        build_policy_set(org_rules_from_data({"rules": {"prefer-roles": {"allow": ["arn:aws:iam::*"]}}}))


def test_literal_endings_and_reach():
    assert literal_ending("arn:aws:iam::1:role/a-*-min") == "-min"
    assert literal_ending("arn:aws:iam::1:role/a?") == ""
    assert may_reach("arn:aws:iam::1:role/*min", "dmin") and may_reach("arn:aws:iam::1:role/*admin", "n")
    assert not may_reach("arn:aws:iam::1:role/*admin", "x")


NAME = st.text(alphabet="abc-", min_size=1, max_size=8)
#: Mostly literal endings (as real allow-lists are), some ending in a wildcard (the last cell's).
PATTERN = st.builds(lambda head, tail: head + tail, st.text(alphabet="abc-", max_size=6), st.sampled_from(["", "", "", "*b", "?a", "*", "a*"]))


@settings(max_examples=150, deadline=None)
@given(patterns=st.lists(PATTERN.filter(bool), min_size=1, max_size=40, unique=True), names=st.lists(NAME, min_size=1, max_size=30))
def test_split_by_cells_denies_exactly_what_the_whole_statement_denies(patterns, names):
    allow = [f"arn:aws:iam::{ACCOUNT}:role/{p}" for p in patterns]
    statement = {
        "Effect": "Deny", "Action": "eks:CreateAccessEntry", "Resource": "*",
        "Condition": {"ArnNotLike": {"eks:principalArn": allow if len(allow) > 1 else allow[0], "aws:PrincipalArn": "arn:*:iam::*:role/eks-guardrail-*"}},
    }
    budget = len(minified(statement)) // 2 + 250  # forces a split of long lists, leaves room for a cell's endings
    try:
        parts = split_statement(statement, "ArnNotLike", "eks:principalArn", lambda s: len(minified(s)) <= budget)
    except ScpError:
        return  # some lists cannot be split within so small a budget (patterns ending in wildcards): refused, never wrong
    whole = {"Version": "2012-10-17", "Statement": [statement]}
    split = {"Version": "2012-10-17", "Statement": parts}
    for name in names + patterns:
        request = create_entry(f"arn:aws:iam::{ACCOUNT}:role/{name}")
        expected = scp_allows([whole], *request)
        assert expected == matches_any(allow, request[1]["eks:principalArn"])
        assert scp_allows([split], *request) == expected, (name, parts)
