"""Conformance: the access-entry operations (create, describe, update, delete, list)."""

from __future__ import annotations

import re
from datetime import datetime

import pytest

from .conftest import ACCOUNT, Aws
from .helpers import ADMIN, VIEW, expect_error, output_members

MSG_IN_USE = "The specified access entry resource is already in use on this cluster."
MSG_INVALID_PRINCIPAL = "The specified principalArn is invalid: invalid principal."
MSG_AUTH_MODE = (
    "The cluster's authentication mode must be set to one of [API, API_AND_CONFIG_MAP] "
    "to perform this operation."
)
MSG_SLR = (
    "The caller is not allowed to modify access entries with a principalArn value of a "
    "Service Linked Role"
)
MSG_SYSTEM_MASTERS = "The kubernetes group name system:masters is invalid, it cannot start with system:"
ENTRY_ARN = re.compile(
    r"^arn:aws:eks:eu-west-1:123456789012:access-entry/demo/(role|user)/\d{12}/[^/]+/"
    r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
)


def test_create_access_entry_shape(aws: Aws, cluster: str) -> None:
    """aws-facts A: CreateAccessEntry response shape; B: default username for a STANDARD role
    (path removed) and access entry ARN format."""
    role = aws.create_role("dev-role", path="/teams/dev/")
    resp = aws.eks.create_access_entry(clusterName=cluster, principalArn=role["Arn"], tags={"team": "dev"})
    entry = resp["accessEntry"]
    assert set(entry) == output_members(aws.eks, "CreateAccessEntry", "accessEntry")
    assert entry["clusterName"] == cluster
    assert entry["principalArn"] == role["Arn"]
    assert entry["type"] == "STANDARD"
    assert entry["username"] == f"arn:aws:sts::{ACCOUNT}:assumed-role/dev-role/{{{{SessionName}}}}"
    assert entry["kubernetesGroups"] == []
    assert entry["tags"] == {"team": "dev"}
    assert ENTRY_ARN.match(entry["accessEntryArn"]), entry["accessEntryArn"]
    assert isinstance(entry["createdAt"], datetime) and entry["createdAt"] == entry["modifiedAt"]
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 200


def test_create_access_entry_user_default_username(aws: Aws, cluster: str) -> None:
    """aws-facts B: an IAM user's STANDARD entry defaults its username to the user ARN."""
    user = aws.create_user("alice")
    entry = aws.eks.create_access_entry(
        clusterName=cluster, principalArn=user["Arn"], kubernetesGroups=["devs"], username="alice:{{SessionName}}"
    )["accessEntry"]
    assert entry["kubernetesGroups"] == ["devs"]
    assert entry["username"] == "alice:{{SessionName}}"
    other = aws.create_user("bob")
    entry = aws.eks.create_access_entry(clusterName=cluster, principalArn=other["Arn"])["accessEntry"]
    assert entry["username"] == other["Arn"]
    assert "/user/" in entry["accessEntryArn"]


def test_describe_access_entry(aws: Aws, cluster: str) -> None:
    """aws-facts A: DescribeAccessEntry returns the entry as created (principalArn in the path)."""
    role = aws.create_role("b", path="/a/")
    created = aws.eks.create_access_entry(clusterName=cluster, principalArn=role["Arn"])["accessEntry"]
    described = aws.eks.describe_access_entry(clusterName=cluster, principalArn=role["Arn"])["accessEntry"]
    assert described == created
    assert set(described) == output_members(aws.eks, "DescribeAccessEntry", "accessEntry")


def test_duplicate_principal_rejected(aws: Aws, cluster: str) -> None:
    """aws-facts B/E: One principal ↔ one entry – duplicate create is 409 ResourceInUseException."""
    role = aws.create_role("dup")
    aws.eks.create_access_entry(clusterName=cluster, principalArn=role["Arn"])
    expect_error(
        aws.eks.create_access_entry, "ResourceInUseException", 409, MSG_IN_USE,
        clusterName=cluster, principalArn=role["Arn"],
    )


