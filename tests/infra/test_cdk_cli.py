"""The pinned CDK CLI (package.json) reads this aws-cdk-lib's cloud assembly: `npm ci`, then `npx cdk synth`, as the README says.

Runs the repository's own cdk.json (`python3 app.py`, config guardrail.yaml) through the CLI
that `npm ci` installed, with no credentials, writing to a temporary directory.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT

CDK = ROOT / "node_modules" / ".bin" / "cdk"


def test_package_json_pins_the_cli_exactly_and_the_lock_agrees():
    pinned = json.loads((ROOT / "package.json").read_text())["devDependencies"]["aws-cdk"]
    assert pinned[0].isdigit() and all(c.isdigit() or c == "." for c in pinned), f"aws-cdk must be an exact version, got {pinned}"
    lock = json.loads((ROOT / "package-lock.json").read_text())
    assert lock["packages"]["node_modules/aws-cdk"]["version"] == pinned
    assert lock["packages"][""]["devDependencies"]["aws-cdk"] == pinned


def _cli_env(home: Path, **extra: str) -> dict[str, str]:
    return {
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",  # python3 = this environment's
        "HOME": str(home),  # no ~/.aws: no credentials, no profile
        "AWS_EC2_METADATA_DISABLED": "true",
        "CDK_DISABLE_VERSION_CHECK": "1",
        "JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION": "1",
        **extra,
    }


@pytest.fixture(scope="module")
def cli() -> Path:
    if not CDK.exists():
        pytest.fail("node_modules/.bin/cdk is missing: run `npm ci` (the README's test command does)")
    return CDK


def test_the_installed_cli_is_the_pinned_one(cli, tmp_path):
    pinned = json.loads((ROOT / "package.json").read_text())["devDependencies"]["aws-cdk"]
    result = subprocess.run([str(cli), "--version"], cwd=ROOT, env=_cli_env(tmp_path), capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[0] == pinned


def test_npx_cdk_synth_on_the_repository_as_cloned(cli, tmp_path):
    out = tmp_path / "cdk.out"
    result = subprocess.run(
        [str(cli), "synth", "--no-notices", "--quiet", "--output", str(out)],
        cwd=ROOT, env=_cli_env(tmp_path, AWS_REGION="eu-west-1"), capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]
    assert "guardrail.yaml has no `deployment` part" in result.stderr
    manifest = json.loads((out / "manifest.json").read_text())
    stacks = {n: a["environment"] for n, a in manifest["artifacts"].items() if a["type"] == "aws:cloudformation:stack"}
    assert stacks == {"EksGuardrail-eu-west-1": "aws://unknown-account/eu-west-1", "EksGuardrailIamForwarder": "aws://unknown-account/us-east-1"}
    assert (out / "EksGuardrail-eu-west-1.template.json").exists()
