"""Builds the CDK app from the org-rules file: one guardrail stack per account and region, one forwarder per account.

Accounts and regions come from the file's `deployment` part, or else from the current
credentials (`infra/deployment_config.py`). With `deployment.organization`, the app is instead
the administrator account's StackSets (`infra/org_stackset.py`)."""

from __future__ import annotations

from pathlib import Path
from typing import Mapping

from aws_cdk import App, Environment, Tags

from . import naming
from .guardrail_stack import GuardrailStack
from .iam_forwarder_stack import IamForwarderStack
from .deployment_config import load_for_deployment
from .nag import add_checks

#: CDK feature flags the stacks rely on, set here so that `cdk synth` and `build_app()` (tests) agree.
FEATURE_FLAGS = {
    # Server access logs are delivered under a bucket policy, not the legacy `LogDeliveryWrite`
    # ACL (cfn-lint W3045), so the logs bucket can disable ACLs (BucketOwnerEnforced).
    "@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy": True,
}


def build_app(
    config_path: str | Path, *, app: App | None = None, outdir: str | None = None, environ: Mapping[str, str] | None = None
) -> App:
    """The whole app, with cdk-nag's AwsSolutions checks attached. Makes no AWS call.

    `environ` (default: the process's) supplies CDK_DEFAULT_ACCOUNT/REGION when the file has no `deployment` part.
    """
    plan = load_for_deployment(config_path, environ)
    org, deployment = plan.org, plan.deployment
    if app is None:
        app = App(outdir=outdir) if outdir else App()
    for flag, value in FEATURE_FLAGS.items():
        app.node.set_context(flag, value)
    add_checks(app)
    if plan.organization is not None:
        from .org_stackset import build_org_stacks

        build_org_stacks(app, plan)
    for account in plan.accounts:
        home_stack = None
        stacks = []
        for region in deployment.regions:
            home = region == deployment.home
            stack = GuardrailStack(
                app,
                plan.guardrail_stack_name(account, region),
                org=org,
                deployment=deployment,
                home=home,
                env=Environment(account=account, region=region),
                description=f"EKS access-entry guardrail ({'home region' if home else 'region'} {region})",
            )
            stacks.append(stack)
            if home:
                home_stack = stack
        assert home_stack is not None
        for stack in stacks:
            if stack is not home_stack:
                # The ledger's replica in this region is created by the home stack (global table).
                stack.add_stack_dependency(home_stack, "the ledger global table and its replicas live in the home stack")
        if plan.needs_forwarder:
            forwarder = IamForwarderStack(
                app,
                plan.forwarder_stack_name(account),
                deployment=deployment,
                env=Environment(account=account, region=naming.IAM_EVENTS_REGION),
                description=f"EKS access-entry guardrail: forwards IAM events to {deployment.home}",
            )
            forwarder.add_stack_dependency(home_stack, "events are forwarded to the home region's bus and rule")
    Tags.of(app).add("application", "eks-guardrail")
    return app
