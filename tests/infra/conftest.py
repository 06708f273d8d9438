"""Synthesise the CDK app once per test session (cdk-nag included) and share the templates."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))  # `infra` is not an installed package
os.environ.setdefault("JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION", "1")

CONFIG = Path(__file__).parent / "guardrail.infra-test.yaml"
ACCOUNT = "111122223333"
HOME, OTHER = "eu-west-1", "eu-central-1"
HOME_STACK = f"EksGuardrail-{ACCOUNT}-{HOME}"
OTHER_STACK = f"EksGuardrail-{ACCOUNT}-{OTHER}"
FORWARDER_STACK = f"EksGuardrailIamForwarder-{ACCOUNT}"


class Synth:
    def __init__(self, outdir: Path):
        from infra.app_builder import build_app

        self.app = build_app(CONFIG, outdir=str(outdir))
        self.assembly = self.app.synth()  # raises ValidationFailed on any unacknowledged cdk-nag finding
        self.outdir = outdir
        self.stacks = {s.stack_name: s for s in self.assembly.stacks}
        self.raw = {name: json.loads((outdir / s.template_file).read_text()) for name, s in self.stacks.items()}

    def template(self, stack: str):
        from aws_cdk.assertions import Template

        return Template.from_json(self.raw[stack])

    def resources(self, stack: str, type_: str) -> dict[str, dict]:
        return {k: v for k, v in self.raw[stack]["Resources"].items() if v["Type"] == type_}


@pytest.fixture(scope="session")
def synth(tmp_path_factory) -> Synth:
    return Synth(tmp_path_factory.mktemp("cdk.out"))


@pytest.fixture(scope="session")
def org():
    from eks_guardrail.config import load_org_rules

    return load_org_rules(CONFIG)


@pytest.fixture(scope="session")
def default_synth(tmp_path_factory):
    """The example file (no `deployment` part) without credentials: account unknown, region eu-west-2 (so a forwarder)."""
    from infra.app_builder import build_app

    outdir = tmp_path_factory.mktemp("cdk.out.default")
    return build_app(ROOT / "guardrail.example.yaml", outdir=str(outdir), environ={"CDK_DEFAULT_REGION": "eu-west-2"}).synth()
