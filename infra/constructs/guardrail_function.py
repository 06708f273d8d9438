"""One guardrail Lambda function: its role (fixed name), log group, code, layers, environment and permissions."""

from __future__ import annotations

import functools
import shutil
from pathlib import Path
from typing import Mapping, Sequence

from aws_cdk import Duration, RemovalPolicy, Stack, Token
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_destinations as destinations
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from eks_guardrail.permissions import eks_permissions, iam_permissions

from .. import naming
from ..bytecode import compile_for_runtime
from ..lambda_layer import staging_directory
from ..nag import acknowledge

#: The Lambda code: `functions/` as is (stdlib, the runtime's boto3 and the dependencies layer's packages only).
FUNCTIONS_DIR = Path(__file__).resolve().parents[2] / "functions"
CODE_EXCLUDES = [
    "**/__pycache__", "*.egg-info", "**/*.pyc",
    # offline and command-line only: the emulator, the demo, the aws-auth migration, the SCP generator, the IaC checks
    "eks_guardrail/local", "eks_guardrail/demo", "eks_guardrail/migration", "eks_guardrail/scp", "eks_guardrail/iac",
]

#: The sweep's memory (MB), the sweep worker's as well.
SWEEP_MEMORY = 512

#: Function id -> (handler module, memory MB, timeout).
SPECS: dict[str, tuple[str, int, Duration]] = {
    "access-entry": ("eks_guardrail.handlers.access_entry.handler", 256, Duration.seconds(60)),
    "iam-principal": ("eks_guardrail.handlers.iam_principal.handler", 256, Duration.minutes(5)),
    # The scheduled run: lists the clusters of every region and sends one message per cluster to the sweep queue.
    "sweep": ("eks_guardrail.handlers.sweep.handler", SWEEP_MEMORY, Duration.minutes(15)),
    # One cluster per message of the sweep queue (SQS event source).
    "sweep-worker": ("eks_guardrail.handlers.sweep_worker.handler", SWEEP_MEMORY, Duration.minutes(10)),
}

#: Function id -> the function whose declared permissions (`eks_guardrail.permissions`) it is granted, when not its own:
#: the sweep worker sweeps a cluster as the sweep did (reads, reconciling writes, IAM reads).
PERMISSIONS_OF = {"sweep-worker": "sweep"}


def permissions_of(function: str) -> str:
    return PERMISSIONS_OF.get(function, function)

#: EKS actions without resource-level permissions (the only ones granted on `*`).
EKS_ACCOUNT_LEVEL = frozenset({"eks:ListClusters"})
#: Policy association calls also name the AWS access policy as a resource.
EKS_POLICY_ACTIONS = frozenset({"eks:AssociateAccessPolicy", "eks:DisassociateAccessPolicy"})
ACCESS_POLICY_ARN = "arn:aws:eks::aws:cluster-access-policy/*"


def function_code() -> lambda_.Code:
    return lambda_.Code.from_asset(str(staged_code()))


@functools.cache
def staged_code() -> Path:
    """`functions/` without what `CODE_EXCLUDES` names, compiled for the runtime (`infra/bytecode.py`)."""
    directory = staging_directory("eks-guardrail-code-")
    left_out = {FUNCTIONS_DIR / pattern for pattern in CODE_EXCLUDES if "*" not in pattern}

    def ignore(folder: str, names: list[str]) -> set[str]:
        return {
            name for name in names
            if name == "__pycache__" or name.endswith((".egg-info", ".pyc")) or Path(folder, name) in left_out
        }

    shutil.copytree(FUNCTIONS_DIR, directory, ignore=ignore, dirs_exist_ok=True)
    compile_for_runtime(directory)
    return directory


def eks_resources(account: str, regions: Sequence[str]) -> list[str]:
    """The account's clusters and access entries in `regions`."""
    arns: list[str] = []
    for region in regions:
        arns += [f"arn:aws:eks:{region}:{account}:cluster/*", f"arn:aws:eks:{region}:{account}:access-entry/*"]
    return arns


def eks_statements(function: str, account: str, regions: Sequence[str]) -> list[iam.PolicyStatement]:
    """Exactly the EKS actions the function's code declares (`permissions.py`), on the account's ARNs."""
    declared = eks_permissions(permissions_of(function))
    resources = eks_resources(account, regions)
    statements = []
    scoped_reads = sorted(declared["read"] - EKS_ACCOUNT_LEVEL)
    if scoped_reads:
        statements.append(iam.PolicyStatement(sid="EksReads", actions=scoped_reads, resources=resources))
    account_reads = sorted(declared["read"] & EKS_ACCOUNT_LEVEL)
    if account_reads:
        statements.append(iam.PolicyStatement(sid="EksListClusters", actions=account_reads, resources=["*"]))
    writes = sorted(declared["write"] - EKS_POLICY_ACTIONS)
    if writes:
        statements.append(iam.PolicyStatement(sid="EksRollbackWrites", actions=writes, resources=resources))
    policy_writes = sorted(declared["write"] & EKS_POLICY_ACTIONS)
    if policy_writes:
        statements.append(
            iam.PolicyStatement(sid="EksPolicyAssociations", actions=policy_writes, resources=resources + [ACCESS_POLICY_ARN])
        )
    return statements


