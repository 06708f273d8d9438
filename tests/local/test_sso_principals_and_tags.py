"""IAM Identity Center (SSO) roles, whose ARN path names ``sso.amazonaws.com``, through every
access-entry call; the region comes from the request's signature (not from the principal ARN
in the URL); TagResource/UntagResource records on the default bus."""

from __future__ import annotations

import subprocess
import sys
from typing import Any
from urllib.parse import quote

import pytest

from eks_guardrail.local import recorded_events
from eks_guardrail.local.server import signed_region

from .conftest import ACCOUNT, Aws
from .helpers import ADMIN, VIEW, expect_error

SSO_ROLE = "AWSReservedSSO_Admin_0123456789abcdef"
#: role paths of IAM Identity Center roles (with and without the home region), and a path that
#: names another region the way a host does
SSO_PATHS = {
    "sso-regional": "/aws-reserved/sso.amazonaws.com/eu-west-1/",
    "sso-global": "/aws-reserved/sso.amazonaws.com/",
    "host-like": "/svc.ap-southeast-2.amazonaws.com/",
}
TAG_CALLS = {
    "source": ["aws.eks"],
    "detail-type": ["AWS API Call via CloudTrail"],
    "detail": {"eventName": ["TagResource", "UntagResource"]},
}


def _setup(aws: Aws, path: str, regions: tuple[str, ...]) -> tuple[str, dict[str, Any]]:
    """An SSO-path role and, in each region, an API-mode cluster "demo"; returns the role ARN
    and the EKS client of each region."""
    aws.create_role("eks-cluster-role")
    arn = aws.create_role(SSO_ROLE, path=path)["Arn"]
    assert arn == f"arn:aws:iam::{ACCOUNT}:role{path}{SSO_ROLE}"
    clients = {region: aws.client("eks", region=region) for region in regions}
    for client in clients.values():
        aws.create_cluster("demo", mode="API", client=client)
    return arn, clients


def _every_operation(eks: Any, arn: str, region: str) -> None:
    created = eks.create_access_entry(clusterName="demo", principalArn=arn, kubernetesGroups=["ops"])["accessEntry"]
    assert created["principalArn"] == arn
    assert created["accessEntryArn"].startswith(f"arn:aws:eks:{region}:{ACCOUNT}:access-entry/demo/role/{ACCOUNT}/{SSO_ROLE}/")
    assert arn in eks.list_access_entries(clusterName="demo")["accessEntries"]
    described = eks.describe_access_entry(clusterName="demo", principalArn=arn)["accessEntry"]
    assert described["kubernetesGroups"] == ["ops"]
    updated = eks.update_access_entry(clusterName="demo", principalArn=arn, kubernetesGroups=["dev"])["accessEntry"]
    assert updated["kubernetesGroups"] == ["dev"]
    assert eks.list_associated_access_policies(clusterName="demo", principalArn=arn)["associatedAccessPolicies"] == []
    assoc = eks.associate_access_policy(clusterName="demo", principalArn=arn, policyArn=VIEW, accessScope={"type": "cluster"})
    assert assoc["principalArn"] == arn and assoc["associatedAccessPolicy"]["policyArn"] == VIEW
    eks.associate_access_policy(clusterName="demo", principalArn=arn, policyArn=ADMIN,
                                accessScope={"type": "namespace", "namespaces": ["team"]})
    listed = eks.list_associated_access_policies(clusterName="demo", principalArn=arn)
    assert listed["principalArn"] == arn
    assert sorted(p["policyArn"] for p in listed["associatedAccessPolicies"]) == sorted([ADMIN, VIEW])
    eks.disassociate_access_policy(clusterName="demo", principalArn=arn, policyArn=VIEW)
    listed = eks.list_associated_access_policies(clusterName="demo", principalArn=arn)["associatedAccessPolicies"]
    assert [p["policyArn"] for p in listed] == [ADMIN]
    eks.delete_access_entry(clusterName="demo", principalArn=arn)
    assert arn not in eks.list_access_entries(clusterName="demo")["accessEntries"]
    expect_error(eks.describe_access_entry, "ResourceNotFoundException", 404, clusterName="demo", principalArn=arn)


OPERATIONS = [
    "CreateAccessEntry", "ListAccessEntries", "DescribeAccessEntry", "UpdateAccessEntry",
    "ListAssociatedAccessPolicies", "AssociateAccessPolicy", "AssociateAccessPolicy",
    "ListAssociatedAccessPolicies", "DisassociateAccessPolicy", "ListAssociatedAccessPolicies",
    "DeleteAccessEntry", "ListAccessEntries", "DescribeAccessEntry",
]


