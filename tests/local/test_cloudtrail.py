"""Conformance: the CloudTrail records the emulated calls yield, and their delivery on
EventBridge's default bus (aws-facts F)."""

from __future__ import annotations

import json
import re
from urllib.parse import quote

from eks_guardrail.local import recorded_events

from .conftest import ACCOUNT, TRUST_POLICY, Aws
from .helpers import VIEW, expect_error

SUCCESSFUL_EKS = {
    "source": ["aws.eks"],
    "detail-type": ["AWS API Call via CloudTrail"],
    "detail": {"errorCode": [{"exists": False}]},
}
ENVELOPE_KEYS = {"version", "id", "detail-type", "source", "account", "time", "region", "resources", "detail"}
DETAIL_KEYS = {
    "eventVersion", "userIdentity", "eventTime", "eventSource", "eventName", "awsRegion",
    "sourceIPAddress", "userAgent", "requestParameters", "responseElements", "requestID",
    "eventID", "readOnly", "eventType", "managementEvent", "recipientAccountId", "eventCategory",
}


def _events(name: str, **filters: str) -> list[dict]:
    return [e for e in recorded_events(**filters) if e["detail"]["eventName"] == name]


def test_rule_receives_successful_calls_only(aws: Aws, cluster: str) -> None:
    """aws-facts F: EKS calls arrive on the default bus as "AWS API Call via CloudTrail"; a rule
    with errorCode exists:false gets the successful call and not the failed one."""
    queue = aws.queue_for_rule(SUCCESSFUL_EKS)
    role = aws.create_role("dev")
    aws.eks.create_access_entry(clusterName=cluster, principalArn=role["Arn"])
    expect_error(aws.eks.create_access_entry, "ResourceInUseException", 409, clusterName=cluster, principalArn=role["Arn"])
    aws.eks.describe_access_entry(clusterName=cluster, principalArn=role["Arn"])  # read-only: not on the bus
    got = aws.drain(queue)
    assert [e["detail"]["eventName"] for e in got] == ["CreateAccessEntry"]
    event = got[0]
    assert event["source"] == "aws.eks" and event["detail-type"] == "AWS API Call via CloudTrail"
    assert event["region"] == aws.region
    detail = event["detail"]
    assert set(detail) == DETAIL_KEYS
    assert detail["eventSource"] == "eks.amazonaws.com" and detail["eventVersion"] == "1.09"
    assert detail["requestParameters"]["name"] == cluster
    assert detail["requestParameters"]["principalArn"] == role["Arn"]  # body member: plain
    assert detail["responseElements"]["accessEntry"]["principalArn"] == role["Arn"]
    assert detail["responseElements"]["accessEntry"]["type"] == "STANDARD"
    assert detail["readOnly"] is False and detail["managementEvent"] is True
    assert detail["recipientAccountId"] == ACCOUNT and detail["awsRegion"] == aws.region
    assert detail["eventType"] == "AwsApiCall" and detail["eventCategory"] == "Management"


def test_failed_call_record(aws: Aws, cluster: str) -> None:
    """aws-facts E/F: a failed call is recorded with errorCode/errorMessage and no responseElements."""
    role = aws.create_role("dev")
    aws.eks.create_access_entry(clusterName=cluster, principalArn=role["Arn"])
    expect_error(aws.eks.create_access_entry, "ResourceInUseException", 409, clusterName=cluster, principalArn=role["Arn"])
    failed = _events("CreateAccessEntry")[-1]["detail"]
    assert failed["errorCode"] == "ResourceInUseException"
    assert failed["errorMessage"] == "The specified access entry resource is already in use on this cluster."
    assert failed["responseElements"] is None


def test_path_parameters_url_encoded(aws: Aws, cluster: str) -> None:
    """aws-facts A.0: principalArn (and Disassociate's policyArn) are URL-encoded in
    requestParameters of the path-parameter calls; Associate's policyArn stays plain."""
    role = aws.create_role("dev", path="/team/a/")
    arn = role["Arn"]
    encoded = quote(arn, safe="")
    assert encoded.startswith("arn%3Aaws%3Aiam%3A%3A") and "%2Fteam%2Fa%2Fdev" in encoded
    aws.eks.create_access_entry(clusterName=cluster, principalArn=arn)
    aws.eks.update_access_entry(clusterName=cluster, principalArn=arn, kubernetesGroups=["g"])
    aws.eks.describe_access_entry(clusterName=cluster, principalArn=arn)
    aws.eks.associate_access_policy(clusterName=cluster, principalArn=arn, policyArn=VIEW, accessScope={"type": "cluster"})
    aws.eks.list_associated_access_policies(clusterName=cluster, principalArn=arn)
    aws.eks.disassociate_access_policy(clusterName=cluster, principalArn=arn, policyArn=VIEW)
    aws.eks.delete_access_entry(clusterName=cluster, principalArn=arn)
    params = {e["detail"]["eventName"]: e["detail"]["requestParameters"] for e in recorded_events()}
    assert params["CreateAccessEntry"]["principalArn"] == arn
    for name in ("UpdateAccessEntry", "DescribeAccessEntry", "AssociateAccessPolicy",
                 "ListAssociatedAccessPolicies", "DisassociateAccessPolicy", "DeleteAccessEntry"):
        assert params[name]["principalArn"] == encoded, name
        assert params[name]["name"] == cluster
    assert params["AssociateAccessPolicy"]["policyArn"] == VIEW
    assert params["AssociateAccessPolicy"]["accessScope"] == {"type": "cluster"}
    assert params["DisassociateAccessPolicy"]["policyArn"] == quote(VIEW, safe="")
    assert params["UpdateAccessEntry"]["kubernetesGroups"] == ["g"]


