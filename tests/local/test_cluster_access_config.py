"""Conformance: accessConfig on CreateCluster / DescribeCluster / UpdateClusterConfig and the
cluster creator's admin entry."""

from __future__ import annotations

import pytest

from .conftest import ACCOUNT, Aws
from .helpers import ADMIN, expect_error, output_members

MSG_BOOTSTRAP = (
    "bootstrapClusterCreatorAdminPermissions must be true if cluster authentication mode is set to CONFIG_MAP"
)


def test_defaults_when_absent(aws: Aws) -> None:
    """aws-facts A: accessConfig defaults – CONFIG_MAP via the API, bootstrap admin true."""
    created = aws.create_cluster("plain", mode=None)
    assert created["accessConfig"] == {"bootstrapClusterCreatorAdminPermissions": True, "authenticationMode": "CONFIG_MAP"}
    described = aws.eks.describe_cluster(name="plain")["cluster"]
    assert described["accessConfig"] == created["accessConfig"]


def test_create_with_access_config(aws: Aws) -> None:
    """aws-facts A: CreateCluster accepts accessConfig; DescribeCluster returns it."""
    aws.create_cluster("c", mode="API", bootstrap=False)
    assert aws.eks.describe_cluster(name="c")["cluster"]["accessConfig"] == {
        "bootstrapClusterCreatorAdminPermissions": False,
        "authenticationMode": "API",
    }
    assert aws.eks.list_access_entries(clusterName="c")["accessEntries"] == []


def test_config_map_without_bootstrap_rejected(aws: Aws) -> None:
    """aws-facts B/E: CONFIG_MAP with bootstrapClusterCreatorAdminPermissions=false is rejected."""
    expect_error(aws.eks.create_cluster, "InvalidParameterException", 400, MSG_BOOTSTRAP,
                 name="bad", roleArn=f"arn:aws:iam::{ACCOUNT}:role/r", resourcesVpcConfig={},
                 accessConfig={"authenticationMode": "CONFIG_MAP", "bootstrapClusterCreatorAdminPermissions": False})
    expect_error(aws.eks.describe_cluster, "ResourceNotFoundException", 404, name="bad")


def test_unknown_mode_rejected(aws: Aws) -> None:
    """aws-facts A: AuthenticationMode enum is API | API_AND_CONFIG_MAP | CONFIG_MAP."""
    expect_error(aws.eks.create_cluster, "InvalidParameterException", 400,
                 name="bad", roleArn=f"arn:aws:iam::{ACCOUNT}:role/r", resourcesVpcConfig={},
                 accessConfig={"authenticationMode": "OPEN"})


def test_one_way_mode_changes(aws: Aws) -> None:
    """aws-facts B: modes change one way only, CONFIG_MAP → API_AND_CONFIG_MAP → API; the
    UpdateClusterConfig response is an AccessConfigUpdate record."""
    aws.create_cluster("c", mode=None)
    update = aws.eks.update_cluster_config(name="c", accessConfig={"authenticationMode": "API_AND_CONFIG_MAP"})["update"]
    assert {"id", "status", "type", "params", "createdAt", "errors"} == set(update)
    assert set(update) <= output_members(aws.eks, "UpdateClusterConfig", "update")
    assert update["status"] == "Successful" and update["type"] == "AccessConfigUpdate"
    assert update["params"] == [{"type": "AuthenticationMode", "value": "API_AND_CONFIG_MAP"}]
    assert update["errors"] == [] and update["id"]
    assert aws.eks.describe_cluster(name="c")["cluster"]["accessConfig"]["authenticationMode"] == "API_AND_CONFIG_MAP"
    expect_error(aws.eks.update_cluster_config, "InvalidParameterException", 400,
                 "Unsupported authentication mode update from API_AND_CONFIG_MAP to CONFIG_MAP",
                 name="c", accessConfig={"authenticationMode": "CONFIG_MAP"})
    aws.eks.update_cluster_config(name="c", accessConfig={"authenticationMode": "API"})
    for back in ("API_AND_CONFIG_MAP", "CONFIG_MAP"):
        expect_error(aws.eks.update_cluster_config, "InvalidParameterException", 400,
                     name="c", accessConfig={"authenticationMode": back})
    assert aws.eks.describe_cluster(name="c")["cluster"]["accessConfig"]["authenticationMode"] == "API"


def test_config_map_to_api_skip_rejected(aws: Aws) -> None:
    """aws-facts B/E: direct CONFIG_MAP → API fails with the published message."""
    aws.create_cluster("c", mode=None)
    expect_error(aws.eks.update_cluster_config, "InvalidParameterException", 400,
                 "Unsupported authentication mode update from CONFIG_MAP to API",
                 name="c", accessConfig={"authenticationMode": "API"})


def test_update_unknown_cluster_404(aws: Aws) -> None:
    """aws-facts A: UpdateClusterConfig on an unknown cluster → ResourceNotFoundException."""
    expect_error(aws.eks.update_cluster_config, "ResourceNotFoundException", 404,
                 name="nope", accessConfig={"authenticationMode": "API"})


def test_creator_admin_entry(aws: Aws) -> None:
    """aws-facts B: with bootstrap on, the creating principal gets a STANDARD entry with
    AmazonEKSClusterAdminPolicy, cluster scope."""
    aws.create_cluster("c", mode="API")
    root = f"arn:aws:iam::{ACCOUNT}:root"
    assert aws.eks.list_access_entries(clusterName="c")["accessEntries"] == [root]
    entry = aws.eks.describe_access_entry(clusterName="c", principalArn=root)["accessEntry"]
    assert entry["type"] == "STANDARD"
    policies = aws.eks.list_associated_access_policies(clusterName="c", principalArn=root)["associatedAccessPolicies"]
    assert [(p["policyArn"], p["accessScope"]["type"]) for p in policies] == [(ADMIN, "cluster")]
    # it can be deleted like any other entry
    aws.eks.delete_access_entry(clusterName="c", principalArn=root)
    assert aws.eks.list_access_entries(clusterName="c")["accessEntries"] == []


def test_creator_entry_appears_after_config_map(aws: Aws) -> None:
    """aws-facts B: a CONFIG_MAP cluster has no visible entries; moving to API_AND_CONFIG_MAP
    shows the creator's entry."""
    aws.create_cluster("c", mode=None)
    expect_error(aws.eks.list_access_entries, "InvalidRequestException", 400, clusterName="c")
    aws.eks.update_cluster_config(name="c", accessConfig={"authenticationMode": "API_AND_CONFIG_MAP"})
    assert aws.eks.list_access_entries(clusterName="c")["accessEntries"] == [f"arn:aws:iam::{ACCOUNT}:root"]


@pytest.mark.parametrize("caller", ["user", "assumed-role"])
def test_creator_is_the_real_caller(aws: Aws, caller: str) -> None:
    """aws-facts B: the creator entry is the caller's IAM principal (an assumed role's role ARN)."""
    if caller == "user":
        user = aws.create_user("builder")
        key = aws.iam.create_access_key(UserName="builder")["AccessKey"]
        creds = {"aws_access_key_id": key["AccessKeyId"], "aws_secret_access_key": key["SecretAccessKey"]}
        expected = user["Arn"]
    else:
        role = aws.create_role("pipeline", path="/ci/")
        creds = aws.assume_role(role["Arn"])
        expected = role["Arn"]
    eks = aws.client("eks", **creds)
    aws.create_cluster("c", mode="API", client=eks)
    assert aws.eks.list_access_entries(clusterName="c")["accessEntries"] == [expected]
