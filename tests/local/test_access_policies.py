"""Conformance: AssociateAccessPolicy, DisassociateAccessPolicy, ListAssociatedAccessPolicies,
ListAccessPolicies."""

from __future__ import annotations

import time

from eks_guardrail.aws_catalog import ACCESS_POLICY_NAMES, policy_arn

from .conftest import ACCOUNT, Aws
from .helpers import ADMIN, EDIT, VIEW, expect_error, output_members

MSG_ONLY_STANDARD = 'This operation can only be performed on Access Entries with a type of "STANDARD".'


def _entry(aws: Aws, cluster: str, name: str = "dev", **kwargs: object) -> str:
    arn = aws.create_role(name)["Arn"]
    aws.eks.create_access_entry(clusterName=cluster, principalArn=arn, **kwargs)
    return arn


def test_associate_shape(aws: Aws, cluster: str) -> None:
    """aws-facts A: AssociateAccessPolicy response shape (policyArn is a body member)."""
    arn = _entry(aws, cluster)
    resp = aws.eks.associate_access_policy(
        clusterName=cluster, principalArn=arn, policyArn=VIEW,
        accessScope={"type": "namespace", "namespaces": ["dev-*", "team-a"]},
    )
    assert set(resp) - {"ResponseMetadata"} == output_members(aws.eks, "AssociateAccessPolicy")
    assert resp["clusterName"] == cluster and resp["principalArn"] == arn
    assoc = resp["associatedAccessPolicy"]
    assert set(assoc) == output_members(aws.eks, "AssociateAccessPolicy", "associatedAccessPolicy")
    assert assoc["policyArn"] == VIEW
    assert assoc["accessScope"] == {"type": "namespace", "namespaces": ["dev-*", "team-a"]}
    assert assoc["associatedAt"] == assoc["modifiedAt"]


def test_reassociate_changes_scope(aws: Aws, cluster: str) -> None:
    """aws-facts B: re-running AssociateAccessPolicy with the same policy changes its scope,
    keeping associatedAt; each policy at most once per entry."""
    arn = _entry(aws, cluster)
    first = aws.eks.associate_access_policy(
        clusterName=cluster, principalArn=arn, policyArn=EDIT, accessScope={"type": "namespace", "namespaces": ["a"]}
    )["associatedAccessPolicy"]
    time.sleep(0.01)
    second = aws.eks.associate_access_policy(
        clusterName=cluster, principalArn=arn, policyArn=EDIT, accessScope={"type": "cluster"}
    )["associatedAccessPolicy"]
    assert second["accessScope"] == {"type": "cluster", "namespaces": []}
    assert second["associatedAt"] == first["associatedAt"]
    assert second["modifiedAt"] > first["modifiedAt"]
    listed = aws.eks.list_associated_access_policies(clusterName=cluster, principalArn=arn)["associatedAccessPolicies"]
    assert [p["policyArn"] for p in listed] == [EDIT]
    assert listed[0]["accessScope"]["type"] == "cluster"


def test_several_policies_and_list_shape(aws: Aws, cluster: str) -> None:
    """aws-facts A/B: several policies per entry; ListAssociatedAccessPolicies shape and pagination."""
    arn = _entry(aws, cluster)
    for policy in (VIEW, EDIT, ADMIN):
        aws.eks.associate_access_policy(clusterName=cluster, principalArn=arn, policyArn=policy, accessScope={"type": "cluster"})
    page = aws.eks.list_associated_access_policies(clusterName=cluster, principalArn=arn, maxResults=2)
    assert set(page) - {"ResponseMetadata"} == output_members(aws.eks, "ListAssociatedAccessPolicies")
    assert page["clusterName"] == cluster and page["principalArn"] == arn
    assert len(page["associatedAccessPolicies"]) == 2
    rest = aws.eks.list_associated_access_policies(
        clusterName=cluster, principalArn=arn, maxResults=2, nextToken=page["nextToken"]
    )
    assert "nextToken" not in rest
    got = [p["policyArn"] for p in page["associatedAccessPolicies"] + rest["associatedAccessPolicies"]]
    assert got == [VIEW, EDIT, ADMIN]
    paginated = aws.eks.get_paginator("list_associated_access_policies").paginate(
        clusterName=cluster, principalArn=arn, PaginationConfig={"PageSize": 1}
    ).build_full_result()
    assert [p["policyArn"] for p in paginated["associatedAccessPolicies"]] == [VIEW, EDIT, ADMIN]


