"""`python app.py`: config errors as the CLI prints them, no AWS call at synth, config too big for the environment."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import CONFIG, ROOT


def run_app(tmp_path: Path, config: Path | str, **environ: str) -> subprocess.CompletedProcess:
    env = {
        **environ,
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path),  # no ~/.aws
        "CDK_OUTDIR": str(tmp_path / "cdk.out"),
        "CDK_CONTEXT_JSON": json.dumps({"config": str(config)}),
        # Any AWS call would go to a closed port and fail; there are no credentials either.
        "AWS_ENDPOINT_URL": "http://127.0.0.1:9",
        "AWS_EC2_METADATA_DISABLED": "true",
        "JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION": "1",
    }
    return subprocess.run([sys.executable, str(ROOT / "app.py")], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)


def test_bad_config_fails_synth_with_the_cli_error(tmp_path):
    bad = tmp_path / "guardrail.yaml"
    bad.write_text("rules:\n  admin-polcy: {action: alert}\n")
    result = run_app(tmp_path, bad)
    assert result.returncode == 2
    assert f"eks-guardrail: {bad}: invalid org-rules configuration:" in result.stderr
    assert "rules.admin-polcy: unknown key" in result.stderr
    assert not (tmp_path / "cdk.out" / "manifest.json").exists()


def _manifest(out: Path) -> dict:
    return json.loads((out / "manifest.json").read_text())["artifacts"]


def test_without_deployment_part_one_stack_goes_to_the_current_credentials_and_the_app_says_so(tmp_path):
    result = run_app(tmp_path, ROOT / "guardrail.example.yaml", CDK_DEFAULT_ACCOUNT="444455556666", CDK_DEFAULT_REGION="eu-west-2")
    assert result.returncode == 0, result.stderr[-3000:]
    assert (
        "has no `deployment` part: one guardrail for account 444455556666, region eu-west-2 (the home region): "
        "EksGuardrail-444455556666-eu-west-2, EksGuardrailIamForwarder-444455556666 in us-east-1, for IAM's events"
    ) in result.stderr
    artifacts = _manifest(tmp_path / "cdk.out")
    stacks = {name: a["environment"] for name, a in artifacts.items() if a["type"] == "aws:cloudformation:stack"}
    assert stacks == {
        "EksGuardrail-444455556666-eu-west-2": "aws://444455556666/eu-west-2",
        "EksGuardrailIamForwarder-444455556666": "aws://444455556666/us-east-1",
    }
    template = json.loads((tmp_path / "cdk.out" / "EksGuardrail-444455556666-eu-west-2.template.json").read_text())
    handlers = {r["Properties"]["Handler"] for r in template["Resources"].values() if r["Type"] == "AWS::Lambda::Function"}
    assert handlers == {f"eks_guardrail.handlers.{h}.handler" for h in ("access_entry", "iam_principal", "sweep", "sweep_worker")}  # home region
    env = next(r["Properties"]["Environment"]["Variables"] for r in template["Resources"].values() if r["Type"] == "AWS::Lambda::Function")
    assert "arn:aws:iam::444455556666:role/eks-guardrail-access-entry-eu-west-2" in env["GUARDRAIL_ROLE_ARNS"]


def test_without_credentials_the_default_stack_is_synthesised_for_whichever_account_deploys_it(tmp_path):
    result = run_app(tmp_path, ROOT / "guardrail.example.yaml", CDK_DEFAULT_REGION="us-east-1")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "one guardrail for the account of the credentials that deploy it (none found now), region us-east-1" in result.stderr
    stacks = {n: a["environment"] for n, a in _manifest(tmp_path / "cdk.out").items() if a["type"] == "aws:cloudformation:stack"}
    assert stacks == {"EksGuardrail-us-east-1": "aws://unknown-account/us-east-1"}  # home us-east-1: no forwarder
    template = json.loads((tmp_path / "cdk.out" / "EksGuardrail-us-east-1.template.json").read_text())
    env = next(r["Properties"]["Environment"]["Variables"] for r in template["Resources"].values() if r["Type"] == "AWS::Lambda::Function")
    own_roles = json.dumps(env["GUARDRAIL_ROLE_ARNS"])  # resolved at deploy time: the deploying account's roles
    assert '"Fn::Join"' in own_roles and '{"Ref": "AWS::AccountId"}' in own_roles


def test_without_any_region_configured_the_app_falls_back_as_the_cdk_cli_does():
    from eks_guardrail.config import load_org_rules
    from infra.deployment_config import plan_deployment

    org = load_org_rules(ROOT / "guardrail.example.yaml")
    for environ, region in (
        ({"AWS_REGION": "ap-southeast-2", "AWS_DEFAULT_REGION": "eu-north-1"}, "ap-southeast-2"),
        ({"AWS_DEFAULT_REGION": "eu-north-1"}, "eu-north-1"),
        ({}, "us-east-1"),
        ({"CDK_DEFAULT_REGION": "sa-east-1", "AWS_REGION": "ap-southeast-2"}, "sa-east-1"),
    ):
        plan = plan_deployment(org, "g.yaml", environ)
        assert plan.deployment.regions == (region,) and plan.deployment.home == region, environ
        assert plan.accounts == (None,) and plan.guardrail_stack_name(None, region) == f"EksGuardrail-{region}"
        assert plan.needs_forwarder == (region != "us-east-1")


def test_a_malformed_default_account_stops_synthesis(tmp_path):
    result = run_app(tmp_path, ROOT / "guardrail.example.yaml", CDK_DEFAULT_ACCOUNT="not-an-account")
    assert result.returncode == 2
    assert "CDK_DEFAULT_ACCOUNT: expected a 12-digit account id, got 'not-an-account'" in result.stderr


def test_an_explicit_deployment_part_is_not_overridden_by_the_credentials():
    from eks_guardrail.config import load_org_rules
    from infra.deployment_config import plan_deployment

    plan = plan_deployment(load_org_rules(CONFIG), "g.yaml", {"CDK_DEFAULT_ACCOUNT": "444455556666", "CDK_DEFAULT_REGION": "us-west-2"})
    assert plan.accounts == ("111122223333",) and plan.deployment.regions == ("eu-west-1", "eu-central-1")
    assert not plan.from_credentials and plan.notice() is None


def test_synth_offline_without_credentials(tmp_path):
    result = run_app(tmp_path, CONFIG)
    assert result.returncode == 0, result.stderr[-3000:]
    out = tmp_path / "cdk.out"
    assert (out / "EksGuardrail-111122223333-eu-west-1.template.json").exists()
    assert (out / "EksGuardrailIamForwarder-111122223333.template.json").exists()
    assert "context lookups" not in result.stderr.lower()


def test_config_too_big_for_the_environment_ships_as_a_layer(tmp_path):
    from infra.app_builder import build_app
    from infra.guardrail_stack import CONFIG_FILE_IN_LAYER

    principals = ", ".join(f'"arn:aws:iam::*:role/break-glass-{i:03d}"' for i in range(150))
    config = tmp_path / "big.yaml"
    config.write_text(
        f"exemptions: {{principals: [{principals}]}}\n"
        'deployment: {accounts: ["111122223333"], regions: [eu-west-1]}\n'
    )
    assembly = build_app(config, outdir=str(tmp_path / "out")).synth()
    (stack,) = [s for s in assembly.stacks if s.stack_name.startswith("EksGuardrail-")]
    template = stack.template
    layers = {k: v for k, v in template["Resources"].items() if v["Type"] == "AWS::Lambda::LayerVersion"}
    (layer_id,) = [k for k in layers if k.startswith("ConfigLayer")]
    (config_file,) = (tmp_path / "out").glob("asset.*/eks-guardrail/config.json")
    from eks_guardrail.config import load_org_rules

    assert json.loads(config_file.read_text()) == load_org_rules(config).handler_config()
    for resource in template["Resources"].values():
        if resource["Type"] == "AWS::Lambda::Function":
            env = resource["Properties"]["Environment"]["Variables"]
            assert "GUARDRAIL_CONFIG" not in env and env["GUARDRAIL_CONFIG_FILE"] == CONFIG_FILE_IN_LAYER
            assert {"Ref": layer_id} in resource["Properties"]["Layers"]


def test_app_run_by_a_python_without_the_cdk_switches_to_the_project_venv(tmp_path):
    """`npx cdk synth` runs `python3 app.py`; outside the activated venv that is a Python without aws-cdk-lib."""
    base = Path(sys.base_prefix) / "bin" / "python3"
    if Path(sys.prefix).resolve() != (ROOT / ".venv").resolve() or not base.exists():
        pytest.skip("the suite runs outside the project's .venv (the README's test command uses it)")
    probe = subprocess.run([str(base), "-c", "import aws_cdk"], capture_output=True)
    if probe.returncode == 0:
        pytest.skip(f"{base} has aws-cdk-lib itself")
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "CDK_OUTDIR": str(tmp_path / "cdk.out"),
           "CDK_CONTEXT_JSON": json.dumps({"config": str(ROOT / "guardrail.yaml")}), "AWS_EC2_METADATA_DISABLED": "true",
           "CDK_DEFAULT_REGION": "eu-west-1"}
    result = subprocess.run([str(base), str(ROOT / "app.py")], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert (tmp_path / "cdk.out" / "EksGuardrail-eu-west-1.template.json").exists()
    # No venv to switch to: a clear instruction, not a traceback.
    lone = tmp_path / "lone"
    lone.mkdir()
    (lone / "app.py").write_text((ROOT / "app.py").read_text())
    result = subprocess.run([str(base), str(lone / "app.py")], cwd=lone, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and "has no aws-cdk-lib: python3 -m venv .venv && .venv/bin/pip install -e '.[cdk]'" in result.stderr
    assert "Traceback" not in result.stderr
