"""Where the app deploys: the org-rules file's `deployment` part, or else the current credentials'. No CDK import here.

With a `deployment` part, one guardrail stack per listed account and region (`accounts`), or
StackSets to the accounts of organizational units (`organization`, see `infra/org_stackset.py`).
Without one, as
every CDK app does, one stack in the account and region the CDK CLI found for the current
credentials (`CDK_DEFAULT_ACCOUNT`, `CDK_DEFAULT_REGION`), that region being the home region.
Without credentials the account is unknown: the stacks are synthesised for whichever account
deploys them (`AWS::AccountId`), so `cdk synth` still works offline. The region falls back as
the CDK CLI's does: `AWS_REGION`, `AWS_DEFAULT_REGION`, then us-east-1.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

from eks_guardrail.config import ConfigError, Deployment, OrgRules, Organization, load_org_rules

from . import naming

#: The CDK CLI's own last resort when no region is configured.
CDK_FALLBACK_REGION = "us-east-1"

ACCOUNT_ID = re.compile(r"^\d{12}$")
REGION_NAME = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d{1,2}$")


@dataclass(frozen=True)
class DeploymentPlan:
    """The deployment the app builds, and where it came from."""

    org: OrgRules
    deployment: Deployment
    #: One entry per account; None = the account of the credentials that deploy (unknown at synthesis).
    accounts: tuple[str | None, ...]
    #: True when there was no `deployment` part: the current credentials' account and region.
    from_credentials: bool
    source: str
    #: `organization` only: the management or delegated administrator account (the credentials'; None = unknown).
    admin_account: str | None = None
    #: `organization` only: the member stacks read their Lambda code from the buckets `<prefix>-<region>`.
    asset_bucket_prefix: str | None = None

    def guardrail_stack_name(self, account: str | None, region: str) -> str:
        return naming.guardrail_stack_name(account, region) if account else f"EksGuardrail-{region}"

    def forwarder_stack_name(self, account: str | None) -> str:
        return naming.forwarder_stack_name(account) if account else "EksGuardrailIamForwarder"

    @property
    def organization(self) -> Organization | None:
        """The org-wide rollout (StackSets), when the file's `deployment` has `organization`."""
        return self.deployment.organization

    @property
    def needs_forwarder(self) -> bool:
        return self.deployment.home != naming.IAM_EVENTS_REGION

    def notice(self) -> str | None:
        """What the app says when it chose the target itself (printed on standard error by `app.py`)."""
        if not self.from_credentials:
            return None
        (account,) = self.accounts
        region = self.deployment.home
        where = f"account {account}" if account else "the account of the credentials that deploy it (none found now)"
        stacks = [self.guardrail_stack_name(account, region)]
        if self.needs_forwarder:
            stacks.append(f"{self.forwarder_stack_name(account)} in {naming.IAM_EVENTS_REGION}, for IAM's events")
        return (
            f"eks-guardrail: {self.source} has no `deployment` part: one guardrail for {where}, region {region} "
            f"(the home region): {', '.join(stacks)}. Add a `deployment` part to choose accounts and regions."
        )


@dataclass(frozen=True)
class CredentialsDeployment(Deployment):
    """No `deployment` part: the credentials' account, possibly unknown at synthesis, so no account may be listed."""

    def _check_targets(self) -> None:
        pass


class DeploymentEnvironmentError(ConfigError):
    def __init__(self, source: str, problem: str):
        super().__init__(source, [problem])


def load_for_deployment(config_path: str | Path, environ: Mapping[str, str] | None = None) -> DeploymentPlan:
    """The validated org rules' deployment plan (raises `ConfigError`)."""
    org = load_org_rules(config_path)
    return plan_deployment(org, str(config_path), os.environ if environ is None else environ)


def _credentials_account(source: str, environ: Mapping[str, str]) -> str | None:
    account = environ.get("CDK_DEFAULT_ACCOUNT") or None
    if account is not None and not ACCOUNT_ID.match(account):
        raise DeploymentEnvironmentError(source, f"CDK_DEFAULT_ACCOUNT: expected a 12-digit account id, got {account!r}")
    return account


#: S3's limit on a bucket name.
BUCKET_NAME_MAX = 63


def _organization_plan(org: OrgRules, source: str, environ: Mapping[str, str]) -> DeploymentPlan:
    """StackSets from the administrator account: the credentials' account, which also names the asset buckets by default."""
    deployment = org.deployment
    assert deployment is not None and deployment.organization is not None
    admin = _credentials_account(source, environ)
    prefix = deployment.organization.asset_bucket_prefix or (f"eks-guardrail-assets-{admin}" if admin else None)
    if prefix is None:
        raise DeploymentEnvironmentError(
            source,
            "deployment.organization.asset_bucket_prefix: required when the administrator account is unknown "
            "(no credentials: CDK_DEFAULT_ACCOUNT unset); the member stacks read their Lambda code from the "
            "buckets <prefix>-<region>, named at synthesis",
        )
    longest = max(deployment.regions, key=len)
    if len(f"{prefix}-{longest}") > BUCKET_NAME_MAX:
        raise DeploymentEnvironmentError(
            source, f"deployment.organization.asset_bucket_prefix: {prefix}-{longest} is longer than S3's {BUCKET_NAME_MAX} characters"
        )
    return DeploymentPlan(org, deployment, (), from_credentials=False, source=source, admin_account=admin, asset_bucket_prefix=prefix)


def plan_deployment(org: OrgRules, source: str, environ: Mapping[str, str]) -> DeploymentPlan:
    if org.deployment is not None and org.deployment.organization is not None:
        return _organization_plan(org, source, environ)
    if org.deployment is not None:
        return DeploymentPlan(org, org.deployment, tuple(org.deployment.accounts), from_credentials=False, source=source)
    account = _credentials_account(source, environ)
    region = next(
        (environ[k] for k in ("CDK_DEFAULT_REGION", "AWS_REGION", "AWS_DEFAULT_REGION") if environ.get(k)), CDK_FALLBACK_REGION
    )
    if not REGION_NAME.match(region):
        raise DeploymentEnvironmentError(source, f"region {region!r} (from CDK_DEFAULT_REGION or AWS_REGION): not a region name")
    deployment = CredentialsDeployment(accounts=(account,) if account else (), regions=(region,))
    return DeploymentPlan(org, deployment, (account,), from_credentials=True, source=source)