def test_update_access_entry(aws: Aws, cluster: str) -> None:
    """aws-facts A/B: UpdateAccessEntry changes username and groups only; type and principal stay."""
    role = aws.create_role("upd")
    created = aws.eks.create_access_entry(clusterName=cluster, principalArn=role["Arn"])["accessEntry"]
    updated = aws.eks.update_access_entry(
        clusterName=cluster, principalArn=role["Arn"], kubernetesGroups=["viewers"], username="ci:{{SessionName}}"
    )["accessEntry"]
    assert set(updated) == output_members(aws.eks, "UpdateAccessEntry", "accessEntry")
    assert updated["kubernetesGroups"] == ["viewers"]
    assert updated["username"] == "ci:{{SessionName}}"
    assert updated["type"] == created["type"] and updated["principalArn"] == created["principalArn"]
    assert updated["accessEntryArn"] == created["accessEntryArn"]
    assert updated["createdAt"] == created["createdAt"]
    assert updated["modifiedAt"] >= created["modifiedAt"]


def test_update_has_no_type_or_principal_member(aws: Aws) -> None:
    """aws-facts A.0 / B: Immutable – UpdateAccessEntryRequest has no type, tags or new principal."""
    shape = aws.eks.meta.service_model.operation_model("UpdateAccessEntry").input_shape
    assert set(shape.members) == {"clusterName", "principalArn", "kubernetesGroups", "clientRequestToken", "username"}


def test_delete_access_entry_removes_associations(aws: Aws, cluster: str) -> None:
    """aws-facts B: Delete – deleting an entry deletes its policy associations."""
    role = aws.create_role("del")
    aws.eks.create_access_entry(clusterName=cluster, principalArn=role["Arn"])
    aws.eks.associate_access_policy(
        clusterName=cluster, principalArn=role["Arn"], policyArn=VIEW, accessScope={"type": "cluster"}
    )
    resp = aws.eks.delete_access_entry(clusterName=cluster, principalArn=role["Arn"])
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert role["Arn"] not in aws.eks.list_access_entries(clusterName=cluster)["accessEntries"]
    assert role["Arn"] not in aws.eks.list_access_entries(clusterName=cluster, associatedPolicyArn=VIEW)["accessEntries"]
    # recreated: no association survives
    aws.eks.create_access_entry(clusterName=cluster, principalArn=role["Arn"])
    assert aws.eks.list_associated_access_policies(clusterName=cluster, principalArn=role["Arn"])["associatedAccessPolicies"] == []


def test_unknown_entry_and_cluster_404(aws: Aws, cluster: str) -> None:
    """aws-facts A (errors): unknown cluster or entry → 404 ResourceNotFoundException."""
    arn = f"arn:aws:iam::{ACCOUNT}:role/nobody"
    for call in (aws.eks.describe_access_entry, aws.eks.delete_access_entry, aws.eks.update_access_entry,
                 aws.eks.list_associated_access_policies):
        expect_error(call, "ResourceNotFoundException", 404, clusterName=cluster, principalArn=arn)
    expect_error(aws.eks.list_access_entries, "ResourceNotFoundException", 404, "No cluster found for name: nope.", clusterName="nope")
    expect_error(aws.eks.create_access_entry, "ResourceNotFoundException", 404, clusterName="nope", principalArn=arn)


def test_list_access_entries_pagination_and_filter(aws: Aws, cluster: str) -> None:
    """aws-facts A: ListAccessEntries paginates (maxResults/nextToken, paginator) and filters
    by associatedPolicyArn."""
    arns = []
    for i in range(5):
        arns.append(aws.create_role(f"r{i}")["Arn"])
        aws.eks.create_access_entry(clusterName=cluster, principalArn=arns[-1])
    aws.eks.associate_access_policy(clusterName=cluster, principalArn=arns[2], policyArn=VIEW, accessScope={"type": "cluster"})
    first = aws.eks.list_access_entries(clusterName=cluster, maxResults=2)
    assert len(first["accessEntries"]) == 2 and first["nextToken"]
    pages = aws.eks.get_paginator("list_access_entries").paginate(clusterName=cluster, PaginationConfig={"PageSize": 2})
    everything = [a for page in pages for a in page["accessEntries"]]
    creator = f"arn:aws:iam::{ACCOUNT}:root"
    assert everything == [creator, *arns]
    assert aws.eks.list_access_entries(clusterName=cluster, associatedPolicyArn=VIEW)["accessEntries"] == [arns[2]]
    assert aws.eks.list_access_entries(clusterName=cluster, associatedPolicyArn=ADMIN)["accessEntries"] == [creator]
    last = aws.eks.list_access_entries(clusterName=cluster, maxResults=100)
    assert "nextToken" not in last
    expect_error(aws.eks.list_access_entries, "InvalidParameterException", 400, clusterName=cluster, nextToken="garbage!")
    expect_error(aws.eks.list_access_entries, "InvalidParameterException", 400, clusterName=cluster, maxResults=101)