def test_read_only_calls_recorded_not_published(aws: Aws, cluster: str) -> None:
    """aws-facts F: read-only calls are CloudTrail events (readOnly true) but ordinary rules
    don't receive them."""
    queue = aws.queue_for_rule({"source": ["aws.eks"]})
    aws.eks.list_access_entries(clusterName=cluster, maxResults=5)
    aws.eks.list_access_policies()
    listed = _events("ListAccessEntries")[-1]["detail"]
    assert listed["readOnly"] is True
    assert listed["requestParameters"] == {"name": cluster, "maxResults": 5}
    assert _events("ListAccessPolicies")
    assert aws.drain(queue) == []


def test_envelope_shape_and_bus_id(aws: Aws, cluster: str) -> None:
    """aws-facts F: envelope keys; the recorded envelope is the event the bus delivered."""
    queue = aws.queue_for_rule(SUCCESSFUL_EKS)
    aws.eks.delete_cluster(name=cluster)
    envelope = _events("DeleteCluster")[-1]
    assert set(envelope) == ENVELOPE_KEYS
    assert envelope["account"] == ACCOUNT and envelope["resources"] == []
    delivered = aws.drain(queue)
    assert [e["id"] for e in delivered] == [envelope["id"]]
    assert delivered[0]["time"] == envelope["time"]  # ISO 8601, as EventBridge delivers it
    assert set(delivered[0]) == ENVELOPE_KEYS  # `account` included, as AWS delivers it
    assert delivered[0]["account"] == ACCOUNT
    assert delivered[0]["detail"] == json.loads(json.dumps(envelope["detail"]))


def test_cluster_calls_recorded(aws: Aws) -> None:
    """aws-facts F: CreateCluster/UpdateClusterConfig records carry accessConfig as sent."""
    queue = aws.queue_for_rule(SUCCESSFUL_EKS)
    aws.create_cluster("c", mode=None)
    aws.eks.update_cluster_config(name="c", accessConfig={"authenticationMode": "API_AND_CONFIG_MAP"})
    got = {e["detail"]["eventName"]: e["detail"] for e in aws.drain(queue)}
    assert got["CreateCluster"]["requestParameters"]["name"] == "c"
    assert got["CreateCluster"]["responseElements"]["cluster"]["accessConfig"]["authenticationMode"] == "CONFIG_MAP"
    update = got["UpdateClusterConfig"]
    assert update["requestParameters"]["name"] == "c"
    assert update["requestParameters"]["accessConfig"] == {"authenticationMode": "API_AND_CONFIG_MAP"}
    assert update["responseElements"]["update"]["type"] == "AccessConfigUpdate"


def test_root_caller_identity(aws: Aws, cluster: str) -> None:
    """DESIGN safety 6: moto's default credentials are the account root."""
    identity = _events("CreateCluster")[-1]["detail"]["userIdentity"]
    assert identity["type"] == "Root"
    assert identity["arn"] == f"arn:aws:iam::{ACCOUNT}:root"
    assert identity["accountId"] == ACCOUNT


def test_iam_user_caller_identity(aws: Aws, cluster: str) -> None:
    """DESIGN safety 6: an IAM user's access key shows up as IAMUser."""
    user = aws.create_user("alice")
    key = aws.iam.create_access_key(UserName="alice")["AccessKey"]
    eks = aws.client("eks", aws_access_key_id=key["AccessKeyId"], aws_secret_access_key=key["SecretAccessKey"])
    eks.list_access_entries(clusterName=cluster)
    identity = _events("ListAccessEntries")[-1]["detail"]["userIdentity"]
    assert identity == {
        "type": "IAMUser",
        "principalId": user["UserId"],
        "arn": user["Arn"],
        "accountId": ACCOUNT,
        "accessKeyId": key["AccessKeyId"],
        "userName": "alice",
    }


