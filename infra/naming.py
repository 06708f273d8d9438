"""Names and ARNs the stacks agree on without referencing each other.

Role names are fixed so that every function can be told the ARNs of the guardrail's own roles
(`GUARDRAIL_ROLE_ARNS`, loop prevention) without a reference from a function to its own role,
and so that the functions in one region can recognise changes made by the home region's.
"""

from __future__ import annotations

from typing import Iterable

#: The region where AWS delivers IAM's CloudTrail events to EventBridge.
IAM_EVENTS_REGION = "us-east-1"

#: Metric namespace of the handlers (`handlers/reporting.py`).
METRICS_NAMESPACE = "EksGuardrail"

#: The ledger is one DynamoDB global table per account (home region + a replica in every other
#: region), so the sweep's records reach every region's access-entry function.
LEDGER_TABLE_NAME = "eks-guardrail-ledger"

#: The sweep's fan-out (home region): one message per cluster, and the clusters that kept failing.
SWEEP_QUEUE_NAME = "eks-guardrail-sweep"
SWEEP_DEAD_LETTER_QUEUE_NAME = "eks-guardrail-sweep-dlq"


def guardrail_stack_name(account: str, region: str) -> str:
    return f"EksGuardrail-{account}-{region}"


def forwarder_stack_name(account: str) -> str:
    return f"EksGuardrailIamForwarder-{account}"


def role_name(function: str, region: str) -> str:
    """`eks-guardrail-access-entry-eu-west-1`: IAM role names are global to the account, hence the region."""
    return f"eks-guardrail-{function}-{region}"


def role_arn(account: str, function: str, region: str) -> str:
    return f"arn:aws:iam::{account}:role/{role_name(function, region)}"


#: The functions of the home region only (the access-entry function runs in every region).
HOME_FUNCTIONS = ("iam-principal", "sweep", "sweep-worker")


def own_role_arns(account: str, regions: Iterable[str], home: str) -> list[str]:
    """Every execution role of the guardrail in one account: access-entry per region, IAM-principal, sweep and sweep worker at home."""
    arns = [role_arn(account, "access-entry", region) for region in regions]
    arns += [role_arn(account, function, home) for function in HOME_FUNCTIONS]
    return arns


def default_bus_arn(account: str, region: str) -> str:
    return f"arn:aws:events:{region}:{account}:event-bus/default"