def test_reserved_username_prefixes(aws: Aws, cluster: str) -> None:
    """aws-facts B: Username must not start with system:, eks:, aws:, amazon:, iam:."""
    role = aws.create_role("u")
    for prefix in ("system:", "eks:", "aws:", "amazon:", "iam:"):
        err = expect_error(
            aws.eks.create_access_entry, "InvalidParameterException", 400,
            clusterName=cluster, principalArn=role["Arn"], username=f"{prefix}x",
        )
        assert f"{prefix}x" in err.response["Error"]["Message"]
    aws.eks.create_access_entry(clusterName=cluster, principalArn=role["Arn"])
    expect_error(aws.eks.update_access_entry, "InvalidParameterException", 400,
                 clusterName=cluster, principalArn=role["Arn"], username="system:admin")


def test_session_name_needs_colon(aws: Aws, cluster: str) -> None:
    """aws-facts B: {{SessionName}} in a username needs a colon somewhere before it."""
    role = aws.create_role("s")
    expect_error(aws.eks.create_access_entry, "InvalidParameterException", 400,
                 clusterName=cluster, principalArn=role["Arn"], username="john{{SessionName}}")
    expect_error(aws.eks.create_access_entry, "InvalidParameterException", 400,
                 clusterName=cluster, principalArn=role["Arn"], username="john{{SessionNameRaw}}")
    entry = aws.eks.create_access_entry(clusterName=cluster, principalArn=role["Arn"], username="jo:hn{{SessionName}}")
    assert entry["accessEntry"]["username"] == "jo:hn{{SessionName}}"


def test_system_groups_rejected(aws: Aws, cluster: str) -> None:
    """aws-facts B/E: Kubernetes group names starting with system: are rejected."""
    role = aws.create_role("g")
    expect_error(aws.eks.create_access_entry, "InvalidParameterException", 400, MSG_SYSTEM_MASTERS,
                 clusterName=cluster, principalArn=role["Arn"], kubernetesGroups=["system:masters"])
    aws.eks.create_access_entry(clusterName=cluster, principalArn=role["Arn"])
    expect_error(aws.eks.update_access_entry, "InvalidParameterException", 400, MSG_SYSTEM_MASTERS,
                 clusterName=cluster, principalArn=role["Arn"], kubernetesGroups=["system:masters"])


def test_sts_session_arn_rejected(aws: Aws, cluster: str) -> None:
    """aws-facts A.0: STS session (assumed-role) ARNs are never valid principals."""
    aws.create_role("sess")
    expect_error(aws.eks.create_access_entry, "InvalidParameterException", 400, MSG_INVALID_PRINCIPAL,
                 clusterName=cluster, principalArn=f"arn:aws:sts::{ACCOUNT}:assumed-role/sess/me")


def test_unknown_same_account_principal_rejected(aws: Aws, cluster: str) -> None:
    """aws-facts B/E: an entry holds an existing principal – an unknown same-account principal
    (e.g. an SSO role without its path) is InvalidParameterException."""
    aws.create_role("AWSReservedSSO_Admin_1234", path="/aws-reserved/sso.amazonaws.com/eu-west-1/")
    expect_error(aws.eks.create_access_entry, "InvalidParameterException", 400, MSG_INVALID_PRINCIPAL,
                 clusterName=cluster, principalArn=f"arn:aws:iam::{ACCOUNT}:role/AWSReservedSSO_Admin_1234")
    expect_error(aws.eks.create_access_entry, "InvalidParameterException", 400, MSG_INVALID_PRINCIPAL,
                 clusterName=cluster, principalArn="not-an-arn")


def test_service_linked_role_rejected(aws: Aws, cluster: str) -> None:
    """aws-facts B/E: service-linked roles can't be access-entry principals."""
    arn = f"arn:aws:iam::{ACCOUNT}:role/aws-service-role/eks.amazonaws.com/AWSServiceRoleForAmazonEKS"
    expect_error(aws.eks.create_access_entry, "InvalidParameterException", 400, MSG_SLR,
                 clusterName=cluster, principalArn=arn)


