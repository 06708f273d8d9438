"""The org-wide rollout (`deployment.organization`): StackSets, their targets and auto-deployment, the member templates.

Synthesised once (`org_app.py`): two OUs, three regions (home eu-west-1), a delegated
administrator, the organization id (so the asset buckets are the app's), a central alert topic.
A variant covers the management account, a single us-east-1 region, buckets made by hand, no
central topic and no credentials.
"""

from __future__ import annotations

import json
import re

import pytest

from eks_guardrail.alerts.render import render, sns_message
from eks_guardrail.config import load_org_rules
from eks_guardrail.enforcement.enforcer import Outcome
from eks_guardrail.findings import Finding
from eks_guardrail.patterns import eks_access_pattern, iam_principal_pattern
from infra.deployment_config import DeploymentEnvironmentError, load_for_deployment
from org_app import (
    ADMIN_ACCOUNT,
    CENTRAL_KEY,
    CENTRAL_TOPIC,
    HOME,
    ORG_CONFIG,
    ORGANIZATION_ID,
    OTHERS,
    OU_IDS,
    PREFIX,
    org_synth,
    variant_synth,
)

HOME_SET, REGIONS_SET, FORWARDER_SET = "eks-guardrail-home", "eks-guardrail-regions", "eks-guardrail-iam-forwarder"
ASSET_STACKS = {f"EksGuardrailStackSetAssets-{r}" for r in [HOME, *OTHERS]}
ACCOUNT_ID = {"Ref": "AWS::AccountId"}
REGION = {"Ref": "AWS::Region"}


@pytest.fixture(scope="module")
def synth():
    return org_synth()


@pytest.fixture(scope="module")
def variant():
    return variant_synth()


# --- the administrator account's stacks ---------------------------------------------------------


def test_the_app_is_the_stack_sets_stack_and_one_asset_stack_per_region(synth):
    assert set(synth.stacks) == {"EksGuardrailStackSets", *ASSET_STACKS}
    envs = {name: (s.environment.account, s.environment.region) for name, s in synth.stacks.items()}
    assert envs["EksGuardrailStackSets"] == (ADMIN_ACCOUNT, HOME)
    assert {envs[f"EksGuardrailStackSetAssets-{r}"] for r in [HOME, *OTHERS]} == {(ADMIN_ACCOUNT, r) for r in [HOME, *OTHERS]}
    deps = {d.id for d in synth.stacks["EksGuardrailStackSets"].dependencies if d.id in synth.stacks}
    assert deps == ASSET_STACKS  # the buckets exist before the assets are copied into them


def test_cdk_nag_reports_no_finding(synth):
    report = json.loads((synth.outdir / "validation-report.json").read_text())
    (aws_solutions,) = [r for r in report["pluginReports"] if r["pluginName"] == "AwsSolutions"]
    assert aws_solutions["conclusion"] == "success"
    assert aws_solutions["violations"] == []


def test_three_service_managed_stack_sets_with_auto_deployment_to_the_ous(synth):
    stack_sets = synth.stack_set_resources()
    assert set(stack_sets) == {HOME_SET, REGIONS_SET, FORWARDER_SET}
    regions = {HOME_SET: [HOME], REGIONS_SET: OTHERS, FORWARDER_SET: ["us-east-1"]}
    for name, resource in stack_sets.items():
        props = resource["Properties"]
        assert props["PermissionModel"] == "SERVICE_MANAGED"
        assert props["AutoDeployment"] == {"Enabled": True, "RetainStacksOnAccountRemoval": False}
        assert props["CallAs"] == "DELEGATED_ADMIN"
        assert props["Capabilities"] == ["CAPABILITY_NAMED_IAM"]  # the roles have fixed names
        assert props["StackInstancesGroup"] == [
            {"DeploymentTargets": {"AccountFilterType": "NONE", "OrganizationalUnitIds": OU_IDS}, "Regions": regions[name]}
        ]
        assert "Parameters" not in props and "ParameterOverrides" not in json.dumps(props)
        assert props["ManagedExecution"] == {"Active": True}
        assert props["OperationPreferences"] == {"FailureTolerancePercentage": 10, "MaxConcurrentPercentage": 25, "RegionConcurrencyType": "PARALLEL"}


def test_the_other_regions_and_the_forwarder_come_after_the_home_stack_set(synth):
    stack_sets = synth.stack_set_resources()
    home_id = next(k for k, v in synth.resources(synth.raw["EksGuardrailStackSets"], "AWS::CloudFormation::StackSet").items()
                   if v["Properties"]["StackSetName"] == HOME_SET)
    assert home_id in stack_sets[REGIONS_SET]["DependsOn"] and home_id in stack_sets[FORWARDER_SET]["DependsOn"]
    assert home_id not in stack_sets[HOME_SET].get("DependsOn", [])


def test_each_stack_set_template_is_its_member_template(synth):
    """The TemplateURL names the asset whose file is the StackSetStack's template."""
    assets = json.loads((synth.outdir / "EksGuardrailStackSets.assets.json").read_text())["files"]
    for name, resource in synth.stack_set_resources().items():
        url = resource["Properties"]["TemplateURL"]["Fn::Sub"]
        assert url.startswith(f"https://s3.{HOME}.${{AWS::URLSuffix}}/cdk-hnb659fds-assets-{ADMIN_ACCOUNT}-{HOME}/")
        asset_hash = url.rsplit("/", 1)[1].removesuffix(".json")
        assert assets[asset_hash]["source"]["path"] == synth.member_files[name].name


# --- assets: Lambda code and layers in every target region ------------------------------------


def _code_locations(template: dict) -> list[dict]:
    found = []
    for resource in template["Resources"].values():
        if resource["Type"] == "AWS::Lambda::Function":
            found.append(resource["Properties"]["Code"])
        elif resource["Type"] == "AWS::Lambda::LayerVersion":
            found.append(resource["Properties"]["Content"])
    return found


def test_member_functions_and_layers_read_their_code_from_the_bucket_of_their_region(synth):
    for name in (HOME_SET, REGIONS_SET):
        locations = _code_locations(synth.members[name])
        assert len(locations) >= 2  # the functions and the dependencies layer
        for location in locations:
            assert location["S3Bucket"] == {"Fn::Join": ["-", [PREFIX, REGION]]}
        assert "cdk-hnb659fds" not in json.dumps(synth.members[name])  # never the administrator's CDK bucket


def test_every_asset_is_copied_to_the_bucket_of_every_region_its_stack_set_targets(synth):
    parent = synth.raw["EksGuardrailStackSets"]
    copies: dict[str, set[str]] = {}
    for resource in synth.resources(parent, "Custom::CDKBucketDeployment").values():
        props = resource["Properties"]
        assert props["Extract"] is False and props["Prune"] is False
        copies.setdefault(props["DestinationBucketName"], set()).update(props["SourceObjectKeys"])
    home_keys = {loc["S3Key"] for loc in _code_locations(synth.members[HOME_SET])}
    regional_keys = {loc["S3Key"] for loc in _code_locations(synth.members[REGIONS_SET])}
    assert copies[f"{PREFIX}-{HOME}"] >= home_keys
    for region in OTHERS:
        assert copies[f"{PREFIX}-{region}"] >= regional_keys
    # Each StackSet waits for the copies into its buckets.
    stack_sets = synth.stack_set_resources()
    deployments = {k: v["Properties"]["DestinationBucketName"] for k, v in synth.resources(parent, "Custom::CDKBucketDeployment").items()}
    for name, regions in ((HOME_SET, [HOME]), (REGIONS_SET, OTHERS)):
        waited = {deployments[d] for d in stack_sets[name]["DependsOn"] if d in deployments}
        assert waited >= {f"{PREFIX}-{r}" for r in regions}


