"""`python app.py`: config errors as the CLI prints them, no AWS call at synth, config too big for the environment."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from conftest import CONFIG, ROOT


def run_app(tmp_path: Path, config: Path | str) -> subprocess.CompletedProcess:
    env = {
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


def test_missing_deployment_part_says_what_to_add(tmp_path):
    result = run_app(tmp_path, ROOT / "guardrail.example.yaml")
    assert result.returncode == 2
    assert "deployment: missing" in result.stderr
    for key in ("accounts:", "regions:", "home_region:", "alert_emails:", "slack_secret_name:", "chatbot_slack:", "sweep_schedule:", "create_trail:"):
        assert key in result.stderr


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