def _entry_events(region: str) -> list[dict[str, Any]]:
    return [e["detail"] for e in recorded_events(region=region)
            if e["detail"]["eventName"] not in ("CreateCluster",)]


@pytest.mark.parametrize("path", list(SSO_PATHS.values()), ids=list(SSO_PATHS))
def test_sso_role_every_access_entry_operation(aws: Aws, path: str) -> None:
    """Create, describe, update, list associated policies, associate, disassociate and delete an
    access entry of an IAM Identity Center role (its ARN, in the URL, names sso.amazonaws.com);
    every call is recorded in the client's region with principalArn URL-encoded."""
    arn, clients = _setup(aws, path, (aws.region,))
    _every_operation(clients[aws.region], arn, aws.region)
    details = _entry_events(aws.region)
    assert [d["eventName"] for d in details] == OPERATIONS
    assert {d["awsRegion"] for d in details} == {aws.region}
    encoded = quote(arn, safe="")
    for detail in details:
        if detail["eventName"] in ("CreateAccessEntry", "ListAccessEntries"):
            continue
        assert detail["requestParameters"]["principalArn"] == encoded, detail
    assert [e for e in recorded_events() if e["region"] not in (aws.region, "us-east-1")] == []


@pytest.mark.parametrize("path", list(SSO_PATHS.values()), ids=list(SSO_PATHS))
def test_region_comes_from_the_signature(aws: Aws, path: str) -> None:
    """A client in eu-central-1 and one in us-east-1 each see their own cluster "demo" and its
    entries, whatever region the principal ARN's path names; events go to each region's bus."""
    regions = ("eu-central-1", "us-east-1")
    arn, clients = _setup(aws, path, regions)
    queues = {region: aws.queue_for_rule({"source": ["aws.eks"]}, region=region, name=f"q-{region}") for region in regions}
    clients["eu-central-1"].create_access_entry(clusterName="demo", principalArn=arn, kubernetesGroups=["eu"])
    for region, client in clients.items():
        cluster = client.describe_cluster(name="demo")["cluster"]
        assert cluster["arn"] == f"arn:aws:eks:{region}:{ACCOUNT}:cluster/demo"
        assert client.list_clusters()["clusters"] == ["demo"]
    # only the eu-central-1 cluster has the entry
    eu = clients["eu-central-1"].describe_access_entry(clusterName="demo", principalArn=arn)["accessEntry"]
    assert eu["kubernetesGroups"] == ["eu"] and ":eu-central-1:" in eu["accessEntryArn"]
    expect_error(clients["us-east-1"].describe_access_entry, "ResourceNotFoundException", 404,
                 clusterName="demo", principalArn=arn)
    assert arn not in clients["us-east-1"].list_access_entries(clusterName="demo")["accessEntries"]
    clients["eu-central-1"].delete_access_entry(clusterName="demo", principalArn=arn)
    # every operation works in both regions, one after the other
    for region, client in clients.items():
        _every_operation(client, arn, region)
    for region in regions:
        got = aws.drain(queues[region], region=region)
        names = [e["detail"]["eventName"] for e in got]
        assert names[0] == "CreateAccessEntry" and names[-1] == "DeleteAccessEntry", names
        assert {e["region"] for e in got} == {region}
        assert {e["detail"]["awsRegion"] for e in got} == {region}
    eu_names = [e["detail"]["eventName"] for e in recorded_events(region="eu-central-1")]
    assert eu_names.count("CreateAccessEntry") == 2  # the first entry and the one of _every_operation
    assert [e for e in recorded_events() if e["region"] not in (*regions, "us-east-1")] == []


