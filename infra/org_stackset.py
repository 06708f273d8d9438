"""Org-wide rollout (`deployment.organization`): the guardrail as CloudFormation StackSets, with cdklabs' cdk-stacksets.

Deployed with `cdk deploy --all` from the organization's management account or a CloudFormation
delegated administrator (the "administrator account"); the StackSets use service-managed
permissions, target the accounts of `organization.ou_ids` (nested OUs included) and deploy
automatically to accounts that join those OUs later.

Stacks in the administrator account:

- `EksGuardrailStackSets` (home region): three StackSets, each one template for every target account:
  - `eks-guardrail-home`: the home guardrail stack (`GuardrailStack`, home=True: IAM-principal
    function, sweep, ledger global table with its replicas) in the home region;
  - `eks-guardrail-regions`: the regional guardrail stack (access-entry function) in every other
    region, created after the home StackSet (the ledger's replicas come from the home stack);
  - `eks-guardrail-iam-forwarder`: the IAM-event forwarder (`IamForwarderStack`) in us-east-1
    (IAM's events reach EventBridge only there); none when the home region is us-east-1.
  The member templates are env-agnostic `StackSetStack`s: the account and region are
  `AWS::AccountId` and `AWS::Region`, so they need no parameter per account.
- `EksGuardrailStackSetAssets-<region>` (with `organization_id`; else create them yourself): the
  bucket `<prefix>-<region>`, readable by the organization only (`aws:PrincipalOrgID`). A StackSet
  instance in a region reads its Lambda code and layers from that region's bucket (Lambda takes
  code from a bucket in its own region only); cdk-stacksets copies each asset there from the CDK
  assets bucket (a `BucketDeployment` per bucket in `EksGuardrailStackSets`) before the StackSet
  is created or updated.
"""

from __future__ import annotations

from typing import Any, Sequence

from aws_cdk import App, DefaultStackSynthesizer, Environment, RemovalPolicy, Stack, Token
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from cdk_stacksets import (
    Capability,
    DeploymentType,
    OperationPreferences,
    RegionConcurrencyType,
    StackSet,
    StackSetStack,
    StackSetTarget,
    StackSetTemplate,
)
from constructs import Construct

from eks_guardrail.config import Deployment, OrgRules

from . import naming
from .deployment_config import DeploymentPlan
from .guardrail_stack import GuardrailStack
from .iam_forwarder_stack import IamForwarderStack
from .nag import acknowledge

STACK_SETS_STACK = "EksGuardrailStackSets"
#: StackSet name -> what it deploys (fixed names: `aws cloudformation list-stack-instances --stack-set-name ...`).
HOME_STACK_SET = "eks-guardrail-home"
REGIONS_STACK_SET = "eks-guardrail-regions"
FORWARDER_STACK_SET = "eks-guardrail-iam-forwarder"

#: Rollout pace: a quarter of the target accounts at a time, regions in parallel; the operation stops
#: once more than a tenth of the accounts failed (their stack instances say why).
OPERATION_PREFERENCES = OperationPreferences(
    max_concurrent_percentage=25,
    failure_tolerance_percentage=10,
    region_concurrency_type=RegionConcurrencyType.PARALLEL,
)


def assets_stack_name(region: str) -> str:
    return f"EksGuardrailStackSetAssets-{region}"


def asset_bucket_name(prefix: str, region: str) -> str:
    """What cdk-stacksets' synthesizer reads in each target region: `<prefix>-<AWS::Region>`."""
    return f"{prefix}-{region}"


class MemberGuardrailStack(GuardrailStack, StackSetStack):
    """The guardrail stack as a StackSet template: no environment, its assets in the `<prefix>-<region>` buckets.

    `GuardrailStack.__init__` passes `asset_bucket_prefix` and `asset_buckets` on to `StackSetStack`.
    """

    def __init__(self, scope: Construct, construct_id: str, *, description: str, **kwargs: Any):
        super().__init__(scope, construct_id, **kwargs)
        self.template_options.description = description


class MemberForwarderStack(IamForwarderStack, StackSetStack):
    """The IAM-event forwarder as a StackSet template (no assets)."""

    def __init__(self, scope: Construct, construct_id: str, *, description: str, **kwargs: Any):
        super().__init__(scope, construct_id, **kwargs)
        self.template_options.description = description


