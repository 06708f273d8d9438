"""Fixtures of the emulator's conformance suite: every test runs in-process and against the
local endpoint (``aws`` fixture)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Iterator

import boto3
import pytest

from eks_guardrail.local import mock_aws
from eks_guardrail.local.server import LocalAWSServer, reset

ACCOUNT = "123456789012"
REGION = "eu-west-1"
TRUST_POLICY = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, "Action": "sts:AssumeRole"}
        ],
    }
)


@dataclass
class Aws:
    """boto3 clients bound to one way of reaching the emulator."""

    mode: str
    endpoint_url: str | None = None
    account: str = ACCOUNT
    region: str = REGION
    _clients: dict[tuple[str, str], Any] = field(default_factory=dict)

    def client(self, service: str, region: str | None = None, **creds: Any) -> Any:
        region = region or (("us-east-1") if service in ("iam", "sts") else self.region)
        key = (service, region)
        if not creds and key in self._clients:
            return self._clients[key]
        kwargs: dict[str, Any] = {"region_name": region}
        if self.endpoint_url:
            kwargs["endpoint_url"] = self.endpoint_url
            kwargs.setdefault("aws_access_key_id", "testing")
            kwargs.setdefault("aws_secret_access_key", "testing")
        kwargs.update(creds)
        client = boto3.client(service, **kwargs)
        if not creds:
            self._clients[key] = client
        return client

    @property
    def eks(self) -> Any:
        return self.client("eks")

    @property
    def iam(self) -> Any:
        return self.client("iam")

    # -- helpers ---------------------------------------------------------------------------------
    def create_role(self, name: str, path: str = "/") -> dict[str, Any]:
        return self.iam.create_role(RoleName=name, Path=path, AssumeRolePolicyDocument=TRUST_POLICY)["Role"]

    def create_user(self, name: str) -> dict[str, Any]:
        return self.iam.create_user(UserName=name)["User"]

    def create_cluster(self, name: str = "demo", mode: str | None = "API", bootstrap: bool | None = None, client: Any = None) -> dict[str, Any]:
        role = f"arn:aws:iam::{self.account}:role/eks-cluster-role"
        kwargs: dict[str, Any] = {"name": name, "roleArn": role, "resourcesVpcConfig": {}}
        access: dict[str, Any] = {}
        if mode is not None:
            access["authenticationMode"] = mode
        if bootstrap is not None:
            access["bootstrapClusterCreatorAdminPermissions"] = bootstrap
        if access:
            kwargs["accessConfig"] = access
        return (client or self.eks).create_cluster(**kwargs)["cluster"]

    def assume_role(self, role_arn: str, session: str = "sess") -> dict[str, str]:
        creds = self.client("sts").assume_role(RoleArn=role_arn, RoleSessionName=session)["Credentials"]
        return {
            "aws_access_key_id": creds["AccessKeyId"],
            "aws_secret_access_key": creds["SecretAccessKey"],
            "aws_session_token": creds["SessionToken"],
        }

    def queue_for_rule(self, pattern: dict[str, Any], region: str | None = None, name: str = "q") -> str:
        """An SQS queue receiving what a default-bus rule with ``pattern`` matches."""
        region = region or self.region
        sqs = self.client("sqs", region=region)
        events = self.client("events", region=region)
        url = sqs.create_queue(QueueName=name)["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        events.put_rule(Name=f"rule-{name}", EventPattern=json.dumps(pattern), State="ENABLED")
        events.put_targets(Rule=f"rule-{name}", Targets=[{"Id": "q", "Arn": arn}])
        return url

    def drain(self, queue_url: str, region: str | None = None) -> list[dict[str, Any]]:
        sqs = self.client("sqs", region=region or self.region)
        out: list[dict[str, Any]] = []
        while True:
            msgs = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", [])
            if not msgs:
                return out
            for m in msgs:
                out.append(json.loads(m["Body"]))
                sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=m["ReceiptHandle"])


@pytest.fixture(scope="session")
def local_endpoint() -> Iterator[LocalAWSServer]:
    server = LocalAWSServer("127.0.0.1", 0).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(params=["in-process", "endpoint"])
def aws(request: pytest.FixtureRequest) -> Iterator[Aws]:
    if request.param == "in-process":
        with mock_aws():
            yield Aws("in-process")
    else:
        server: LocalAWSServer = request.getfixturevalue("local_endpoint")
        reset()
        try:
            yield Aws("endpoint", endpoint_url=server.url)
        finally:
            reset()


@pytest.fixture
def cluster(aws: Aws) -> str:
    """A cluster in API mode created by the default (root) caller."""
    aws.create_role("eks-cluster-role")
    aws.create_cluster("demo", mode="API")
    return "demo"
