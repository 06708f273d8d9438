"""Builds the CDK app from the org-rules file: one guardrail stack per account and region, one forwarder per account."""

from __future__ import annotations

from pathlib import Path

from aws_cdk import App, Environment, Tags

from . import naming
from .guardrail_stack import GuardrailStack
from .iam_forwarder_stack import IamForwarderStack
from .deployment_config import DEPLOYMENT_EXAMPLE, DeploymentMissing, load_for_deployment  # noqa: F401
from .nag import add_checks

def build_app(config_path: str | Path, *, app: App | None = None, outdir: str | None = None) -> App:
    """The whole app, with cdk-nag's AwsSolutions checks attached. Makes no AWS call."""
    org = load_for_deployment(config_path)
    deployment = org.deployment
    assert deployment is not None
    if app is None:
        app = App(outdir=outdir) if outdir else App()
    add_checks(app)
    for account in deployment.accounts:
        home_stack = None
        stacks = []
        for region in deployment.regions:
            home = region == deployment.home
            stack = GuardrailStack(
                app,
                naming.guardrail_stack_name(account, region),
                org=org,
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
        if deployment.home != naming.IAM_EVENTS_REGION:
            forwarder = IamForwarderStack(
                app,
                naming.forwarder_stack_name(account),
                org=org,
                env=Environment(account=account, region=naming.IAM_EVENTS_REGION),
                description=f"EKS access-entry guardrail: forwards IAM events to {deployment.home}",
            )
            forwarder.add_stack_dependency(home_stack, "events are forwarded to the home region's bus and rule")
    Tags.of(app).add("application", "eks-guardrail")
    return app
