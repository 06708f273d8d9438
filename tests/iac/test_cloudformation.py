"""`eks-guardrail iac` on CloudFormation templates (JSON, YAML with short-form tags) and cdk.out."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

ACCOUNT = "111122223333"

YAML_TEMPLATE = """\
AWSTemplateFormatVersion: "2010-09-09"
Parameters:
  Team:
    Type: String
    Default: dev
  Groups:
    Type: CommaDelimitedList
Resources:
  Cluster:
    Type: AWS::EKS::Cluster
    Properties:
      Name: !Sub "${Team}-cluster"
      RoleArn: !GetAtt ClusterRole.Arn
  ClusterRole:
    Type: AWS::IAM::Role
    Properties:
      RoleName: eks-cluster
      AssumeRolePolicyDocument: {}
  TeamEntry:
    Type: AWS::EKS::AccessEntry
    Properties:
      ClusterName: !Ref Cluster
      PrincipalArn: !Sub "arn:${AWS::Partition}:iam::${AWS::AccountId}:role/${Team}"
      Username: !Join [":", ["platform", !Ref Team]]
      KubernetesGroups: !Ref Groups
      AccessPolicies:
        - PolicyArn: arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy
          AccessScope:
            Type: cluster
  PartnerEntry:
    Type: AWS::EKS::AccessEntry
    Properties:
      ClusterName: !Ref Cluster
      PrincipalArn: !GetAtt PartnerRole.Arn
