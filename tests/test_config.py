"""The org-rules file: the example loads, defaults apply, and every mistake is named by its path."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from eks_guardrail.aws_catalog import ACCESS_POLICY_NAMES, PRIVILEGED_ACCESS_POLICIES
from eks_guardrail.config import ConfigError, OrgRules, load_org_rules, org_rules_from_data
from eks_guardrail.rules import REGISTRY

ROOT = Path(__file__).parent.parent


def problems(data) -> list[str]:
    with pytest.raises(ConfigError) as raised:
        org_rules_from_data(data, source="guardrail.yaml")
    return raised.value.problems


def test_example_file_loads_with_every_rule_configured():
    org = load_org_rules(ROOT / "guardrail.example.yaml")
    assert org.mode == "monitor"
    assert org.trusted_accounts == ("111122223333",)
    assert org.exemptions.tag is not None and org.exemptions.tag.key == "guardrail"
    admin = org.settings("admin-policy")
    assert admin.action == "rollback"
    assert admin.policies["AmazonEKSAdminPolicy"].allow_namespaced is True
    assert org.settings("stale-principal").action == "alert"
    assert org.settings("node-entry-principal").node_roles == ("arn:aws:iam::*:role/eks-node-*", "arn:aws:iam::*:role/eks-fargate-pods")
    # giving `policies` replaces the default: the example lists every privileged policy again
    assert set(PRIVILEGED_ACCESS_POLICIES) <= set(admin.policies)


def test_empty_file_takes_documented_defaults(tmp_path):
    path = tmp_path / "guardrail.yaml"
    path.write_text("# nothing yet\n")
    org = load_org_rules(path)
    assert org == OrgRules()
    assert org.mode == "monitor"
    assert {rule_id: org.settings(rule_id).action for rule_id in REGISTRY} == {rule_id: "alert" for rule_id in REGISTRY}
    # every access policy that reads Secrets or writes RBAC (AdminView reads Secrets: it was missing)
    policies = org.settings("admin-policy").policies
    assert set(policies) == {
        "AmazonEKSClusterAdminPolicy", "AmazonEKSAdminPolicy", "AmazonEKSAdminViewPolicy",
        "AmazonEKSSecretReaderPolicy", "AmazonEKSSecretAdminPolicy", "AmazonEKSEditPolicy",
    }
    assert set(policies) == set(PRIVILEGED_ACCESS_POLICIES), "the default is the catalogue's set, defined once"
    assert all(grant.allow == () for grant in policies.values()), "nobody is allowed any of them by default"
    # Edit is the one a team may hold in its own namespaces; the others read Secrets at any scope
    assert {name for name, grant in policies.items() if grant.allow_namespaced} == {"AmazonEKSEditPolicy"}
    assert "AmazonEKSViewPolicy" not in policies  # reads no Secrets
    assert org.settings("node-entry-principal").node_roles == ()
    assert org.settings("namespace-scope").protected_namespaces == ("kube-system",)
    assert org.settings("authentication-mode").allowed_modes == ("API", "API_AND_CONFIG_MAP")


def test_bad_arn_in_an_allow_list_is_named_by_its_full_path():
    data = {"rules": {"admin-policy": {"policies": {"AmazonEKSClusterAdminPolicy": {"allow": ["arn:aws:iam::*:role/A", "arn:aws:iam::*:role/B", "PlatformAdmin"]}}}}}
    (problem,) = problems(data)
    assert problem.startswith("rules.admin-policy.policies.AmazonEKSClusterAdminPolicy.allow[2]: ")
    assert "arn:aws:iam::*:role/Name" in problem


def test_unknown_keys_list_what_is_allowed():
    found = problems({"rules": {"admin-polcy": {"action": "alert"}, "prefer-roles": {"alow": []}}, "mood": "enforce"})
    assert any(p.startswith("mood: unknown key; allowed here: mode, trusted_accounts, exemptions, rules") for p in found)
    assert any(p.startswith("rules.admin-polcy: unknown key; allowed here: ") and "admin-policy" in p for p in found)
    assert any(p.startswith("rules.prefer-roles.alow: unknown key; allowed here: action, severity, allow") for p in found)


@pytest.mark.parametrize(
    "data, path, says",
    [
        ({"mode": "enforcing"}, "mode", "'monitor' or 'enforce'"),
        ({"rules": {"custom-username": {"action": "rollback"}}}, "rules.custom-username.action", "'off' or 'alert'"),
        ({"rules": {"stale-principal": {"action": "rollback"}}}, "rules.stale-principal.action", "'rebind'"),
        ({"rules": {"cross-account": {"severity": "urgent"}}}, "rules.cross-account.severity", "'critical'"),
        ({"rules": {"authentication-mode": {"allowed_modes": ["API", "api"]}}}, "rules.authentication-mode.allowed_modes[1]", "'API_AND_CONFIG_MAP'"),
        ({"rules": {"reserved-prefix": {"prefixes": "platform:"}}}, "rules.reserved-prefix.prefixes", "expected a list"),
        ({"trusted_accounts": [111122223333]}, "trusted_accounts", "quoted string of 12 digits"),
        ({"trusted_accounts": ["1234"]}, "trusted_accounts", "12 digits"),
        ({"exemptions": {"tag": {"key": "guardrail", "set_by": ["arn:aws:iam::*:role/A"]}}}, "exemptions.tag.value", "required"),
        ({"exemptions": {"tag": {"key": "guardrail", "value": "x"}}}, "exemptions.tag.set_by", "required"),
        ({"rules": {"admin-policy": {"policies": {"AmazonEKSClusterAdminPolcy": {}}}}}, "rules.admin-policy.policies.AmazonEKSClusterAdminPolcy", "did you mean AmazonEKSClusterAdminPolicy"),
        ({"rules": {"admin-policy": {"policies": {"arn:aws:iam::aws:policy/AdministratorAccess": {}}}}}, "rules.admin-policy.policies.arn:aws:iam::aws:policy/AdministratorAccess", "not an access policy ARN"),
        ({"rules": {"protected-entry": {"principals": ["arn:aws:iam::*:role/A"], "action": "delete"}}}, "rules.protected-entry.action", "'rollback'"),
        ({"rules": {"node-entry-principal": {"action": "rollback"}}}, "rules.node-entry-principal.action", "'off' or 'alert'"),
        ({"rules": {"node-entry-principal": {"node_roles": ["eks-node-role"]}}}, "rules.node-entry-principal.node_roles[0]", "arn:aws:iam::*:role/Name"),
    ],
)
def test_bad_values_are_named_with_what_is_allowed(data, path, says):
    found = problems(data)
    assert len(found) == 1, found
    assert found[0].startswith(f"{path}: "), found
    assert says in found[0]


def test_the_privileged_set_names_known_policies_each_with_a_reason():
    assert set(PRIVILEGED_ACCESS_POLICIES) <= set(ACCESS_POLICY_NAMES)
    assert {"AmazonEKSClusterAdminPolicy", "AmazonEKSAdminPolicy"} <= set(PRIVILEGED_ACCESS_POLICIES)
    assert all(reason.strip() for reason, _ in PRIVILEGED_ACCESS_POLICIES.values())


def test_policies_may_be_given_by_full_arn_even_when_newer_than_our_list():
    org = org_rules_from_data(
        {"rules": {"admin-policy": {"policies": {
            "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy": {"allow": []},
            "arn:aws:eks::aws:cluster-access-policy/AmazonEKSFuturePolicy": {"allow": []},
        }}}}
    )
    assert set(org.settings("admin-policy").policies) == {"AmazonEKSClusterAdminPolicy", "AmazonEKSFuturePolicy"}


def test_duplicate_keys_are_rejected_with_their_line(tmp_path):
    path = tmp_path / "guardrail.yaml"
    path.write_text("rules:\n  admin-policy: {action: rollback}\n  admin-policy: {action: off}\n")
    with pytest.raises(ConfigError) as raised:
        load_org_rules(path)
    assert raised.value.problems == ["line 3: duplicate key 'admin-policy'"]
    assert str(path) in str(raised.value)


def test_yaml_syntax_error_and_missing_file(tmp_path):
    path = tmp_path / "guardrail.yaml"
    path.write_text("rules:\n  admin-policy: {action: rollback\n")
    with pytest.raises(ConfigError, match=r"line \d+, column \d+: not valid YAML"):
        load_org_rules(path)
    with pytest.raises(ConfigError, match="cannot read the file"):
        load_org_rules(tmp_path / "missing.yaml")


def test_top_level_must_be_a_mapping():
    assert problems(["mode", "enforce"]) == ["(top level): expected a mapping of settings, got list"]


def test_config_is_immutable():
    org = OrgRules()
    with pytest.raises(Exception):
        org.mode = "enforce"  # type: ignore[misc]


def test_unquoted_yaml_off_means_off(tmp_path):
    path = tmp_path / "guardrail.yaml"
    path.write_text("rules:\n  required-tags: {action: off}\n  prefer-roles:\n    action: off\n")
    org = load_org_rules(path)
    assert org.settings("required-tags").action == "off" and org.settings("prefer-roles").action == "off"
    assert problems({"rules": {"prefer-roles": {"action": True}}})[0].startswith("rules.prefer-roles.action: ")


def test_deployment_part():
    org = org_rules_from_data(
        {"deployment": {"accounts": ["111122223333"], "regions": ["eu-west-1", "us-west-2"], "home_region": "us-west-2",
                        "alert_emails": ["platform@example.com"], "chatbot_slack": {"slack_workspace_id": "T1", "slack_channel_id": "C1"}}}
    )
    assert org.deployment is not None and org.deployment.home == "us-west-2"
    assert org.deployment.sweep_schedule == "rate(1 hour)" and org.deployment.create_trail is False
    assert "deployment" not in org.handler_config()


@pytest.mark.parametrize(
    "deployment, path, says",
    [
        ({"accounts": [111122223333], "regions": ["eu-west-1"]}, "deployment.accounts", "quoted string"),
        ({"accounts": ["111122223333"], "regions": ["eu-west"]}, "deployment.regions[0]", "an AWS region"),
        ({"accounts": ["111122223333"], "regions": ["eu-west-1"], "home_region": "us-east-1"}, "deployment", "home_region us-east-1 must be one of regions"),
        ({"accounts": ["111122223333"], "regions": ["eu-west-1"], "alert_emails": ["platform"]}, "deployment.alert_emails[0]", "e-mail"),
        ({"accounts": ["111122223333"], "regions": ["eu-west-1"], "sweep_schedule": "hourly"}, "deployment.sweep_schedule", "rate(1 hour)"),
        ({"regions": ["eu-west-1"]}, "deployment", "`accounts` (a list of account ids, for `cdk deploy`) or `organization`"),
    ],
)
def test_deployment_errors(deployment, path, says):
    (problem,) = problems({"deployment": deployment})
    assert problem.startswith(f"{path}: ") and says in problem


def test_handler_config_round_trips():
    org = load_org_rules(ROOT / "guardrail.example.yaml")
    assert org_rules_from_data(org.handler_config()) == dataclasses.replace(org, deployment=None)


# --- deployment.organization (StackSets) -------------------------------------------------------

ORGANIZATION = {"ou_ids": ["ou-ab12-11111111", "r-ab12"], "regions": ["eu-west-1", "us-east-1"]}


def test_organization_part_takes_the_place_of_accounts():
    org = org_rules_from_data({"deployment": {"organization": {**ORGANIZATION, "home_region": "us-east-1"}, "alert_emails": ["a@example.com"]}})
    deployment = org.deployment
    assert deployment is not None and deployment.accounts == ()
    organization = deployment.organization
    assert organization is not None and organization.ou_ids == ("ou-ab12-11111111", "r-ab12")
    # The stacks read `regions` and `home`: the organization's.
    assert deployment.regions == ("eu-west-1", "us-east-1") and deployment.home == "us-east-1" == organization.home
    assert organization.delegated_admin is True and organization.retain_stacks_on_account_removal is False
    assert organization.organization_id is None and organization.central_alert_topic_arn is None
    assert "deployment" not in org.handler_config()


def test_organization_home_region_defaults_to_the_first_region():
    deployment = org_rules_from_data({"deployment": {"organization": ORGANIZATION}}).deployment
    assert deployment is not None and deployment.home == "eu-west-1"


def test_organization_deployment_round_trips():
    """`build(dump(x)) == x` holds for a deployment whose regions came from its organization."""
    from eks_guardrail.config import Deployment
    from eks_guardrail.schema import build, dump

    deployment = org_rules_from_data({"deployment": {"organization": ORGANIZATION}}).deployment
    assert build(Deployment, dump(deployment)) == deployment
    assert build(Deployment, dump(deployment, skip_defaults=True)) == deployment


def test_existing_deployment_parts_stay_valid():
    for path in (ROOT / "tests" / "infra" / "guardrail.infra-test.yaml", ROOT / "guardrail.yaml", ROOT / "guardrail.example.yaml"):
        load_org_rules(path)
    deployment = org_rules_from_data({"deployment": {"accounts": ["111122223333"], "regions": ["eu-west-1"]}}).deployment
    assert deployment is not None and deployment.organization is None and deployment.home == "eu-west-1"


def test_the_example_files_commented_deployment_parts_are_valid():
    """The two commented-out `deployment` examples at the end of guardrail.example.yaml, uncommented, load."""
    import yaml

    lines = (ROOT / "guardrail.example.yaml").read_text().splitlines()
    (accounts_line,) = [line for line in lines if line.startswith("#   deployment: {")]
    start = lines.index("# deployment:")
    block = "\n".join(line[2:] for line in lines[start:])
    for text in (accounts_line[4:], block):
        org = org_rules_from_data(yaml.safe_load(text))
        assert org.deployment is not None
    organization = org_rules_from_data(yaml.safe_load(block)).deployment.organization
    assert organization is not None and organization.central_alert_topic_arn and organization.organization_id


@pytest.mark.parametrize(
    "deployment, path, says",
    [
        (
            {"accounts": ["111122223333"], "regions": ["eu-west-1"], "organization": ORGANIZATION},
            "deployment",
            "give either `accounts` (one stack per listed account and region, `cdk deploy`) or `organization`",
        ),
        ({}, "deployment", "`accounts` (a list of account ids, for `cdk deploy`) or `organization` (`ou_ids` and `regions`, for StackSets) is required"),
        ({"accounts": [], "regions": ["eu-west-1"]}, "deployment", "`accounts` (a list of account ids, for `cdk deploy`) or `organization`"),
        ({"accounts": ["111122223333"]}, "deployment", "`regions` (at least one region) is required"),
        ({"organization": {"regions": ["eu-west-1"]}}, "deployment.organization.ou_ids", "required"),
        ({"organization": {"ou_ids": [], "regions": ["eu-west-1"]}}, "deployment.organization.ou_ids", "at least 1 item(s) required"),
        ({"organization": {"ou_ids": ["r-ab12"], "regions": []}}, "deployment.organization.regions", "at least 1 item(s) required"),
        ({"organization": {"ou_ids": ["ou-x"], "regions": ["eu-west-1"]}}, "deployment.organization.ou_ids[0]", "ou-xxxx-xxxxxxxx"),
        ({"organization": {"ou_ids": ["111122223333"], "regions": ["eu-west-1"]}}, "deployment.organization.ou_ids[0]", "root id (r-xxxx)"),
        ({"organization": {"ou_ids": ["r-ab12", "r-ab12"], "regions": ["eu-west-1"]}}, "deployment.organization", "ou_ids: an id listed twice: r-ab12"),
        ({"organization": {"ou_ids": ["r-ab12"], "regions": ["eu-west-1"], "home_region": "us-east-1"}}, "deployment.organization", "home_region us-east-1 must be one of regions"),
        ({"organization": {"ou_ids": ["r-ab12"], "regions": ["eu-west-1"], "organization_id": "o-1"}}, "deployment.organization.organization_id", "o-a1b2c3d4e5"),
        ({"organization": {"ou_ids": ["r-ab12"], "regions": ["eu-west-1"], "asset_bucket_prefix": "My_Bucket"}}, "deployment.organization.asset_bucket_prefix", "lowercase"),
        ({"organization": {"ou_ids": ["r-ab12"], "regions": ["eu-west-1"], "delegated_admin": "yes"}}, "deployment.organization.delegated_admin", "true or false"),
        (
            {"organization": {"ou_ids": ["r-ab12"], "regions": ["eu-west-1"], "central_alert_topic_arn": "arn:aws:sns:eu-west-1:999988887777:alerts.fifo"}},
            "deployment.organization.central_alert_topic_arn",
            "standard (not FIFO) SNS topic ARN",
        ),
        (
            {"organization": {"ou_ids": ["r-ab12"], "regions": ["eu-west-1"], "central_alert_key_arn": "arn:aws:kms:eu-west-1:999988887777:key/abc"}},
            "deployment.organization",
            "central_alert_key_arn is the key of central_alert_topic_arn, which is missing",
        ),
        (
            {"organization": ORGANIZATION, "regions": ["eu-central-1"]},
            "deployment",
            "with `organization`, give the regions as organization.regions",
        ),
        ({"organization": ORGANIZATION, "home_region": "us-east-1"}, "deployment", "with `organization`, give the regions as organization.regions"),
        ({"organization": {**ORGANIZATION, "ou_idz": ["r-ab12"]}}, "deployment.organization.ou_idz", "unknown key"),
    ],
)
def test_organization_errors(deployment, path, says):
    (problem,) = problems({"deployment": deployment})
    assert problem.startswith(f"{path}: ") and says in problem


# --- deployment: the sweep's fan-out (SQS) -----------------------------------------------------

ACCOUNTS = {"accounts": ["111122223333"], "regions": ["eu-west-1"]}


def test_sweep_fan_out_defaults_and_values_in_both_kinds_of_deployment():
    for part in (ACCOUNTS, {"organization": ORGANIZATION}):
        deployment = org_rules_from_data({"deployment": part}).deployment
        assert deployment is not None
        assert deployment.sweep_max_concurrency == 5 and deployment.sweep_worker_threads == 4
        deployment = org_rules_from_data({"deployment": {**part, "sweep_max_concurrency": 1000, "sweep_worker_threads": 16}}).deployment
        assert deployment is not None
        assert deployment.sweep_max_concurrency == 1000 and deployment.sweep_worker_threads == 16
        assert org_rules_from_data({"deployment": {**part, "sweep_max_concurrency": 2, "sweep_worker_threads": 1}}).deployment.sweep_max_concurrency == 2


def test_sweep_fan_out_settings_round_trip():
    from eks_guardrail.config import Deployment
    from eks_guardrail.schema import build, dump

    deployment = org_rules_from_data({"deployment": {**ACCOUNTS, "sweep_max_concurrency": 20, "sweep_worker_threads": 2}}).deployment
    assert build(Deployment, dump(deployment)) == deployment
    assert build(Deployment, dump(deployment, skip_defaults=True)) == deployment


@pytest.mark.parametrize(
    "key, value, says",
    [
        ("sweep_max_concurrency", 1, "maximum concurrency of the sweep's SQS event source (AWS's limits) must be from 2 to 1000, got 1"),
        ("sweep_max_concurrency", 0, "must be from 2 to 1000, got 0"),
        ("sweep_max_concurrency", 1001, "must be from 2 to 1000, got 1001"),
        ("sweep_max_concurrency", "5", "expected a whole number"),
        ("sweep_max_concurrency", True, "expected a whole number"),
        ("sweep_max_concurrency", 5.0, "expected a whole number"),
        ("sweep_worker_threads", 0, "the threads of one sweep worker must be from 1 to 16, got 0"),
        ("sweep_worker_threads", 17, "must be from 1 to 16, got 17"),
        ("sweep_worker_threads", "4", "expected a whole number"),
    ],
)
def test_sweep_fan_out_settings_out_of_range(key, value, says):
    for part in (ACCOUNTS, {"organization": ORGANIZATION}):
        (problem,) = problems({"deployment": {**part, key: value}})
        assert problem.startswith(f"deployment.{key}: ") and says in problem, problem
