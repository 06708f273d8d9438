"""`eks-guardrail migrate plan|apply|verify` end to end on the emulator: a CONFIG_MAP cluster with managed node
groups, Fargate, self-managed Windows nodes, an SSO role with a path, users and `system:masters`."""

from __future__ import annotations

import json

import boto3
import pytest

from eks_guardrail.cli import main
from eks_guardrail.local import mock_aws

REGION = "eu-west-1"
TRUST = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]})
CONFIG = """\
mode: enforce
trusted_accounts: []
rules:
  prefer-roles: {action: rollback}
  admin-policy:
    action: rollback
    policies:
      AmazonEKSClusterAdminPolicy: {allow: ["arn:aws:iam::*:role/aws-reserved/sso.amazonaws.com/*/AWSReservedSSO_Admin_*"]}
"""

AWS_AUTH = """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: aws-auth
  namespace: kube-system
data:
  mapRoles: |
    - groups:
      - system:bootstrappers
      - system:nodes
      rolearn: arn:aws:iam::{account}:role/NodeRole
      username: system:node:{{{{EC2PrivateDNSName}}}}
    - groups:
      - system:bootstrappers
      - system:nodes
      - system:node-proxier
      rolearn: arn:aws:iam::{account}:role/PodExec
      username: system:node:{{{{SessionName}}}}
    - groups:
      - system:bootstrappers
      - system:nodes
      - eks:kube-proxy-windows
      rolearn: arn:aws:iam::{account}:role/WinNode
      username: system:node:{{{{EC2PrivateDNSName}}}}
    - rolearn: arn:aws:iam::{account}:role/AWSReservedSSO_Admin_abc
      username: admin:{{{{SessionName}}}}
      groups:
      - system:masters
    - rolearn: arn:aws:iam::{account}:role/Dev
      username: dev:{{{{SessionName}}}}
      groups:
      - developers
  mapUsers: |
    - userarn: arn:aws:iam::{account}:user/bob
      username: bob
      groups:
      - system:masters
  mapAccounts: |
    - "444455556666"
"""


@pytest.fixture
def world(monkeypatch, tmp_path):
    for key, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": REGION}.items():
        monkeypatch.setenv(key, value)
    with mock_aws():
        iam, eks = boto3.client("iam", region_name="us-east-1"), boto3.client("eks", region_name=REGION)
        account = boto3.client("sts", region_name="us-east-1").get_caller_identity()["Account"]
        for role in ("eks-cluster-role", "NodeRole", "PodExec", "WinNode", "Dev"):
            iam.create_role(RoleName=role, AssumeRolePolicyDocument=TRUST)
        iam.create_role(RoleName="AWSReservedSSO_Admin_abc", Path="/aws-reserved/sso.amazonaws.com/eu-west-1/", AssumeRolePolicyDocument=TRUST)
        iam.create_user(UserName="bob")
        eks.create_cluster(name="prod", roleArn=f"arn:aws:iam::{account}:role/eks-cluster-role", resourcesVpcConfig={"subnetIds": ["subnet-1"]},
                           accessConfig={"authenticationMode": "CONFIG_MAP"})
        eks.create_nodegroup(clusterName="prod", nodegroupName="ng", nodeRole=f"arn:aws:iam::{account}:role/NodeRole", subnets=["subnet-1"])
        eks.create_fargate_profile(clusterName="prod", fargateProfileName="fp", podExecutionRoleArn=f"arn:aws:iam::{account}:role/PodExec",
                                   subnets=["subnet-1"], selectors=[{"namespace": "default"}])
        (tmp_path / "aws-auth.yaml").write_text(AWS_AUTH.format(account=account))
        (tmp_path / "guardrail.yaml").write_text(CONFIG)
        yield {"account": account, "eks": eks, "dir": tmp_path}


def _run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def _plan(world, capsys, fmt: str = "json") -> tuple[int, str]:
    d = world["dir"]
    code, out, err = _run(capsys, "migrate", "plan", "--aws-auth", str(d / "aws-auth.yaml"), "--cluster", "prod",
                          "--config", str(d / "guardrail.yaml"), "--region", REGION, "--format", fmt)
    assert code in (0, 1), err
    return code, out