class StackSetAssetsStack(Stack):
    """`EksGuardrailStackSetAssets-<region>`: the bucket the member stacks of one region read their Lambda code from."""

    def __init__(self, scope: Construct, construct_id: str, *, bucket_name: str, organization_id: str, **kwargs: Any):
        super().__init__(scope, construct_id, **kwargs)
        self.bucket = s3.Bucket(
            self,
            "Bucket",
            bucket_name=bucket_name,
            encryption=s3.BucketEncryption.S3_MANAGED,  # readable across accounts without a key policy
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            enforce_ssl=True,
            versioned=True,
            removal_policy=RemovalPolicy.RETAIN,
        )
        # CloudFormation creates the functions and layers in the member accounts with its
        # StackSets execution role there; Lambda reads the code with that role's identity.
        self.bucket.add_to_resource_policy(
            iam.PolicyStatement(
                sid="OrganizationReadsCode",
                actions=["s3:GetObject"],
                resources=[self.bucket.arn_for_objects("*")],
                principals=[iam.OrganizationPrincipal(organization_id)],
            )
        )
        acknowledge(
            self.bucket,
            "AwsSolutions-S1",
            "The bucket holds copies of the guardrail's Lambda code and layers (the CDK assets, built from this "
            "repository) for StackSet instances to create their functions from; it is written only by the "
            "BucketDeployment of EksGuardrailStackSets and read under an organization-only policy. Access is "
            "audited with CloudTrail (S3 data events) where wanted; server access logs would add a logs bucket per region.",
        )


class OrganizationStackSets(Stack):
    """`EksGuardrailStackSets`: the home, regional and forwarder StackSets, and the copying of their assets."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        org: OrgRules,
        deployment: Deployment,
        asset_bucket_prefix: str,
        **kwargs: Any,
    ):
        super().__init__(scope, construct_id, **kwargs)
        organization = deployment.organization
        assert organization is not None
        self.organization = organization
        home = deployment.home
        others = [r for r in deployment.regions if r != home]
        buckets = {
            region: s3.Bucket.from_bucket_name(self, f"AssetBucket-{region}", asset_bucket_name(asset_bucket_prefix, region))
            for region in deployment.regions
        }

        self.home_member = MemberGuardrailStack(
            self,
            "HomeRegion",
            org=org,
            deployment=deployment,
            home=True,
            asset_bucket_prefix=asset_bucket_prefix,
            asset_buckets=[buckets[home]],
            description=f"EKS access-entry guardrail (home region {home}), StackSet {HOME_STACK_SET}",
        )
        self.home_stack_set = self._stack_set(HOME_STACK_SET, self.home_member, [home], "the guardrail's home region stack")
        self.stack_sets = [self.home_stack_set]

        self.regions_member: MemberGuardrailStack | None = None
        self.regions_stack_set: StackSet | None = None
        if others:
            self.regions_member = MemberGuardrailStack(
                self,
                "OtherRegions",
                org=org,
                deployment=deployment,
                home=False,
                asset_bucket_prefix=asset_bucket_prefix,
                asset_buckets=[buckets[r] for r in others],
                description=f"EKS access-entry guardrail (region), StackSet {REGIONS_STACK_SET}",
            )
            self.regions_stack_set = self._stack_set(REGIONS_STACK_SET, self.regions_member, others, "the guardrail's other regions")
            # The ledger's replicas in these regions are created by the home stack.
            self.regions_stack_set.node.add_dependency(self.home_stack_set)
            self.stack_sets.append(self.regions_stack_set)

        self.forwarder_member: MemberForwarderStack | None = None
        self.forwarder_stack_set: StackSet | None = None
        if home != naming.IAM_EVENTS_REGION:
            self.forwarder_member = MemberForwarderStack(
                self,
                "IamForwarder",
                deployment=deployment,
                description=f"EKS access-entry guardrail: forwards IAM events to {home}, StackSet {FORWARDER_STACK_SET}",
            )
            self.forwarder_stack_set = self._stack_set(
                FORWARDER_STACK_SET, self.forwarder_member, [naming.IAM_EVENTS_REGION], "IAM events from us-east-1 to the home region"
            )
            self.forwarder_stack_set.node.add_dependency(self.home_stack_set)
            self.stack_sets.append(self.forwarder_stack_set)
        self._acknowledge_asset_copying([asset_bucket_name(asset_bucket_prefix, r) for r in deployment.regions])

    def _stack_set(self, name: str, member: StackSetStack, regions: Sequence[str], what: str) -> StackSet:
        organization = self.organization
        return StackSet(
            self,
            f"StackSet-{name}",
            stack_set_name=name,
            description=f"eks-guardrail: {what}, in every account of {', '.join(organization.ou_ids)}",
            template=StackSetTemplate.from_stack_set_stack(member),
            target=StackSetTarget.from_organizational_units(organizational_units=list(organization.ou_ids), regions=list(regions)),
            deployment_type=DeploymentType.service_managed(
                delegated_admin=organization.delegated_admin,
                auto_deploy_enabled=True,
                auto_deploy_retain_stacks=organization.retain_stacks_on_account_removal,
            ),
            # The guardrail's roles have fixed names (`eks-guardrail-<function>-<region>`).
            capabilities=[Capability.NAMED_IAM],
            operation_preferences=OPERATION_PREFERENCES,
        )

    def _acknowledge_asset_copying(self, asset_bucket_names: Sequence[str]) -> None:
        """cdk-stacksets copies the assets with aws-cdk-lib's BucketDeployment: its handler's findings, acknowledged."""
        synthesizer = self.synthesizer
        qualifier = synthesizer.bootstrap_qualifier if isinstance(synthesizer, DefaultStackSynthesizer) else None
        account = "<AWS::AccountId>" if Token.is_unresolved(self.account) else self.account
        cdk_assets = f"cdk-{qualifier or DefaultStackSynthesizer.DEFAULT_QUALIFIER}-assets-{account}-{self.region}"
        handlers = [c for c in self.node.children if c.node.id.startswith("Custom::CDKBucketDeployment")]
        for handler in handlers:
            for finding in bucket_deployment_findings(cdk_assets, asset_bucket_names):
                acknowledge(handler, finding, BUCKET_DEPLOYMENT_REASON)
            acknowledge(
                handler,
                "AwsSolutions-L1",
                "The runtime of BucketDeployment's handler is aws-cdk-lib's choice (aws-cdk-lib is pinned in "
                "pyproject.toml and moves with it), not this app's; it runs only during deployments.",
            )


#: What aws-cdk-lib grants BucketDeployment's handler: read of the CDK assets bucket, read and write of the destinations.
BUCKET_DEPLOYMENT_WILDCARD_ACTIONS = ("s3:Abort*", "s3:DeleteObject*", "s3:GetBucket*", "s3:GetObject*", "s3:List*")
BUCKET_DEPLOYMENT_REASON = (
    "aws-cdk-lib's BucketDeployment handler, which cdk-stacksets uses to copy the assets (Lambda code and layers) from "
    "the CDK assets bucket to each region's asset bucket; it runs only while EksGuardrailStackSets deploys. Its role is "
    "aws-cdk-lib's: AWSLambdaBasicExecutionRole for its logs, and aws-cdk-lib's read grant (`s3:GetObject*`, "
    "`s3:GetBucket*`, `s3:List*`) on the CDK assets bucket and read-write grant on the asset buckets, objects `<bucket>/*`."
)


def bucket_deployment_findings(source_bucket: str, destination_buckets: Sequence[str]) -> list[str]:
    """The AwsSolutions findings of BucketDeployment's handler role, each acknowledged by id."""
    ids = ["AwsSolutions::AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]"]
    ids += [f"AwsSolutions::AwsSolutions-IAM5[Action::{action}]" for action in BUCKET_DEPLOYMENT_WILDCARD_ACTIONS]
    ids += [f"AwsSolutions::AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:s3:::{b}/*]" for b in (source_bucket, *destination_buckets)]
    return ids


