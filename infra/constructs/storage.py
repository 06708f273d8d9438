"""DynamoDB: the ledger (one global table per account) and the idempotency table (per stack)."""

from __future__ import annotations

from typing import Sequence

from aws_cdk import RemovalPolicy, Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from constructs import Construct

from .. import naming

#: What the code calls (`adapters/ledger.py`, `handlers/sweep_app.py`; Powertools idempotency).
#: Query: the sweep reads every ledger record of a cluster (protected entries that vanished unseen).
LEDGER_ACTIONS = ["dynamodb:DeleteItem", "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query"]
IDEMPOTENCY_ACTIONS = ["dynamodb:DeleteItem", "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"]


def ledger_global_table(scope: Construct, construct_id: str, *, replica_regions: Sequence[str]) -> dynamodb.TableV2:
    """The ledger, created in the home region with a replica in every other region of the account.

    The sweep (home region) records the last known good state of the entries of every region;
    each region's access-entry function reads it from its local replica. Key: `pk`, `sk` strings.
    Retained on stack deletion: it is the only memory of what to restore.
    """
    return dynamodb.TableV2(
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
        replicas=[dynamodb.ReplicaTableProps(region=region) for region in replica_regions],
    )


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
