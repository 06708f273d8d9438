"""`eks-guardrail doctor` on moto: what is missing, with its fix, and what is fine."""

from __future__ import annotations

import io
import json
import zipfile

import boto3
import pytest

from eks_guardrail.cli import main
from eks_guardrail.local import mock_aws
from eks_guardrail.patterns import eks_access_pattern, iam_principal_pattern

REGION = "eu-west-1"


@pytest.fixture
def aws(monkeypatch):
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    with mock_aws():
        yield boto3.session.Session(region_name=REGION)


def doctor(capsys, *argv):
    code = main(["doctor", *argv])
    return code, capsys.readouterr().out


def _function(session, region: str, name: str) -> str:
    iam = session.client("iam")
    try:
        role = iam.get_role(RoleName="fn")["Role"]["Arn"]
    except iam.exceptions.NoSuchEntityException:
        role = iam.create_role(RoleName="fn", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("handler.py", "def handler(event, context):\n    return None\n")
    return session.client("lambda", region_name=region).create_function(
        FunctionName=name, Runtime="python3.13", Role=role, Handler="handler.handler", Code={"ZipFile": buffer.getvalue()}
    )["FunctionArn"]


def _rule(session, region: str, name: str, pattern: dict, target_arn: str) -> None:
    events = session.client("events", region_name=region)
    events.put_rule(Name=name, EventPattern=json.dumps(pattern), State="ENABLED")
    events.put_targets(Rule=name, Targets=[{"Id": "t", "Arn": target_arn}])


def test_empty_account_lists_what_is_missing_with_fixes(aws, capsys):
    code, out = doctor(capsys)
    assert code == 1
    assert "MISSING no logging trail records management write events" in out
    assert "fix: set deployment.create_trail: true" in out
    assert f"MISSING {REGION}: no enabled EventBridge rule for EKS access-entry events" in out
    assert "MISSING us-east-1: no enabled EventBridge rule for IAM principal events" in out
    assert f"OK      no EKS clusters in {REGION} yet" in out


def test_deployed_account_is_all_good(aws, capsys, tmp_path):
    s3 = aws.client("s3")
    s3.create_bucket(Bucket="trail-bucket", CreateBucketConfiguration={"LocationConstraint": REGION})
    cloudtrail = aws.client("cloudtrail")
    cloudtrail.create_trail(Name="org-trail", S3BucketName="trail-bucket", IsMultiRegionTrail=True)
    cloudtrail.start_logging(Name="org-trail")
    eks = aws.client("eks")
    eks.create_cluster(name="prod", roleArn="arn:aws:iam::123456789012:role/x", resourcesVpcConfig={"subnetIds": ["s"]},
                       accessConfig={"authenticationMode": "API", "bootstrapClusterCreatorAdminPermissions": False})
    _rule(aws, REGION, "eks-guardrail-access", eks_access_pattern(), _function(aws, REGION, "access-entry"))
    _rule(aws, "us-east-1", "eks-guardrail-iam-forwarder", iam_principal_pattern(), f"arn:aws:events:{REGION}:123456789012:event-bus/default")
    aws.client("secretsmanager").create_secret(Name="eks-guardrail/slack", SecretString="https://hooks.slack.com/services/x")
    config = tmp_path / "guardrail.yaml"
    config.write_text(f'deployment: {{accounts: ["123456789012"], regions: [{REGION}], slack_secret_name: eks-guardrail/slack}}\n')

    code, out = doctor(capsys, "--config", str(config))

    assert code == 0, out
    assert "OK      trail org-trail records management events (all regions)" in out
    assert f"OK      cluster {REGION}/prod uses authentication mode API" in out
    assert "sends EKS access-entry events to function access-entry" in out
    assert "forwards IAM principal events (us-east-1) to arn:aws:events:eu-west-1" in out
    assert "OK      Slack secret eks-guardrail/slack exists" in out


def test_config_map_cluster_and_missing_secret_are_flagged(aws, capsys):
    aws.client("eks").create_cluster(name="legacy", roleArn="arn:aws:iam::123456789012:role/x", resourcesVpcConfig={"subnetIds": ["s"]})
    code, out = doctor(capsys, "--slack-secret", "nope")
    assert code == 1
    assert f"MISSING cluster {REGION}/legacy is in CONFIG_MAP mode" in out
    assert "--access-config authenticationMode=API_AND_CONFIG_MAP" in out
    assert "MISSING Slack secret nope does not exist" in out


def test_trail_that_is_not_logging_does_not_count(aws, capsys):
    aws.client("s3").create_bucket(Bucket="stopped-trail-bucket", CreateBucketConfiguration={"LocationConstraint": REGION})
    aws.client("cloudtrail").create_trail(Name="stopped", S3BucketName="stopped-trail-bucket")
    _, out = doctor(capsys)
    assert "MISSING no logging trail records management write events" in out


def test_trail_with_read_only_management_selector_does_not_count(aws, capsys):
    aws.client("s3").create_bucket(Bucket="reads-trail-bucket", CreateBucketConfiguration={"LocationConstraint": REGION})
    cloudtrail = aws.client("cloudtrail")
    cloudtrail.create_trail(Name="reads", S3BucketName="reads-trail-bucket")
    cloudtrail.put_event_selectors(TrailName="reads", EventSelectors=[{"ReadWriteType": "ReadOnly", "IncludeManagementEvents": True}])
    cloudtrail.start_logging(Name="reads")
    _, out = doctor(capsys)
    assert "MISSING no logging trail records management write events" in out