def build_org_stacks(app: App, plan: DeploymentPlan) -> OrganizationStackSets:
    """The administrator account's stacks for `deployment.organization` (the account: the credentials', else any)."""
    organization, asset_bucket_prefix = plan.organization, plan.asset_bucket_prefix
    assert organization is not None and asset_bucket_prefix is not None
    deployment = plan.deployment
    account = plan.admin_account
    stack_sets = OrganizationStackSets(
        app,
        STACK_SETS_STACK,
        org=plan.org,
        deployment=deployment,
        asset_bucket_prefix=asset_bucket_prefix,
        env=Environment(account=account, region=deployment.home),
        description=f"EKS access-entry guardrail: StackSets to every account of {', '.join(organization.ou_ids)}",
    )
    if organization.organization_id:
        for region in deployment.regions:
            assets = StackSetAssetsStack(
                app,
                assets_stack_name(region),
                bucket_name=asset_bucket_name(asset_bucket_prefix, region),
                organization_id=organization.organization_id,
                env=Environment(account=account, region=region),
                description=f"EKS access-entry guardrail: the StackSets' Lambda code for {region}, readable by {organization.organization_id}",
            )
            stack_sets.add_stack_dependency(assets, "the assets are copied into this bucket before the StackSets are deployed")
    return stack_sets