def test_asset_buckets_are_readable_by_the_organization_only(synth):
    for region in [HOME, *OTHERS]:
        template = synth.raw[f"EksGuardrailStackSetAssets-{region}"]
        (bucket,) = synth.resources(template, "AWS::S3::Bucket").values()
        props = bucket["Properties"]
        assert props["BucketName"] == f"{PREFIX}-{region}"
        assert props["PublicAccessBlockConfiguration"] == {
            "BlockPublicAcls": True, "BlockPublicPolicy": True, "IgnorePublicAcls": True, "RestrictPublicBuckets": True
        }
        assert props["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
        (policy,) = synth.resources(template, "AWS::S3::BucketPolicy").values()
        statements = policy["Properties"]["PolicyDocument"]["Statement"]
        (reads,) = [s for s in statements if s.get("Sid") == "OrganizationReadsCode"]
        assert reads["Action"] == "s3:GetObject" and reads["Principal"] == {"AWS": "*"}
        assert reads["Condition"] == {"StringEquals": {"aws:PrincipalOrgID": ORGANIZATION_ID}}
        assert any(s["Effect"] == "Deny" and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}} for s in statements)


# --- member templates: no per-account parameter ------------------------------------------------


@pytest.mark.parametrize("name", [HOME_SET, REGIONS_SET, FORWARDER_SET])
def test_member_templates_need_no_parameter_and_name_no_member_account(synth, name):
    template = synth.members[name]
    assert all("Default" in p for p in template.get("Parameters", {}).values())
    assert "Conditions" not in template and "Rules" not in template
    # The only account ids: trusted_accounts (rules), the administrator's (asset buckets) and the security account's (central topic).
    org = load_org_rules(ORG_CONFIG)
    allowed = {*org.trusted_accounts, ADMIN_ACCOUNT, CENTRAL_TOPIC.split(":")[4]}
    assert set(re.findall(r"\b\d{12}\b", json.dumps(template))) <= allowed


def test_member_roles_and_their_arns_come_from_pseudo_parameters(synth):
    template = synth.members[HOME_SET]
    role_names = [r["Properties"]["RoleName"] for r in synth.resources(template, "AWS::IAM::Role").values() if "RoleName" in r["Properties"]]
    assert {"Fn::Join": ["", ["eks-guardrail-access-entry-", REGION]]} in role_names
    for function in synth.resources(template, "AWS::Lambda::Function").values():
        own_roles = function["Properties"]["Environment"]["Variables"]["GUARDRAIL_ROLE_ARNS"]
        parts = own_roles["Fn::Join"][1]
        assert parts.count(ACCOUNT_ID) == len(OTHERS) + 4  # access-entry per region, iam-principal, sweep, sweep-worker
        assert all(isinstance(p, str) or p == ACCOUNT_ID for p in parts)


def test_the_home_member_holds_the_ledger_replicated_to_the_other_regions(synth):
    home = synth.members[HOME_SET]
    (ledger,) = synth.resources(home, "AWS::DynamoDB::GlobalTable").values()
    assert ledger["Properties"]["TableName"] == "eks-guardrail-ledger"
    replicas = ledger["Properties"]["Replicas"]
    assert [r["Region"] for r in replicas] == [REGION, *OTHERS]
    for replica in replicas:  # every replica as the home one: deletion protection, point-in-time recovery, tags
        assert {k: v for k, v in replica.items() if k != "Region"} == {k: v for k, v in replicas[0].items() if k != "Region"}
        assert replica["DeletionProtectionEnabled"] is True
    functions = synth.resources(home, "AWS::Lambda::Function")
    assert {k.split("Function")[0] for k in functions} == {"AccessEntry", "IamPrincipal", "Sweep", "SweepWorker"}
    patterns = [r["Properties"].get("EventPattern") for r in synth.resources(home, "AWS::Events::Rule").values()]
    assert eks_access_pattern() in patterns and iam_principal_pattern() in patterns


def test_the_regional_member_holds_only_the_access_entry_function(synth):
    regional = synth.members[REGIONS_SET]
    assert synth.resources(regional, "AWS::DynamoDB::GlobalTable") == {}
    assert [k.split("Function")[0] for k in synth.resources(regional, "AWS::Lambda::Function")] == ["AccessEntry"]


def test_the_forwarder_member_sends_iam_events_to_the_home_bus_of_its_own_account(synth):
    forwarder = synth.members[FORWARDER_SET]
    (rule,) = synth.resources(forwarder, "AWS::Events::Rule").values()
    assert rule["Properties"]["EventPattern"] == iam_principal_pattern()
    (target,) = rule["Properties"]["Targets"]
    assert target["Arn"] == {"Fn::Join": ["", [f"arn:aws:events:{HOME}:", ACCOUNT_ID, ":event-bus/default"]]}


