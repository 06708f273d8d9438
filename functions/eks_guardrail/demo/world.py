"""An AWS account on the emulator, set up as the CDK stack would deploy the guardrail.

Inside `eks_guardrail.local.mock_aws()`: the ledger and idempotency tables, the alert topic
(subscribed by a queue so alerts can be read back), the EventBridge rule with the shared
pattern (targeting a queue the world drains into the handler), and three identities:
`platform` (the team that sets things up), `attacker` (a developer making bad changes) and
`guardrail` (the role the handler acts as). Each is a real assumed-role session, so the
emulator's CloudTrail records name the real caller and own-change skipping is meaningful.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Callable

import boto3

from ..clients import ClientFactory
from ..config import OrgRules
from ..handlers.access_entry_app import AccessEntryApp
from ..handlers.iam_principal_app import IamPrincipalApp
from ..handlers.settings import HandlerSettings
from ..handlers.sweep_app import SweepApp
from ..patterns import eks_access_pattern, iam_principal_pattern

ACCOUNT = "123456789012"
TRUST_POLICY = json.dumps(
    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, "Action": "sts:AssumeRole"}]}
)
CLUSTER_ADMIN = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy"


def _session(credentials: dict[str, Any], region: str) -> boto3.session.Session:
    return boto3.session.Session(
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
        region_name=region,
    )


@dataclass
class LocalWorld:
    region: str
    platform: boto3.session.Session
    attacker: boto3.session.Session
    guardrail: boto3.session.Session
    guardrail_role_arn: str
    events_queue_url: str
    #: IAM events exist only in us-east-1: the rule and its queue live there.
    iam_events_queue_url: str
    alerts_queue_url: str
    topic_arn: str
    ledger_table: str = "eks-guardrail-ledger"
    idempotency_table: str = "eks-guardrail-idempotency"
    handled: list[dict[str, Any]] = field(default_factory=list)

    # --- identities and clients ---------------------------------------------------------------

    def role_arn(self, name: str) -> str:
        return f"arn:aws:iam::{ACCOUNT}:role/{name}"

    def eks(self, who: str = "platform") -> Any:
        return getattr(self, who).client("eks", region_name=self.region)

    # --- the guardrail ------------------------------------------------------------------------

    def settings(
        self, org: OrgRules, *, idempotency: bool = True, slack_secret_name: str | None = None, regions: tuple[str, ...] = ()
    ) -> HandlerSettings:
        return HandlerSettings(
            org=org,
            ledger_table=self.ledger_table,
            idempotency_table=self.idempotency_table if idempotency else None,
            alert_topic_arn=self.topic_arn,
            slack_secret_name=slack_secret_name,
            own_principals=(self.guardrail_role_arn,),
            regions=regions or (self.region,),
        )

    def app(self, org: OrgRules, *, slack_post: Callable[[str, dict[str, Any]], None] | None = None, **settings: Any) -> AccessEntryApp:
        kwargs = {"slack_post": slack_post} if slack_post else {}
        return AccessEntryApp(self.settings(org, **settings), ClientFactory(self.guardrail), **kwargs)

    def iam_app(self, org: OrgRules, **settings: Any) -> IamPrincipalApp:
        return IamPrincipalApp(self.settings(org, **settings), ClientFactory(self.guardrail))

    def sweep_app(self, org: OrgRules, **settings: Any) -> SweepApp:
        return SweepApp(self.settings(org, **settings), ClientFactory(self.guardrail), account=ACCOUNT)

    # --- EventBridge delivery -----------------------------------------------------------------

    def pending_events(self) -> list[dict[str, Any]]:
        """Events the deployed rule routed to its target since the last call (and removes them)."""
        return [json.loads(body) for body in _drain(self.platform.client("sqs", region_name=self.region), self.events_queue_url)]

    def pending_iam_events(self) -> list[dict[str, Any]]:
        """IAM events the us-east-1 rule routed (what the stack forwards to the home region)."""
        return [json.loads(body) for body in _drain(self.platform.client("sqs", region_name="us-east-1"), self.iam_events_queue_url)]

    def deliver(self, app: AccessEntryApp) -> list[dict[str, Any]]:
        """Hand every routed event to the handler, in order, as Lambda would."""
        results = []
        for event in self.pending_events():
            results.append(app.handle(event, FakeLambdaContext()))
        self.handled.extend(results)
        return results

    def alerts(self) -> list[dict[str, Any]]:
        """SNS notifications published since the last call: subject, message, attributes."""
        notes = []
        for body in _drain(self.platform.client("sqs", region_name=self.region), self.alerts_queue_url):
            envelope = json.loads(body)
            notes.append(
                {
                    "subject": envelope.get("Subject"),
                    "message": envelope.get("Message"),
                    "attributes": {k: v.get("Value") for k, v in (envelope.get("MessageAttributes") or {}).items()},
                }
            )
        return notes

    def entries(self, cluster: str) -> dict[str, list[str]]:
        """principal -> associated policy names (with scope), as the platform team sees them."""
        eks = self.eks()
        view = {}
        for principal in eks.list_access_entries(clusterName=cluster)["accessEntries"]:
            entry = eks.describe_access_entry(clusterName=cluster, principalArn=principal)["accessEntry"]
            policies = []
            if entry.get("type", "STANDARD") == "STANDARD":
                for item in eks.list_associated_access_policies(clusterName=cluster, principalArn=principal)["associatedAccessPolicies"]:
                    scope = item["accessScope"]
                    where = "cluster" if scope["type"] == "cluster" else ",".join(scope.get("namespaces", []))
                    policies.append(f"{item['policyArn'].rsplit('/', 1)[-1]}@{where}")
            groups = entry.get("kubernetesGroups") or []
            view[principal] = policies + [f"group:{g}" for g in groups]
        return view


@dataclass
class FakeLambdaContext:
    """What the handler and Powertools read of a Lambda context."""

    function_name: str = "eks-guardrail-access-entry"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = f"arn:aws:lambda:eu-west-1:{ACCOUNT}:function:eks-guardrail-access-entry"
    aws_request_id: str = "00000000-0000-0000-0000-000000000000"
    timeout_ms: int = 60_000

    def get_remaining_time_in_millis(self) -> int:
        return self.timeout_ms


def _drain(sqs: Any, queue_url: str) -> list[str]:
    bodies = []
    while True:
        messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get("Messages", [])
        if not messages:
            return bodies
        for message in messages:
            bodies.append(message["Body"])
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])


def create_world(region: str = "eu-west-1") -> LocalWorld:
    """Set up the account. Call inside `eks_guardrail.local.mock_aws()`."""
    root = boto3.session.Session(region_name=region)
    iam, sts = root.client("iam"), root.client("sts")
    sessions = {}
    for name in ("Platform", "Developer", "eks-guardrail-access-entry"):
        iam.create_role(RoleName=name, AssumeRolePolicyDocument=TRUST_POLICY)
        credentials = sts.assume_role(RoleArn=f"arn:aws:iam::{ACCOUNT}:role/{name}", RoleSessionName=name.lower())["Credentials"]
        sessions[name] = _session(credentials, region)

    ddb = root.client("dynamodb")
    for table, keys in (("eks-guardrail-ledger", ("pk", "sk")), ("eks-guardrail-idempotency", ("id",))):
        ddb.create_table(
            TableName=table,
            KeySchema=[{"AttributeName": k, "KeyType": "HASH" if i == 0 else "RANGE"} for i, k in enumerate(keys)],
            AttributeDefinitions=[{"AttributeName": k, "AttributeType": "S"} for k in keys],
            BillingMode="PAY_PER_REQUEST",
        )

    sqs, sns, events = root.client("sqs"), root.client("sns"), root.client("events")
    events_queue = sqs.create_queue(QueueName="eks-guardrail-events")["QueueUrl"]
    alerts_queue = sqs.create_queue(QueueName="eks-guardrail-alerts")["QueueUrl"]
    topic_arn = sns.create_topic(Name="eks-guardrail-alerts")["TopicArn"]
    alerts_queue_arn = sqs.get_queue_attributes(QueueUrl=alerts_queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=alerts_queue_arn)
    events_queue_arn = sqs.get_queue_attributes(QueueUrl=events_queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(Name="eks-access-changes", EventPattern=json.dumps(eks_access_pattern()), State="ENABLED")
    events.put_targets(Rule="eks-access-changes", Targets=[{"Id": "handler", "Arn": events_queue_arn}])

    iam_sqs, iam_events = root.client("sqs", region_name="us-east-1"), root.client("events", region_name="us-east-1")
    iam_queue = iam_sqs.create_queue(QueueName="eks-guardrail-iam-events")["QueueUrl"]
    iam_queue_arn = iam_sqs.get_queue_attributes(QueueUrl=iam_queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    iam_events.put_rule(Name="iam-principal-changes", EventPattern=json.dumps(iam_principal_pattern()), State="ENABLED")
    iam_events.put_targets(Rule="iam-principal-changes", Targets=[{"Id": "handler", "Arn": iam_queue_arn}])

    return LocalWorld(
        region=region,
        platform=sessions["Platform"],
        attacker=sessions["Developer"],
        guardrail=sessions["eks-guardrail-access-entry"],
        guardrail_role_arn=f"arn:aws:iam::{ACCOUNT}:role/eks-guardrail-access-entry",
        events_queue_url=events_queue,
        iam_events_queue_url=iam_queue,
        alerts_queue_url=alerts_queue,
        topic_arn=topic_arn,
    )