def test_tag_and_untag_records(aws: Aws) -> None:
    """TagResource/UntagResource on an access-entry ARN (of an SSO role) and on a cluster ARN
    are put on the region's default bus with requestParameters.resourceArn URL-encoded,
    requestParameters.tags (TagResource) and requestParameters.tagKeys (UntagResource)."""
    arn, clients = _setup(aws, SSO_PATHS["sso-regional"], (aws.region,))
    eks = clients[aws.region]
    queue = aws.queue_for_rule(TAG_CALLS)
    entry_arn = eks.create_access_entry(clusterName="demo", principalArn=arn)["accessEntry"]["accessEntryArn"]
    cluster_arn = eks.describe_cluster(name="demo")["cluster"]["arn"]
    for resource in (entry_arn, cluster_arn):
        eks.tag_resource(resourceArn=resource, tags={"guardrail/exempt": "true", "team": "platform"})
        eks.untag_resource(resourceArn=resource, tagKeys=["guardrail/exempt", "team"])
        assert eks.list_tags_for_resource(resourceArn=resource)["tags"] == {}
    got = aws.drain(queue)
    assert [(e["detail"]["eventName"], e["region"]) for e in got] == [
        ("TagResource", aws.region), ("UntagResource", aws.region),
    ] * 2
    for event, resource in zip(got[::2], (entry_arn, cluster_arn)):
        params = event["detail"]["requestParameters"]
        assert params == {"resourceArn": quote(resource, safe=""),
                          "tags": {"guardrail/exempt": "true", "team": "platform"}}
        assert event["detail"]["awsRegion"] == aws.region
    for event, resource in zip(got[1::2], (entry_arn, cluster_arn)):
        params = event["detail"]["requestParameters"]
        assert params == {"resourceArn": quote(resource, safe=""), "tagKeys": ["guardrail/exempt", "team"]}
    assert quote(entry_arn, safe="").startswith("arn%3Aaws%3Aeks%3A") and "%2F" in quote(entry_arn, safe="")
    # a single key is a list too
    eks.untag_resource(resourceArn=cluster_arn, tagKeys=["only"])
    (last,) = aws.drain(queue)
    assert last["detail"]["requestParameters"]["tagKeys"] == ["only"]


def test_tag_records_in_the_signed_region(aws: Aws) -> None:
    """Tag calls of a client in eu-central-1 are recorded there and reach that region's bus."""
    arn, clients = _setup(aws, SSO_PATHS["sso-global"], ("eu-central-1",))
    eks = clients["eu-central-1"]
    queue = aws.queue_for_rule(TAG_CALLS, region="eu-central-1")
    entry_arn = eks.create_access_entry(clusterName="demo", principalArn=arn)["accessEntry"]["accessEntryArn"]
    eks.tag_resource(resourceArn=entry_arn, tags={"k": "v"})
    eks.untag_resource(resourceArn=entry_arn, tagKeys=["k"])
    got = aws.drain(queue, region="eu-central-1")
    assert [e["detail"]["eventName"] for e in got] == ["TagResource", "UntagResource"]
    assert {e["region"] for e in got} == {"eu-central-1"}
    assert got[0]["detail"]["requestParameters"]["resourceArn"] == quote(entry_arn, safe="")
    assert got[1]["detail"]["requestParameters"]["tagKeys"] == ["k"]


@pytest.mark.parametrize(
    ("environ", "region"),
    [
        ({"HTTP_AUTHORIZATION": "AWS4-HMAC-SHA256 Credential=AKID/20260101/eu-west-1/eks/aws4_request, "
                                "SignedHeaders=host;x-amz-date, Signature=abc"}, "eu-west-1"),
        ({"QUERY_STRING": "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKID%2F20260101%2Fus-east-1%2Feks%2Faws4_request"}, "us-east-1"),
        ({"HTTP_AUTHORIZATION": "Bearer x"}, None),
        ({}, None),
    ],
    ids=["header", "presigned", "not-sigv4", "unsigned"],
)
def test_signed_region(environ: dict[str, str], region: str | None) -> None:
    """The region of a request's SigV4 credential scope."""
    assert signed_region(environ) == region


SERVER_LIFECYCLE_SCRIPT = """
import json, boto3
from moto.eks.responses import EKSResponse
from eks_guardrail.local import mock_aws
from eks_guardrail.local.server import LocalAWSServer
assert "get_region_from_url" not in EKSResponse.__dict__
with LocalAWSServer() as one, LocalAWSServer() as two:
    assert "get_region_from_url" in EKSResponse.__dict__
    for server in (one, two):
        eks = boto3.client("eks", region_name="eu-central-1", endpoint_url=server.url,
                           aws_access_key_id="testing", aws_secret_access_key="testing")
        assert eks.list_clusters()["clusters"] == []
    two.stop()
    assert "get_region_from_url" in EKSResponse.__dict__  # still needed by the first one
assert "get_region_from_url" not in EKSResponse.__dict__
with mock_aws():
    assert "get_region_from_url" not in EKSResponse.__dict__
print("ok")
"""


def test_region_patch_only_while_a_server_is_bound() -> None:
    """The region patch is on moto only while a server is bound and gone after the last one
    closes (checked in a fresh interpreter, as this session's endpoint keeps it installed)."""
    out = subprocess.run([sys.executable, "-c", SERVER_LIFECYCLE_SCRIPT], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr
