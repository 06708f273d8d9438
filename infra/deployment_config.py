"""Loading the org-rules file for deployment: it must have a `deployment` part. No CDK import here (fast failure)."""

from __future__ import annotations

from pathlib import Path

from eks_guardrail.config import ConfigError, OrgRules, load_org_rules

DEPLOYMENT_EXAMPLE = """\
deployment:
  accounts: ["111122223333"]          # quoted 12-digit account ids: one guardrail per account...
  regions: [eu-west-1, eu-central-1]  # ...and region with clusters
  home_region: eu-west-1              # IAM-principal handler, sweep, ledger (default: first region)
  alert_emails: [platform-oncall@example.com]
  slack_secret_name: eks-guardrail/slack-webhook   # optional, the secret must exist in every region
  chatbot_slack: {slack_workspace_id: T0123ABCD, slack_channel_id: C0123ABCD}  # optional
  sweep_schedule: rate(1 hour)
  create_trail: false                 # true for accounts without a trail recording management events"""


class DeploymentMissing(ConfigError):
    def __init__(self, source: str):
        super().__init__(source, [f"deployment: missing; `cdk deploy` needs to know where to deploy. Add for example:\n{DEPLOYMENT_EXAMPLE}"])


def load_for_deployment(config_path: str | Path) -> OrgRules:
    """The validated org rules, which must have a `deployment` part (raises `ConfigError`)."""
    org = load_org_rules(config_path)
    if org.deployment is None:
        raise DeploymentMissing(str(config_path))
    return org