def iam_statements(function: str, account: str) -> list[iam.PolicyStatement]:
    actions = iam_permissions(permissions_of(function))
    resource_of = {"iam:GetRole": f"arn:aws:iam::{account}:role/*", "iam:GetUser": f"arn:aws:iam::{account}:user/*"}
    if not actions:
        return []
    return [iam.PolicyStatement(sid="IamPrincipalReads", actions=sorted(actions), resources=sorted({resource_of[a] for a in actions}))]


IAM5_REASON = (
    "Resource patterns, never action wildcards on EKS: the guardrail watches every cluster of the account, including "
    "clusters created after deployment (`cluster/*`, `access-entry/*`), associates AWS's access policies "
    "(`cluster-access-policy/*`), reads any IAM role or user of the account (`role/*`, `user/*`); eks:ListClusters "
    "has no resource-level permission (`*`); kms:GenerateDataKey* is CDK's grant for publishing to the "
    "KMS-encrypted alert topic, on that key only."
)


def iam5_findings(function: str, account: str, regions: Sequence[str]) -> list[str]:
    """The AwsSolutions-IAM5 findings this function's policy is expected to raise (each acknowledged by id).

    An account only known at deploy time (no credentials at synthesis) appears in cdk-nag's
    finding ids as `<AWS::AccountId>`; a region only known at deploy time (a StackSet template)
    as `<AWS::Region>`.
    """
    if Token.is_unresolved(account):
        account = "<AWS::AccountId>"
    regions = ["<AWS::Region>" if Token.is_unresolved(region) else region for region in regions]
    resources = {r for s in eks_statements(function, account, regions) + iam_statements(function, account) for r in s.resources}
    ids = [f"AwsSolutions::AwsSolutions-IAM5[Resource::{r}]" for r in sorted(resources) if "*" in r]
    ids.append("AwsSolutions::AwsSolutions-IAM5[Action::kms:GenerateDataKey*]")
    return ids


class GuardrailFunction(Construct):
    """A handler of `SPECS`, with exactly the permissions its code declares.

    `asynchronous`: invoked asynchronously (EventBridge): Lambda retries twice, then the event goes to
    `failure_queue`. False for a function polled from a queue (its queue has its own dead-letter queue).
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        function: str,
        environment: Mapping[str, str],
        layers: Sequence[lambda_.ILayerVersion],
        code: lambda_.Code,
        failure_queue: sqs.IQueue,
        regions: Sequence[str],
        tracing: bool = False,
        asynchronous: bool = True,
    ):
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        account, region = stack.account, stack.region
        handler, memory, timeout = SPECS[function]
        self.function_id = function

        self.role = iam.Role(
            self,
            "Role",
            role_name=naming.role_name(function, region),
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"eks-guardrail {function} handler in {region}",
        )
        self.log_group = logs.LogGroup(
            self, "Logs", retention=logs.RetentionDays.ONE_YEAR, removal_policy=RemovalPolicy.DESTROY
        )
        invocation = (
            dict(retry_attempts=2, max_event_age=Duration.hours(6), on_failure=destinations.SqsDestination(failure_queue))
            if asynchronous
            else {}
        )
        self.function = lambda_.Function(
            self,
            "Function",
            description=f"eks-guardrail {function} handler",
            runtime=lambda_.Runtime.PYTHON_3_13,
            architecture=lambda_.Architecture.ARM_64,
            handler=handler,
            code=code,
            layers=list(layers),
            memory_size=memory,
            timeout=timeout,
            role=self.role,
            log_group=self.log_group,
            environment=dict(environment),
            **invocation,
            tracing=lambda_.Tracing.ACTIVE if tracing else lambda_.Tracing.DISABLED,
        )
        self.log_group.grant_write(self.role)
        for statement in eks_statements(function, account, regions) + iam_statements(function, account):
            self.role.add_to_principal_policy(statement)

        acknowledge(
            self.function,
            "AwsSolutions-L1",
            "python3.13 is pinned on purpose: the dependencies layer's environment markers are evaluated for it "
            "(infra/lambda_layer.py) and a CDK upgrade must not move the runtime unreviewed; move both together.",
        )
        for finding in iam5_findings(function, account, regions):
            acknowledge(self.role, finding, IAM5_REASON)
        if tracing:
            acknowledge(
                self.role,
                "AwsSolutions::AwsSolutions-IAM5[Resource::*]",
                "X-Ray's PutTraceSegments and PutTelemetryRecords have no resource-level permissions; "
                "CDK grants them on `*` for active tracing (deployment.tracing: true).",
            )