def test_the_plan_maps_every_kind_of_principal_and_judges_it(world, capsys):
    account = world["account"]
    code, out = _plan(world, capsys)
    plan = json.loads(out)
    assert code == 1  # findings (bob) and items not carried (mapAccounts)
    by_principal = {e["principalArn"]: e for e in plan["entries"]}
    sso = f"arn:aws:iam::{account}:role/aws-reserved/sso.amazonaws.com/eu-west-1/AWSReservedSSO_Admin_abc"
    assert by_principal[sso]["type"] == "STANDARD" and by_principal[sso]["status"] == "create"
    assert by_principal[sso]["policies"] == [{"policyArn": "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy", "accessScope": {"type": "cluster"}}]
    assert "system:masters" not in by_principal[sso]["kubernetesGroups"]
    assert [f["rule"] for f in by_principal[sso]["findings"]] == ["custom-username"]  # alert only: does not block apply
    assert by_principal[f"arn:aws:iam::{account}:role/NodeRole"]["status"] == "managed"
    assert by_principal[f"arn:aws:iam::{account}:role/PodExec"]["status"] == "managed"
    assert by_principal[f"arn:aws:iam::{account}:role/WinNode"]["type"] == "EC2_WINDOWS"
    assert by_principal[f"arn:aws:iam::{account}:role/Dev"]["kubernetesGroups"] == ["developers"]
    bob = by_principal[f"arn:aws:iam::{account}:user/bob"]
    assert {"admin-policy", "prefer-roles"} <= {f["rule"] for f in bob["findings"]}  # system:masters on an IAM user
    assert any(n["what"] == "444455556666" for n in plan["not_carried"])
    assert plan["cluster"] == "prod" and plan["region"] == REGION and plan["authenticationMode"] == "CONFIG_MAP"


def test_shell_and_table_formats(world, capsys):
    _, shell = _plan(world, capsys, "shell")
    assert f"aws eks --region {REGION} update-cluster-config --name prod --access-config authenticationMode=API_AND_CONFIG_MAP" in shell
    assert "create-access-entry --cluster-name prod --principal-arn" in shell and "--type EC2_WINDOWS" in shell
    assert "associate-access-policy" in shell and "--access-scope type=cluster" in shell
    assert "# FINDING prefer-roles" in shell and "# not carried over: 444455556666" in shell
    _, table = _plan(world, capsys, "table")
    assert "managed " in table and "to create" in table and "Not carried over:" in table


def test_apply_needs_the_api_and_config_map_mode_then_creates_verifies_and_is_idempotent(world, capsys):
    d, eks, account = world["dir"], world["eks"], world["account"]
    _, out = _plan(world, capsys)
    (d / "plan.json").write_text(out)
    code, out, err = _run(capsys, "migrate", "apply", "--plan", str(d / "plan.json"))
    assert code == 2 and "authenticationMode=API_AND_CONFIG_MAP" in err  # offers the command, changes nothing
    eks.update_cluster_config(name="prod", accessConfig={"authenticationMode": "API_AND_CONFIG_MAP"})

    code, out, err = _run(capsys, "migrate", "apply", "--plan", str(d / "plan.json"))
    assert code == 1, err  # bob's entry has findings: skipped, so not finished
    assert f"skipped  arn:aws:iam::{account}:user/bob" in out
    principals = set(eks.list_access_entries(clusterName="prod")["accessEntries"])
    sso = f"arn:aws:iam::{account}:role/aws-reserved/sso.amazonaws.com/eu-west-1/AWSReservedSSO_Admin_abc"
    assert {sso, f"arn:aws:iam::{account}:role/Dev", f"arn:aws:iam::{account}:role/WinNode"} <= principals
    assert f"arn:aws:iam::{account}:user/bob" not in principals
    assert eks.describe_access_entry(clusterName="prod", principalArn=f"arn:aws:iam::{account}:role/WinNode")["accessEntry"]["type"] == "EC2_WINDOWS"

    code, out, err = _run(capsys, "migrate", "apply", "--plan", str(d / "plan.json"), "--accept-findings")
    assert code == 0, out + err
    assert f"present  {sso}" in out and f"created  arn:aws:iam::{account}:user/bob" in out
    assert f"aws eks update-cluster-config --region {REGION} --name prod --access-config authenticationMode=API" in out
    before = {p: eks.describe_access_entry(clusterName="prod", principalArn=p)["accessEntry"]["modifiedAt"]
              for p in eks.list_access_entries(clusterName="prod")["accessEntries"]}
    code, out, _ = _run(capsys, "migrate", "apply", "--plan", str(d / "plan.json"), "--accept-findings")
    assert code == 0 and "created " not in out  # a re-run changes nothing
    after = {p: eks.describe_access_entry(clusterName="prod", principalArn=p)["accessEntry"]["modifiedAt"] for p in before}
    assert after == before
    # Planned again, every applied principal shows as existing; a changed entry shows the difference.
    eks.update_access_entry(clusterName="prod", principalArn=f"arn:aws:iam::{account}:role/Dev", kubernetesGroups=["ops"])
    replanned = {e["principalArn"]: e for e in json.loads(_plan(world, capsys)[1])["entries"]}
    assert replanned[sso]["status"] == "exists" and replanned[sso]["reason"] == "the principal already has this entry"
    dev = replanned[f"arn:aws:iam::{account}:role/Dev"]
    assert dev["status"] == "exists" and "differs: groups ['ops'], planned ['developers']" in dev["reason"]