def test_cross_account_standard_accepted(aws: Aws, cluster: str) -> None:
    """aws-facts B: Cross-account – STANDARD may use another account's principal."""
    arn = "arn:aws:iam::210987654321:role/partner"
    entry = aws.eks.create_access_entry(clusterName=cluster, principalArn=arn)["accessEntry"]
    assert entry["principalArn"] == arn
    assert "/role/210987654321/partner/" in entry["accessEntryArn"]


@pytest.mark.parametrize("entry_type", ["EC2_LINUX", "EC2_WINDOWS", "FARGATE_LINUX", "HYBRID_LINUX", "EC2"])
def test_node_types_need_same_account_role(aws: Aws, cluster: str, entry_type: str) -> None:
    """aws-facts A.0/B: node types take only a role of the cluster's account."""
    user = aws.create_user(f"u-{entry_type.lower()}")
    expect_error(aws.eks.create_access_entry, "InvalidParameterException", 400,
                 clusterName=cluster, principalArn=user["Arn"], type=entry_type)
    expect_error(aws.eks.create_access_entry, "InvalidParameterException", 400,
                 clusterName=cluster, principalArn="arn:aws:iam::210987654321:role/node", type=entry_type)
    role = aws.create_role(f"node-{entry_type.lower()}")
    entry = aws.eks.create_access_entry(clusterName=cluster, principalArn=role["Arn"], type=entry_type)["accessEntry"]
    assert entry["type"] == entry_type


def test_node_type_defaults(aws: Aws, cluster: str) -> None:
    """aws-facts B: default usernames/groups of node entries; groups can't be set for EC2_LINUX/EC2_WINDOWS."""
    linux, windows, fargate, hybrid = (aws.create_role(n)["Arn"] for n in ("linux", "windows", "fargate", "hybrid"))
    e = aws.eks.create_access_entry(clusterName=cluster, principalArn=linux, type="EC2_LINUX")["accessEntry"]
    assert e["username"] == "system:node:{{EC2PrivateDNSName}}"
    assert sorted(e["kubernetesGroups"]) == ["system:bootstrappers", "system:nodes"]
    e = aws.eks.create_access_entry(clusterName=cluster, principalArn=windows, type="EC2_WINDOWS")["accessEntry"]
    assert e["username"] == "system:node:{{EC2PrivateDNSName}}" and "system:nodes" in e["kubernetesGroups"]
    e = aws.eks.create_access_entry(clusterName=cluster, principalArn=fargate, type="FARGATE_LINUX")["accessEntry"]
    assert e["username"] == "system:node:{{SessionName}}"
    e = aws.eks.create_access_entry(clusterName=cluster, principalArn=hybrid, type="HYBRID_LINUX")["accessEntry"]
    assert e["username"] == "system:node:{{SessionName}}"
    other = aws.create_role("linux2")["Arn"]
    expect_error(aws.eks.create_access_entry, "InvalidParameterException", 400,
                 clusterName=cluster, principalArn=other, type="EC2_LINUX", kubernetesGroups=["nodes"])
    expect_error(aws.eks.update_access_entry, "InvalidParameterException", 400,
                 clusterName=cluster, principalArn=linux, kubernetesGroups=["nodes"])


def test_unknown_type_rejected(aws: Aws, cluster: str) -> None:
    """aws-facts A.0: type is a plain string in the model – the server rejects unknown values."""
    role = aws.create_role("t")
    expect_error(aws.eks.create_access_entry, "InvalidParameterException", 400,
                 clusterName=cluster, principalArn=role["Arn"], type="ADMIN")


@pytest.mark.parametrize(
    "tags",
    [
        {f"k{i}": "v" for i in range(51)},
        {"k" * 129: "v"},
        {"k": "v" * 257},
    ],
    ids=["51-tags", "long-key", "long-value"],
)
def test_tag_limits(aws: Aws, cluster: str, tags: dict[str, str]) -> None:
    """aws-facts A: TagMap has 1..50 entries, keys 1..128 chars, values ≤256 chars."""
    role = aws.create_role("tags")
    expect_error(aws.eks.create_access_entry, "InvalidParameterException", 400,
                 clusterName=cluster, principalArn=role["Arn"], tags=tags)


def test_tag_limits_at_the_edge_accepted(aws: Aws, cluster: str) -> None:
    """aws-facts A: exactly 50 tags, a 128-char key and a 256-char value are valid."""
    role = aws.create_role("tags-ok")
    tags = {f"k{i}": "v" for i in range(49)}
    tags["k" * 128] = "v" * 256
    entry = aws.eks.create_access_entry(clusterName=cluster, principalArn=role["Arn"], tags=tags)["accessEntry"]
    assert entry["tags"] == tags