# --- central alerts -----------------------------------------------------------------------------


def test_member_functions_publish_findings_to_the_central_topic_only(synth):
    for name in (HOME_SET, REGIONS_SET):
        template = synth.members[name]
        for function in synth.resources(template, "AWS::Lambda::Function").values():
            assert function["Properties"]["Environment"]["Variables"]["ALERT_TOPIC_ARN"] == CENTRAL_TOPIC
        for policy in synth.resources(template, "AWS::IAM::Policy").values():
            statements = policy["Properties"]["PolicyDocument"]["Statement"]
            publishes = [s for s in statements if "sns:Publish" in json.dumps(s["Action"])]
            assert publishes == [{"Action": "sns:Publish", "Effect": "Allow", "Resource": CENTRAL_TOPIC, "Sid": "CentralAlerts"}]
            (key,) = [s for s in statements if s.get("Sid") == "CentralAlertsKey"]
            assert key["Action"] == ["kms:Decrypt", "kms:GenerateDataKey"] and key["Resource"] == CENTRAL_KEY
        # The member's own topic keeps the alarms (CloudWatch publishes in its own account and region).
        (topic_id,) = synth.resources(template, "AWS::SNS::Topic")
        alarms = synth.resources(template, "AWS::CloudWatch::Alarm").values()
        assert alarms and all(a["Properties"]["AlarmActions"] == [{"Ref": topic_id}] for a in alarms)


def test_an_alert_from_a_member_account_names_that_account():
    """Through a central topic every alert must say whose it is: in the text, the SNS attributes, Slack and Chatbot."""
    member = "210987654321"
    finding = Finding(
        rule="admin-policy", severity="critical", action="rollback", configured_action="rollback", exempt=False,
        message="cluster-admin granted to a role outside the allow-list", event_id="e-1", event_name="AssociateAccessPolicy",
        event_time="2025-01-01T00:00:00Z", account=member, region="eu-central-1", cluster="prod",
        principal_arn=f"arn:aws:iam::{member}:role/Dev", policy_arn=None, actor_arn=f"arn:aws:sts::{member}:assumed-role/Dev/x",
    )
    message = render(Outcome(finding, "rolled-back", "disassociated"))
    assert f"prod ({member}, eu-central-1)" in message.text
    assert message.attributes["account"] == member  # SNS message attribute: subscription filter policies can route by account
    assert json.loads(sns_message(message))["email"] == message.text
    assert member in message.slack["blocks"][2]["fields"][2]["text"]
    assert member in message.chatbot["content"]["keywords"] and message.chatbot["metadata"]["threadId"].startswith(member)


# --- choices and their variants -----------------------------------------------------------------


def test_from_the_management_account_a_single_us_east_1_region_without_credentials(variant):
    assert set(variant.stacks) == {"EksGuardrailStackSets"}  # no organization_id: the asset buckets are made by hand
    parent = variant.stacks["EksGuardrailStackSets"]
    assert parent.environment.region == "us-east-1"
    (name, resource), = variant.stack_set_resources().items()  # home is us-east-1: no forwarder, no other regions
    props = resource["Properties"]
    assert name == HOME_SET
    assert props["CallAs"] == "SELF"
    assert props["AutoDeployment"] == {"Enabled": True, "RetainStacksOnAccountRemoval": True}
    assert props["StackInstancesGroup"][0]["DeploymentTargets"]["OrganizationalUnitIds"] == ["r-ab12"]
    assert "${AWS::AccountId}" in props["TemplateURL"]["Fn::Sub"]  # the administrator account, whichever deploys
    for location in _code_locations(variant.members[HOME_SET]):
        assert location["S3Bucket"] == {"Fn::Join": ["-", ["acme-guardrail-assets", REGION]]}
    for function in variant.resources(variant.members[HOME_SET], "AWS::Lambda::Function").values():
        assert function["Properties"]["Environment"]["Variables"]["ALERT_TOPIC_ARN"] == {"Ref": next(iter(
            variant.resources(variant.members[HOME_SET], "AWS::SNS::Topic")))}
    (ledger,) = variant.resources(variant.members[HOME_SET], "AWS::DynamoDB::GlobalTable").values()
    assert [r["Region"] for r in ledger["Properties"]["Replicas"]] == [REGION]