def test_disassociate(aws: Aws, cluster: str) -> None:
    """aws-facts A: DisassociateAccessPolicy (policyArn in the path) removes the association;
    a policy that is not associated → 404."""
    arn = _entry(aws, cluster)
    aws.eks.associate_access_policy(clusterName=cluster, principalArn=arn, policyArn=VIEW, accessScope={"type": "cluster"})
    resp = aws.eks.disassociate_access_policy(clusterName=cluster, principalArn=arn, policyArn=VIEW)
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert aws.eks.list_associated_access_policies(clusterName=cluster, principalArn=arn)["associatedAccessPolicies"] == []
    expect_error(aws.eks.disassociate_access_policy, "ResourceNotFoundException", 404,
                 clusterName=cluster, principalArn=arn, policyArn=VIEW)


def test_policies_only_on_standard(aws: Aws, cluster: str) -> None:
    """aws-facts B/E: access policies only on STANDARD entries."""
    arn = _entry(aws, cluster, "node", type="EC2_LINUX")
    expect_error(aws.eks.associate_access_policy, "InvalidParameterException", 400, MSG_ONLY_STANDARD,
                 clusterName=cluster, principalArn=arn, policyArn=VIEW, accessScope={"type": "cluster"})
    expect_error(aws.eks.disassociate_access_policy, "InvalidParameterException", 400, MSG_ONLY_STANDARD,
                 clusterName=cluster, principalArn=arn, policyArn=VIEW)
    expect_error(aws.eks.list_associated_access_policies, "InvalidParameterException", 400, MSG_ONLY_STANDARD,
                 clusterName=cluster, principalArn=arn)


def test_namespace_scope_needs_namespaces(aws: Aws, cluster: str) -> None:
    """aws-facts A.0: namespaces are required for a namespace scope (doc string, server-side)."""
    arn = _entry(aws, cluster)
    expect_error(aws.eks.associate_access_policy, "InvalidParameterException", 400,
                 clusterName=cluster, principalArn=arn, policyArn=VIEW, accessScope={"type": "namespace"})
    expect_error(aws.eks.associate_access_policy, "InvalidParameterException", 400,
                 clusterName=cluster, principalArn=arn, policyArn=VIEW, accessScope={"type": "namespace", "namespaces": []})


def test_unknown_policy_rejected(aws: Aws, cluster: str) -> None:
    """aws-facts C: only AWS's access policies can be associated."""
    arn = _entry(aws, cluster)
    expect_error(aws.eks.associate_access_policy, "InvalidParameterException", 400,
                 clusterName=cluster, principalArn=arn,
                 policyArn="arn:aws:eks::aws:cluster-access-policy/MadeUpPolicy", accessScope={"type": "cluster"})


def test_associate_on_unknown_entry_404(aws: Aws, cluster: str) -> None:
    """aws-facts A (errors): AssociateAccessPolicy on a missing entry → 404."""
    expect_error(aws.eks.associate_access_policy, "ResourceNotFoundException", 404,
                 clusterName=cluster, principalArn=f"arn:aws:iam::{ACCOUNT}:role/none",
                 policyArn=VIEW, accessScope={"type": "cluster"})


def test_list_access_policies(aws: Aws) -> None:
    """aws-facts C: ListAccessPolicies returns the current full list (ARN format per B), paginated."""
    full = aws.eks.get_paginator("list_access_policies").paginate(PaginationConfig={"PageSize": 10}).build_full_result()
    policies = full["accessPolicies"]
    assert [p["name"] for p in policies] == list(ACCESS_POLICY_NAMES)
    assert all(p["arn"] == policy_arn(p["name"]) for p in policies)
    assert all(p["arn"].startswith("arn:aws:eks::aws:cluster-access-policy/") for p in policies)
    assert len(policies) == 34
    first = aws.eks.list_access_policies(maxResults=5)
    assert set(first) - {"ResponseMetadata"} == output_members(aws.eks, "ListAccessPolicies")
    assert len(first["accessPolicies"]) == 5 and first["nextToken"]
    assert "nextToken" not in aws.eks.list_access_policies()


def test_service_linked_only_policies_are_refused(aws: Aws, cluster: str) -> None:
    """aws-facts C: AmazonEKSBlockStoragePolicy, ComputePolicy, ... are designated for AWS
    service-linked roles only (and callers cannot create entries for those, aws-facts B)."""
    arn = _entry(aws, cluster)
    expect_error(
        aws.eks.associate_access_policy, "InvalidParameterException", 400,
        clusterName=cluster, principalArn=arn, policyArn=policy_arn("AmazonEKSComputePolicy"), accessScope={"type": "cluster"},
    )
