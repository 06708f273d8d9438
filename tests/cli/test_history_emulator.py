"""`eks-guardrail history` end to end on the emulator's LookupEvents: in process and as a subprocess through local-aws.

The emulator records every emulated EKS call in its region and IAM calls in us-east-1, answers
newest first, 50 a page, and throttles beyond 2 calls per second per account and region, as AWS.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime, timedelta, timezone

import boto3
import pytest

import cloudtrail_builder as ct
from eks_guardrail import local
from eks_guardrail.cli import main
from eks_guardrail.local import mock_aws
from eks_guardrail.local.server import LocalAWSServer, reset

REGION = "eu-west-1"
CONFIG = "mode: monitor\nrules:\n  prefer-roles: {action: rollback}\n"
TRUST = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]})


@pytest.fixture
def credentials(monkeypatch):
    for key, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": REGION}.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)


@pytest.fixture
def limits():
    previous = local.set_lookup_rate_limit(2.0)
    yield
    local.set_lookup_rate_limit(previous)
    local.inject_lookup_throttles(0)


def _world(clients) -> str:
    """A cluster, an IAM user's entry (prefer-roles), a role's entry, a deleted role; returns the account."""
    iam, eks = clients("iam", "us-east-1"), clients("eks", REGION)
    account = clients("sts", "us-east-1").get_caller_identity()["Account"]
    iam.create_role(RoleName="eks-cluster-role", AssumeRolePolicyDocument=TRUST)
    iam.create_role(RoleName="Dev", AssumeRolePolicyDocument=TRUST)
    iam.create_user(UserName="mallory")
    eks.create_cluster(name="prod", roleArn=f"arn:aws:iam::{account}:role/eks-cluster-role", resourcesVpcConfig={}, accessConfig={"authenticationMode": "API"})
    eks.create_access_entry(clusterName="prod", principalArn=f"arn:aws:iam::{account}:user/mallory")
    eks.create_access_entry(clusterName="prod", principalArn=f"arn:aws:iam::{account}:role/Dev")
    eks.list_access_entries(clusterName="prod")  # a read: counted, not shown
    iam.delete_role(RoleName="Dev")
    return account


def test_history_in_process_judges_the_emulated_calls_and_past_records_in_time_order(tmp_path, capsys, credentials, limits):
    config = tmp_path / "guardrail.yaml"
    config.write_text(CONFIG)
    with mock_aws():
        account = _world(lambda service, region: boto3.client(service, region_name=region))
        past = ct.create_access_entry(ct.user_arn("old-user", account=account), cluster="prod", account=account)
        past["eventTime"] = (datetime.now(timezone.utc) - timedelta(days=30)).strftime("%Y-%m-%dT%H:%M:%SZ")
        local.record_history(past)
        for i in range(120):  # 3 pages of EKS reads in eu-west-1, behind the limiter
            read = ct.cloudtrail_record("eks", "DescribeCluster", {"name": "prod"}, account=account)
            read["eventTime"] = (datetime.now(timezone.utc) - timedelta(days=2, minutes=i)).strftime("%Y-%m-%dT%H:%M:%SZ")
            local.record_history(read)
        code = main(["history", "--config", str(config), "--regions", REGION, "--format", "json"])
        throttled = local.lookup_throttles_answered()
    out, err = capsys.readouterr()
    assert code == 1, err
    results = [json.loads(line) for line in out.splitlines()]
    names = [(r["event_name"], (r["findings"] or [{}])[0].get("principal_arn")) for r in results]
    assert names[0] == ("CreateAccessEntry", ct.user_arn("old-user", account=account))  # 30 days ago: first
    assert ("CreateAccessEntry", f"arn:aws:iam::{account}:user/mallory") in names
    assert [n for n, _ in names].index("CreateCluster") < [n for n, _ in names].index("DeleteRole")
    assert {n for n, _ in names} >= {"CreateCluster", "CreateAccessEntry", "DeleteRole", "CreateRole", "CreateUser"}
    assert "DescribeCluster" not in {n for n, _ in names} and "ListAccessEntries" not in {n for n, _ in names}
    assert throttled == 0  # the client keeps to 2 calls per second per region by itself


def test_injected_throttles_are_absorbed_by_adaptive_retries(tmp_path, capsys, credentials, limits):
    config = tmp_path / "guardrail.yaml"
    config.write_text(CONFIG)
    with mock_aws():
        _world(lambda service, region: boto3.client(service, region_name=region))
        local.inject_lookup_throttles(4)
        code = main(["history", "--config", str(config), "--regions", REGION, "--format", "table"])
        throttled = local.lookup_throttles_answered()
    out, err = capsys.readouterr()
    assert throttled == 4
    assert code == 1, err
    assert "rolled back" in out and "Traceback" not in err


def test_history_as_a_user_runs_it_through_local_aws(tmp_path, limits):
    config = tmp_path / "guardrail.yaml"
    config.write_text(CONFIG)
    with LocalAWSServer() as server:
        reset()
        try:
            def clients(service, region):
                return boto3.client(service, region_name=region, endpoint_url=server.url, aws_access_key_id="testing", aws_secret_access_key="testing")

            account = _world(clients)
            env = {
                **{k: v for k, v in os.environ.items() if not k.startswith("AWS_")},
                "AWS_ENDPOINT_URL": server.url, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_REGION": REGION,
            }
            result = subprocess.run(
                [sys.executable, "-m", "eks_guardrail", "history", "--config", str(config), "--format", "sarif"],
                env=env, capture_output=True, text=True, timeout=120,
            )
        finally:
            reset()
    assert result.returncode == 1, result.stderr[-2000:]
    (run,) = json.loads(result.stdout)["runs"]
    (finding,) = [r for r in run["results"] if r["ruleId"] == "prefer-roles"]
    assert finding["locations"][0]["logicalLocations"][0]["name"] == f"arn:aws:iam::{account}:user/mallory"
    assert finding["properties"]["enforce_would_have"] == "rolled back"