def test_the_asset_bucket_prefix_is_required_when_the_administrator_account_is_unknown(tmp_path):
    config = tmp_path / "guardrail.yaml"
    config.write_text("deployment:\n  organization: {ou_ids: [r-ab12], regions: [eu-west-1]}\n")
    with pytest.raises(DeploymentEnvironmentError, match=r"asset_bucket_prefix: required when the administrator account is unknown"):
        load_for_deployment(config, {})
    plan = load_for_deployment(config, {"CDK_DEFAULT_ACCOUNT": ADMIN_ACCOUNT})
    assert plan.asset_bucket_prefix == PREFIX and plan.admin_account == ADMIN_ACCOUNT and plan.accounts == ()


def test_an_asset_bucket_name_longer_than_s3_allows_is_refused(tmp_path):
    config = tmp_path / "guardrail.yaml"
    prefix = "a" * 40
    config.write_text(f"deployment:\n  organization: {{ou_ids: [r-ab12], regions: [ap-southeast-2], asset_bucket_prefix: {prefix}}}\n")
    assert load_for_deployment(config, {}).asset_bucket_prefix == prefix  # 40 + 1 + 14 characters: fits
    config.write_text(f"deployment:\n  organization: {{ou_ids: [r-ab12], regions: [xx-abcdefghijklmnopqrstuvw-1], asset_bucket_prefix: {prefix}}}\n")
    with pytest.raises(DeploymentEnvironmentError, match=r"is longer than S3's 63 characters"):
        load_for_deployment(config, {})


def test_a_config_too_big_for_the_environment_reaches_the_members_as_a_layer_from_the_asset_buckets(tmp_path):
    from infra.app_builder import build_app
    from infra.guardrail_stack import CONFIG_FILE_IN_LAYER

    principals = ", ".join(f'"arn:aws:iam::*:role/break-glass-{i:03d}"' for i in range(150))
    config = tmp_path / "big.yaml"
    config.write_text(
        f"exemptions: {{principals: [{principals}]}}\n"
        "deployment: {organization: {ou_ids: [r-ab12], regions: [eu-west-1, eu-central-1], asset_bucket_prefix: acme-assets}}\n"
    )
    app = build_app(config, outdir=str(tmp_path / "out"), environ={})
    app.synth()
    from infra.org_stackset import STACK_SETS_STACK

    stack_sets = app.node.find_child(STACK_SETS_STACK)
    parent = json.loads((tmp_path / "out" / "EksGuardrailStackSets.template.json").read_text())
    copied = {
        r["Properties"]["DestinationBucketName"]: set(r["Properties"]["SourceObjectKeys"])
        for r in parent["Resources"].values() if r["Type"] == "Custom::CDKBucketDeployment"
    }
    for member, region in ((stack_sets.home_member, "eu-west-1"), (stack_sets.regions_member, "eu-central-1")):
        template = json.loads((tmp_path / "out" / member.template_file).read_text())
        layers = {k: v for k, v in template["Resources"].items() if v["Type"] == "AWS::Lambda::LayerVersion"}
        (layer_id,) = [k for k in layers if k.startswith("ConfigLayer")]
        content = layers[layer_id]["Properties"]["Content"]
        assert content["S3Bucket"] == {"Fn::Join": ["-", ["acme-assets", REGION]]}
        assert content["S3Key"] in copied[f"acme-assets-{region}"]
        for resource in template["Resources"].values():
            if resource["Type"] == "AWS::Lambda::Function":
                env = resource["Properties"]["Environment"]["Variables"]
                assert "GUARDRAIL_CONFIG" not in env and env["GUARDRAIL_CONFIG_FILE"] == CONFIG_FILE_IN_LAYER
                assert {"Ref": layer_id} in resource["Properties"]["Layers"]
