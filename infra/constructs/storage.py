"""DynamoDB: the ledger (one global table per account) and the idempotency table (per stack)."""

from __future__ import annotations

from typing import Any, Sequence

import jsii
from aws_cdk import IStableAnyProducer, Lazy, RemovalPolicy, Stack, Token
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from constructs import Construct

from .. import naming

#: What the code calls (`adapters/ledger.py`, `handlers/sweep_app.py`; Powertools idempotency).
#: Query: the sweep reads every ledger record of a cluster (protected entries that vanished unseen).
#: UpdateItem: the fanned-out sweep's run record is counted by its workers (one atomic update per cluster).
LEDGER_ACTIONS = [
    "dynamodb:BatchGetItem", "dynamodb:BatchWriteItem", "dynamodb:DeleteItem", "dynamodb:GetItem", "dynamodb:PutItem",
    "dynamodb:Query", "dynamodb:UpdateItem",
]
IDEMPOTENCY_ACTIONS = ["dynamodb:DeleteItem", "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"]


def ledger_global_table(scope: Construct, construct_id: str, *, replica_regions: Sequence[str]) -> dynamodb.TableV2:
    """The ledger, created in the home region with a replica in every other region of the account.

    The sweep (home region) records the last known good state of the entries of every region;
    each region's access-entry function reads it from its local replica. Key: `pk`, `sk` strings.
    Retained on stack deletion: it is the only memory of what to restore.

    In a stack without a region (a StackSet template, deployed to the home region of every
    account), TableV2 refuses replicas: the table is made for `AWS::Region`, and the replicas are
    copies of that replica, rendered by TableV2, with the other regions (`_ReplicasIn`).
    """
    region_agnostic = Token.is_unresolved(Stack.of(scope).region)
    table = dynamodb.TableV2(
        scope,
        construct_id,
        table_name=naming.LEDGER_TABLE_NAME,
        partition_key=dynamodb.Attribute(name="pk", type=dynamodb.AttributeType.STRING),
        sort_key=dynamodb.Attribute(name="sk", type=dynamodb.AttributeType.STRING),
        billing=dynamodb.Billing.on_demand(),
        encryption=dynamodb.TableEncryptionV2.aws_managed_key(),
        point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(point_in_time_recovery_enabled=True),
        deletion_protection=True,
        removal_policy=RemovalPolicy.RETAIN,
        replicas=[] if region_agnostic else [dynamodb.ReplicaTableProps(region=region) for region in replica_regions],
    )
    if region_agnostic and replica_regions:
        resource = table.node.default_child
        assert isinstance(resource, dynamodb.CfnGlobalTable)
        resource.replicas = Lazy.any(_ReplicasIn(Stack.of(scope), resource.replicas, replica_regions))
    return table


@jsii.implements(IStableAnyProducer)
class _ReplicasIn:
    """The replicas TableV2 renders (its own region's only), each copied for `regions` as well."""

    def __init__(self, stack: Stack, rendered: Any, regions: Sequence[str]):
        self.stack = stack
        self.rendered = rendered
        self.regions = list(regions)

    def produce(self) -> Any:
        own = self.stack.resolve(self.rendered)  # L1 property names: `region`, `pointInTimeRecoverySpecification`, ...
        return own + [{**replica, "region": region} for region in self.regions for replica in own]


def ledger_arn(scope: Construct) -> str:
    """The ledger's local replica in this stack's region (the global table has the same name everywhere)."""
    stack = Stack.of(scope)
    return f"arn:aws:dynamodb:{stack.region}:{stack.account}:table/{naming.LEDGER_TABLE_NAME}"


def idempotency_table(scope: Construct, construct_id: str) -> dynamodb.Table:
    """Powertools idempotency records: key `id`, expired through TTL on `expiration`."""
    return dynamodb.Table(
        scope,
        construct_id,
        partition_key=dynamodb.Attribute(name="id", type=dynamodb.AttributeType.STRING),
        billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
        encryption=dynamodb.TableEncryption.AWS_MANAGED,
        point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(point_in_time_recovery_enabled=True),
        time_to_live_attribute="expiration",
        removal_policy=RemovalPolicy.DESTROY,
    )


def grant_ledger(scope: Construct, grantee: iam.IRole) -> None:
    grantee.add_to_principal_policy(iam.PolicyStatement(sid="Ledger", actions=LEDGER_ACTIONS, resources=[ledger_arn(scope)]))


def grant_idempotency(table: dynamodb.ITable, grantee: iam.IRole) -> None:
    grantee.add_to_principal_policy(iam.PolicyStatement(sid="Idempotency", actions=IDEMPOTENCY_ACTIONS, resources=[table.table_arn]))
