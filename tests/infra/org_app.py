"""The org-wide app (`deployment.organization`), synthesised once per test session and shared by its tests.

A module rather than a fixture in conftest.py: `test_stacksets.py` and `test_cfn_lint.py` both
call `org_synth()` (cached), each variant of the file synthesising once.
"""

from __future__ import annotations

import atexit
import functools
import json
import shutil
import tempfile
from pathlib import Path
from typing import Mapping

ORG_CONFIG = Path(__file__).parent / "guardrail.org-test.yaml"
#: The administrator account (management or delegated administrator) whose credentials synthesise.
ADMIN_ACCOUNT = "999988887777"
OU_IDS = ["ou-ab12-11111111", "ou-ab12-22222222"]
HOME, OTHERS = "eu-west-1", ["eu-central-1", "us-west-2"]
ORGANIZATION_ID = "o-a1b2c3d4e5"
PREFIX = f"eks-guardrail-assets-{ADMIN_ACCOUNT}"
CENTRAL_TOPIC = "arn:aws:sns:eu-west-1:999988887777:eks-guardrail-alerts"
CENTRAL_KEY = "arn:aws:kms:eu-west-1:999988887777:key/1234abcd-12ab-34cd-56ef-1234567890ab"

#: The variant: from the management account (no delegated admin), home us-east-1 only (so no
#: other regions and no forwarder), buckets made by hand, no central topic, no credentials.
VARIANT_CONFIG = """\
deployment:
  organization:
    ou_ids: [r-ab12]
    regions: [us-east-1]
    asset_bucket_prefix: acme-guardrail-assets
    delegated_admin: false
    retain_stacks_on_account_removal: true
"""


class OrgSynth:
    def __init__(self, config: Path, environ: Mapping[str, str]):
        from infra.app_builder import build_app
        from infra.org_stackset import STACK_SETS_STACK, OrganizationStackSets

        self.outdir = Path(tempfile.mkdtemp(prefix="eks-guardrail-org-cdk.out-"))
        atexit.register(shutil.rmtree, self.outdir, True)
        self.app = build_app(config, outdir=str(self.outdir), environ=environ)
        self.assembly = self.app.synth()  # raises ValidationFailed on any unacknowledged cdk-nag finding
        self.stacks = {s.stack_name: s for s in self.assembly.stacks}
        self.raw = {name: json.loads((self.outdir / s.template_file).read_text()) for name, s in self.stacks.items()}
        stack_sets = self.app.node.find_child(STACK_SETS_STACK)
        assert isinstance(stack_sets, OrganizationStackSets)
        self.stack_sets = stack_sets
        #: StackSet name -> its member template (the StackSetStack's template, an asset of EksGuardrailStackSets).
        self.members: dict[str, dict] = {}
        self.member_files: dict[str, Path] = {}
        for name, member in (
            ("eks-guardrail-home", stack_sets.home_member),
            ("eks-guardrail-regions", stack_sets.regions_member),
            ("eks-guardrail-iam-forwarder", stack_sets.forwarder_member),
        ):
            if member is not None:
                self.member_files[name] = self.outdir / member.template_file
                self.members[name] = json.loads(self.member_files[name].read_text())

    def resources(self, template: dict, type_: str) -> dict[str, dict]:
        return {k: v for k, v in template["Resources"].items() if v["Type"] == type_}

    def stack_set_resources(self) -> dict[str, dict]:
        """StackSet name -> its AWS::CloudFormation::StackSet resource (with DependsOn)."""
        found = self.resources(self.raw["EksGuardrailStackSets"], "AWS::CloudFormation::StackSet")
        return {r["Properties"]["StackSetName"]: r for r in found.values()}


@functools.cache
def org_synth() -> OrgSynth:
    return OrgSynth(ORG_CONFIG, {"CDK_DEFAULT_ACCOUNT": ADMIN_ACCOUNT})


@functools.cache
def variant_synth() -> OrgSynth:
    directory = Path(tempfile.mkdtemp(prefix="eks-guardrail-org-variant-"))
    atexit.register(shutil.rmtree, directory, True)
    config = directory / "guardrail.yaml"
    config.write_text(VARIANT_CONFIG)
    return OrgSynth(config, {})
