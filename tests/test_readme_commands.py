"""The README's contracts with CI and with the user: its test command is what `.ci/run` runs; its quoted messages are real."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def _first_bash_blocks(n: int) -> list[str]:
    return [b.strip() for b in re.findall(r"```bash\n(.*?)```", README, re.S)[:n]]


def test_ci_runs_the_readme_test_command():
    demo, tests = _first_bash_blocks(2)
    assert "eks-guardrail demo" in demo and "pytest" in tests and "npm ci" in tests
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert tests in ci.splitlines()


def test_the_readme_drift_message_is_the_one_synthesis_prints():
    import sys

    sys.path.insert(0, str(ROOT))
    from infra.lambda_layer import LayerDistribution, LayerDriftError, check_pinned

    block = re.search(r"```\n(eks-guardrail: the Lambda layer would not be what the tests ran:.*?)```", README, re.S).group(1)
    installed = re.search(r"pins (\S+) but (\S+) is installed", block)
    try:
        check_pinned([LayerDistribution("aws-lambda-powertools", installed.group(2), "")], {"aws-lambda-powertools": installed.group(1)})
    except LayerDriftError as error:
        assert f"eks-guardrail: {error}\n" == block
    else:
        raise AssertionError("check_pinned accepted a drifted pin")


def test_the_readme_default_deployment_notice_is_the_one_the_app_prints():
    import sys

    sys.path.insert(0, str(ROOT))
    from eks_guardrail.config import load_org_rules
    from infra.deployment_config import plan_deployment

    quoted = re.search(r"```\n(eks-guardrail: guardrail.yaml has no `deployment` part:.*?)\n```", README, re.S).group(1)
    plan = plan_deployment(load_org_rules(ROOT / "guardrail.yaml"), "guardrail.yaml", {"CDK_DEFAULT_ACCOUNT": "111122223333", "CDK_DEFAULT_REGION": "eu-west-1"})
    assert plan.notice() == quoted