def test_apply_refuses_to_finish_without_a_cluster_admin_path(world, capsys):
    d, eks = world["dir"], world["eks"]
    eks.update_cluster_config(name="prod", accessConfig={"authenticationMode": "API_AND_CONFIG_MAP"})
    for principal in eks.list_access_entries(clusterName="prod")["accessEntries"]:  # the creator's admin entry, gone
        eks.delete_access_entry(clusterName="prod", principalArn=principal)
    plan = json.loads(_plan(world, capsys)[1])
    plan["entries"] = [e for e in plan["entries"] if not e["policies"]]  # nobody planned as cluster admin
    (d / "plan.json").write_text(json.dumps(plan))
    code, out, _ = _run(capsys, "migrate", "apply", "--plan", str(d / "plan.json"), "--accept-findings")
    assert code == 1
    assert "REFUSED to finish: no access entry of the cluster is a cluster-admin path" in out
    assert "authenticationMode=API\n" not in out


def test_verify_compares_aws_auth_with_the_entries_now(world, capsys):
    d, eks = world["dir"], world["eks"]
    eks.update_cluster_config(name="prod", accessConfig={"authenticationMode": "API_AND_CONFIG_MAP"})
    argv = ("migrate", "verify", "--aws-auth", str(d / "aws-auth.yaml"), "--cluster", "prod", "--config", str(d / "guardrail.yaml"), "--region", REGION)
    code, out, _ = _run(capsys, *argv)
    assert code == 1 and "missing " in out
    _, plan_json = _plan(world, capsys)
    (d / "plan.json").write_text(plan_json)
    _run(capsys, "migrate", "apply", "--plan", str(d / "plan.json"), "--accept-findings")
    for role in ("NodeRole", "PodExec"):  # EKS creates these itself for managed node groups and Fargate profiles
        eks.create_access_entry(clusterName="prod", principalArn=f"arn:aws:iam::{world['account']}:role/{role}",
                                type="EC2_LINUX" if role == "NodeRole" else "FARGATE_LINUX")
    code, out, _ = _run(capsys, *argv)
    assert code == 0, out
    assert "0 principal(s) of aws-auth without their entry" in out


def test_bad_aws_auth_input_exits_2_with_the_path(world, capsys):
    d = world["dir"]
    (d / "bad.yaml").write_text("kind: ConfigMap\ndata:\n  mapRoles: |\n    - groups: [x]\n")
    code, _, err = _run(capsys, "migrate", "plan", "--aws-auth", str(d / "bad.yaml"), "--cluster", "prod", "--region", REGION)
    assert code == 2 and "mapRoles[0].rolearn" in err and "Traceback" not in err
    code, _, err = _run(capsys, "migrate", "plan", "--aws-auth", str(d / "nope.yaml"), "--cluster", "prod", "--region", REGION)
    assert code == 2 and "nope.yaml" in err
    code, _, err = _run(capsys, "migrate", "plan", "--aws-auth", str(d / "aws-auth.yaml"), "--cluster", "nope", "--region", REGION)
    assert code == 2 and "no cluster nope" in err