"""


@pytest.fixture
def org(tmp_path: Path) -> str:
    path = tmp_path / "guardrail.yaml"
    path.write_text(
        'rules:\n  reserved-prefix: {action: rollback, prefixes: ["platform:"]}\n'
        '  authentication-mode: {action: alert, allowed_modes: ["API"]}\n'
        "  custom-username: {action: off}\n"
    )
    return str(path)


def findings(report: dict) -> list[tuple[str, str, int]]:
    return [(f["rule"], f["resource"], f["line"]) for f in report["findings"]]


def test_yaml_template_with_short_form_intrinsics(run_iac, tmp_path, org):
    template = tmp_path / "eks.yaml"
    template.write_text(YAML_TEMPLATE)
    status, out, _ = run_iac("--format", "json", "--config", org, "--account", ACCOUNT, "--parameter", "Groups=viewers,editors", str(template))
    report = json.loads(out)
    assert findings(report) == [
        ("authentication-mode", "Cluster", 9),
        ("bootstrap-admin", "Cluster", 9),
        ("reserved-prefix", "TeamEntry", 19),
        ("admin-policy", "TeamEntry", 19),
    ]
    by_rule = {f["rule"]: f for f in report["findings"]}
    assert by_rule["authentication-mode"]["cluster"] == "dev-cluster"
    assert "CONFIG_MAP (the API default" in by_rule["authentication-mode"]["message"]
    assert by_rule["admin-policy"]["principal_arn"] == f"arn:aws:iam::{ACCOUNT}:role/dev"
    assert "platform:dev" in by_rule["reserved-prefix"]["message"]
    assert report["undecided"] == [
        {
            "file": str(template), "resource": "PartnerEntry", "line": 30,
            "unknown": ["PrincipalArn (Fn::GetAtt PartnerRole.Arn is known only after deployment)"],
            "message": "PartnerEntry cannot be judged before it is applied: unknown PrincipalArn (Fn::GetAtt PartnerRole.Arn is known only after deployment)",
        }
    ]
    assert status == 1


def test_parameters_and_pseudo_parameters_that_cannot_be_resolved(run_iac, tmp_path, org):
    template = tmp_path / "eks.yaml"
    template.write_text(YAML_TEMPLATE)
    # no --account, and Groups has no Default: both name what to pass
    status, out, _ = run_iac("--format", "json", "--config", org, str(template))
    report = json.loads(out)
    team = next(u for u in report["undecided"] if u["resource"] == "TeamEntry")
    assert team["unknown"] == [
        "PrincipalArn (Ref AWS::AccountId: pass --account)",
        "KubernetesGroups (parameter Groups has no Default: pass --parameter Groups=VALUE)",
    ]
    assert [f["resource"] for f in report["findings"]] == ["Cluster", "Cluster"]  # the cluster does not depend on them


def test_json_template_with_access_config_and_lines(run_iac, tmp_path, org):
    template = {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Parameters": {"Mode": {"Type": "String", "Default": "API"}},
        "Resources": {
            "Cluster": {
                "Type": "AWS::EKS::Cluster",
                "Properties": {
                    "Name": "prod",
                    "RoleArn": f"arn:aws:iam::{ACCOUNT}:role/eks",
                    "AccessConfig": {"AuthenticationMode": {"Ref": "Mode"}, "BootstrapClusterCreatorAdminPermissions": False},
                },
            },
            "Partner": {
                "Type": "AWS::EKS::AccessEntry",
                "Properties": {
                    "ClusterName": {"Ref": "Cluster"},
                    "PrincipalArn": "arn:aws:iam::999988887777:role/partner",
                    "AccessPolicies": [
                        {"PolicyArn": "arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy",
                         "AccessScope": {"Type": "namespace", "Namespaces": ["kube-system"]}}
                    ],
                },
            },
        },
    }
    path = tmp_path / "stack.template.json"
    path.write_text(json.dumps(template, indent=1))
    status, out, _ = run_iac("--format", "json", "--config", org, str(path))
    report = json.loads(out)
    # the account comes from the cluster's role ARN; Mode's Default API is allowed
    assert findings(report) == [("cross-account", "Partner", 23), ("namespace-scope", "Partner", 23)]
    assert report["undecided"] == [] and status == 1
    status, out, _ = run_iac("--format", "json", "--config", org, "--parameter", "Mode=API_AND_CONFIG_MAP", str(path))
    assert findings(json.loads(out))[0] == ("authentication-mode", "Cluster", 10)


def test_a_template_that_is_not_one(run_iac, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("Resources: [unclosed\n")
    empty = tmp_path / "notes.yaml"
    empty.write_text("just: text\n")
    status, out, err = run_iac("--format", "json", str(bad), str(empty))
    report = json.loads(out)
    assert status == 2 and report["resources"] == 0
    assert [e["file"] for e in report["errors"]] == [str(bad), str(empty)]
    assert report["errors"][0]["error"].startswith("neither JSON")


def test_cdk_out_directory(run_iac, tmp_path, org):
    import aws_cdk as cdk
    from aws_cdk import aws_eks as eks

    app = cdk.App(outdir=str(tmp_path / "cdk.out"))
    stack = cdk.Stack(app, "Access", env=cdk.Environment(account=ACCOUNT, region="eu-west-1"))
    eks.CfnAccessEntry(
        stack, "Ops", cluster_name="prod", principal_arn=f"arn:aws:iam::{ACCOUNT}:role/ops", username="platform:ops",
        access_policies=[eks.CfnAccessEntry.AccessPolicyProperty(
            policy_arn="arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy",
            access_scope=eks.CfnAccessEntry.AccessScopeProperty(type="cluster"))],
    )
    app.synth()
    status, out, _ = run_iac("--format", "json", "--config", org, "--account", ACCOUNT, str(tmp_path / "cdk.out"))
    report = json.loads(out)
    assert report["files"] == [str(tmp_path / "cdk.out" / "Access.template.json")]
    assert [(f["rule"], f["resource"]) for f in report["findings"]] == [("reserved-prefix", "Ops")]
    assert report["findings"][0]["line"] > 1 and report["errors"] == [] and status == 1


def test_an_empty_directory_is_an_error(run_iac, tmp_path):
    (tmp_path / "cdk.out").mkdir()
    status, out, _ = run_iac("--format", "json", str(tmp_path / "cdk.out"))
    assert status == 2 and json.loads(out)["errors"][0]["error"].startswith("no *.template.json")