def test_config_map_cluster_rejects_access_entry_calls(aws: Aws) -> None:
    """aws-facts B/E: access-entry APIs on a CONFIG_MAP cluster → 400 InvalidRequestException."""
    aws.create_cluster("legacy", mode=None)
    arn = f"arn:aws:iam::{ACCOUNT}:root"
    calls = [
        (aws.eks.list_access_entries, {"clusterName": "legacy"}),
        (aws.eks.create_access_entry, {"clusterName": "legacy", "principalArn": arn}),
        (aws.eks.describe_access_entry, {"clusterName": "legacy", "principalArn": arn}),
        (aws.eks.update_access_entry, {"clusterName": "legacy", "principalArn": arn}),
        (aws.eks.delete_access_entry, {"clusterName": "legacy", "principalArn": arn}),
        (aws.eks.associate_access_policy, {"clusterName": "legacy", "principalArn": arn, "policyArn": VIEW, "accessScope": {"type": "cluster"}}),
        (aws.eks.disassociate_access_policy, {"clusterName": "legacy", "principalArn": arn, "policyArn": VIEW}),
        (aws.eks.list_associated_access_policies, {"clusterName": "legacy", "principalArn": arn}),
    ]
    for call, kwargs in calls:
        expect_error(call, "InvalidRequestException", 400, MSG_AUTH_MODE, **kwargs)


def test_api_and_config_map_mode_allows_calls(aws: Aws) -> None:
    """aws-facts B: access-entry APIs work in API_AND_CONFIG_MAP."""
    aws.create_cluster("hybrid", mode="API_AND_CONFIG_MAP")
    assert aws.eks.list_access_entries(clusterName="hybrid")["accessEntries"] == [f"arn:aws:iam::{ACCOUNT}:root"]


def test_deleting_cluster_removes_entries(aws: Aws, cluster: str) -> None:
    """aws-facts B: entries belong to their cluster – a recreated cluster starts with only the creator's."""
    role = aws.create_role("gone")
    aws.eks.create_access_entry(clusterName=cluster, principalArn=role["Arn"])
    aws.eks.delete_cluster(name=cluster)
    aws.create_cluster(cluster, mode="API")
    assert aws.eks.list_access_entries(clusterName=cluster)["accessEntries"] == [f"arn:aws:iam::{ACCOUNT}:root"]


def test_tags_on_access_entry_arn(aws: Aws, cluster: str) -> None:
    """aws-facts A/D: an access entry is a taggable resource (accessEntryArn); tags show in
    DescribeAccessEntry and ListTagsForResource and keep the TagMap limits."""
    role = aws.create_role("tagged")
    arn = aws.eks.create_access_entry(clusterName=cluster, principalArn=role["Arn"], tags={"a": "1"})["accessEntry"]["accessEntryArn"]
    aws.eks.tag_resource(resourceArn=arn, tags={"b": "2"})
    assert aws.eks.list_tags_for_resource(resourceArn=arn)["tags"] == {"a": "1", "b": "2"}
    aws.eks.untag_resource(resourceArn=arn, tagKeys=["a"])
    assert aws.eks.describe_access_entry(clusterName=cluster, principalArn=role["Arn"])["accessEntry"]["tags"] == {"b": "2"}
    expect_error(aws.eks.tag_resource, "InvalidParameterException", 400, resourceArn=arn, tags={f"k{i}": "v" for i in range(50)})
    expect_error(aws.eks.list_tags_for_resource, "NotFoundException", 404, resourceArn=arn[:-4] + "0000")
    # cluster tags still go to moto
    cluster_arn = aws.eks.describe_cluster(name=cluster)["cluster"]["arn"]
    aws.eks.tag_resource(resourceArn=cluster_arn, tags={"env": "dev"})
    assert aws.eks.list_tags_for_resource(resourceArn=cluster_arn)["tags"] == {"env": "dev"}


def test_update_with_an_empty_username_is_refused(aws: Aws, cluster: str) -> None:
    """aws-facts B: a username is either AWS's default or a valid name; an empty one is not a name."""
    arn = aws.create_role("dev")["Arn"]
    aws.eks.create_access_entry(clusterName=cluster, principalArn=arn)
    expect_error(aws.eks.update_access_entry, "InvalidParameterException", 400, clusterName=cluster, principalArn=arn, username="")