def test_assumed_role_caller_identity(aws: Aws, cluster: str) -> None:
    """DESIGN safety 6: an assumed role shows up as AssumedRole with its sessionIssuer."""
    queue = aws.queue_for_rule(SUCCESSFUL_EKS)
    role = aws.create_role("guardrail", path="/sec/")
    target = aws.create_role("dev")
    creds = aws.assume_role(role["Arn"], session="rollback-1")
    eks = aws.client("eks", **creds)
    eks.create_access_entry(clusterName=cluster, principalArn=target["Arn"])
    identity = aws.drain(queue)[-1]["detail"]["userIdentity"]
    assert identity["type"] == "AssumedRole"
    assert identity["arn"] == f"arn:aws:sts::{ACCOUNT}:assumed-role/guardrail/rollback-1"
    assert identity["principalId"] == f"{role['RoleId']}:rollback-1"
    assert identity["accessKeyId"] == creds["aws_access_key_id"]
    assert identity["sessionContext"]["sessionIssuer"] == {
        "type": "Role",
        "principalId": role["RoleId"],
        "arn": role["Arn"],
        "accountId": ACCOUNT,
        "userName": "guardrail",
    }


def test_iam_events_on_us_east_1(aws: Aws) -> None:
    """aws-facts F: IAM events (CreateRole, DeleteRole, CreateUser, DeleteUser) land on
    us-east-1's default bus with IAM's record layout."""
    queue = aws.queue_for_rule({"source": ["aws.iam"], "detail-type": ["AWS API Call via CloudTrail"]}, region="us-east-1")
    other = aws.queue_for_rule({"source": ["aws.iam"]}, region=aws.region, name="other")
    aws.iam.create_role(RoleName="r", Path="/x/", AssumeRolePolicyDocument=TRUST_POLICY)
    aws.iam.delete_role(RoleName="r")
    aws.iam.create_user(UserName="u")
    aws.iam.delete_user(UserName="u")
    expect_error(aws.iam.delete_role, "NoSuchEntity", 404, RoleName="missing")
    got = aws.drain(queue, region="us-east-1")
    assert [e["detail"]["eventName"] for e in got] == ["CreateRole", "DeleteRole", "CreateUser", "DeleteUser", "DeleteRole"]
    assert aws.drain(other) == []
    create, delete, create_user, _, failed = (e["detail"] for e in got)
    assert all(e["region"] == "us-east-1" and e["source"] == "aws.iam" for e in got)
    assert create["eventSource"] == "iam.amazonaws.com" and create["awsRegion"] == "us-east-1"
    assert create["requestParameters"]["roleName"] == "r" and create["requestParameters"]["path"] == "/x/"
    assert create["requestParameters"]["assumeRolePolicyDocument"] == TRUST_POLICY
    role = create["responseElements"]["role"]
    assert role["arn"] == f"arn:aws:iam::{ACCOUNT}:role/x/r" and role["path"] == "/x/"
    assert role["roleId"].startswith("AROA")
    assert role["assumeRolePolicyDocument"] == quote(TRUST_POLICY, safe="")
    # "Aug 1, 2024 1:37:41 PM"
    assert re.match(r"^[A-Z][a-z]{2} \d{1,2}, \d{4} \d{1,2}:\d{2}:\d{2} [AP]M$", role["createDate"])
    assert delete["requestParameters"] == {"roleName": "r"} and delete["responseElements"] is None
    assert create_user["responseElements"]["user"]["userName"] == "u"
    assert failed["errorCode"] == "NoSuchEntity" and failed["errorMessage"]
    assert all(re.match(r"^[0-9a-f-]{36}$", e["detail"]["requestID"]) for e in got)


def test_target_failure_does_not_break_call(aws: Aws, cluster: str) -> None:
    """aws-facts F (best effort delivery): a broken rule target never fails the API call."""
    events = aws.client("events")
    events.put_rule(Name="broken", EventPattern=json.dumps({"source": ["aws.eks"]}), State="ENABLED")
    events.put_targets(Rule="broken", Targets=[{"Id": "x", "Arn": f"arn:aws:sqs:{aws.region}:{ACCOUNT}:does-not-exist"}])
    role = aws.create_role("dev")
    aws.eks.create_access_entry(clusterName=cluster, principalArn=role["Arn"])
    assert _events("CreateAccessEntry")


def test_disabled_rule_receives_nothing(aws: Aws, cluster: str) -> None:
    """aws-facts F: only enabled rules route events (moto alone delivers to DISABLED rules too)."""
    queue = aws.queue_for_rule(SUCCESSFUL_EKS)
    aws.client("events").disable_rule(Name="rule-q")
    aws.eks.create_access_entry(clusterName=cluster, principalArn=aws.create_role("dev")["Arn"])
    assert aws.drain(queue) == []
    aws.client("events").enable_rule(Name="rule-q")
    aws.eks.create_access_entry(clusterName=cluster, principalArn=aws.create_role("ops")["Arn"])
    assert [e["detail"]["eventName"] for e in aws.drain(queue)] == ["CreateAccessEntry"]
