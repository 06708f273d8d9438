"""`eks-guardrail scan` and `inventory`, in-process on the emulator and against `local-aws`."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys

import boto3
import pytest

from eks_guardrail.cli import main
from eks_guardrail.cli._account import ProgressBar
from eks_guardrail.demo.world import ACCOUNT, CLUSTER_ADMIN
from eks_guardrail.sweep.snapshot import ClusterRef

EDIT = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSEditPolicy"


@pytest.fixture
def account(world, monkeypatch):
    """`world` plus a developer holding Edit in two namespaces and an IAM user with cluster admin."""
    monkeypatch.setenv("AWS_DEFAULT_REGION", world.region)
    eks = world.eks("platform")
    developer = world.role_arn("Developer")
    eks.create_access_entry(clusterName="prod", principalArn=developer, kubernetesGroups=["web-devs"])
    eks.associate_access_policy(clusterName="prod", principalArn=developer, policyArn=EDIT, accessScope={"type": "namespace", "namespaces": ["web", "api"]})
    world.platform.client("iam").create_user(UserName="mallory")
    mallory = f"arn:aws:iam::{ACCOUNT}:user/mallory"
    eks.create_access_entry(clusterName="prod", principalArn=mallory)
    eks.associate_access_policy(clusterName="prod", principalArn=mallory, policyArn=CLUSTER_ADMIN, accessScope={"type": "cluster"})
    return world


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_scan_json_reports_findings_and_exits_1(account, capsys):
    code, out, err = run(capsys, "scan", "--format", "json")
    assert code == 1, err
    document = json.loads(out)
    assert document["account"] == ACCOUNT and document["regions"] == [account.region]
    assert [c["name"] for c in document["clusters"]] == ["prod"]
    rules = {(f["rule"], f["principal_arn"]) for f in document["findings"]}
    assert ("prefer-roles", f"arn:aws:iam::{ACCOUNT}:user/mallory") in rules
    assert ("admin-policy", f"arn:aws:iam::{ACCOUNT}:user/mallory") in rules


def test_scan_is_read_only(account, capsys):
    before = account.entries("prod")
    run(capsys, "scan", "--format", "table")
    assert account.entries("prod") == before


def test_scan_clean_account_exits_0(world, capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("AWS_DEFAULT_REGION", world.region)
    config = tmp_path / "guardrail.yaml"
    config.write_text('rules:\n  admin-policy:\n    policies:\n      AmazonEKSClusterAdminPolicy: {allow: ["arn:aws:iam::*:role/Platform"]}\n')
    code, out, err = run(capsys, "scan", "--config", str(config))
    assert code == 0, out + err
    assert "0 finding(s), 0 error(s)" in out


def test_scan_sarif(account, capsys):
    code, out, _ = run(capsys, "scan", "--format", "sarif")
    document = json.loads(out)
    assert code == 1 and document["version"] == "2.1.0"
    run_ = document["runs"][0]
    rule_ids = [r["id"] for r in run_["tool"]["driver"]["rules"]]
    assert {"admin-policy", "stale-principal", "grants-nothing"} <= set(rule_ids)
    for result in run_["results"]:
        assert run_["tool"]["driver"]["rules"][result["ruleIndex"]]["id"] == result["ruleId"]
        assert result["level"] in ("error", "warning", "note")


def test_scan_without_region_exits_2(monkeypatch, capsys):
    for name in ("AWS_DEFAULT_REGION", "AWS_REGION"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    code, _, err = run(capsys, "scan")
    assert code == 2 and "no region" in err


def test_inventory_csv_has_a_row_per_association(account, capsys):
    code, out, _ = run(capsys, "inventory", "--format", "csv")
    assert code == 0
    table = list(csv.DictReader(io.StringIO(out)))
    developer = [r for r in table if r["principal_arn"].endswith(":role/Developer")]
    assert developer == [
        {"account": ACCOUNT, "region": account.region, "cluster": "prod", "authentication_mode": "API",
         "principal_arn": account.role_arn("Developer"), "principal_kind": "role", "entry_type": "STANDARD",
         "username": f"arn:aws:sts::{ACCOUNT}:assumed-role/Developer/{{{{SessionName}}}}", "groups": "web-devs",
         "policy": "AmazonEKSEditPolicy", "scope": "namespace", "namespaces": "web;api"}
    ]
    assert len(table) == 3


def test_inventory_json_and_table(account, capsys):
    code, out, _ = run(capsys, "inventory", "--format", "json")
    rows = json.loads(out)
    assert code == 0 and {r["policy"] for r in rows} == {"AmazonEKSClusterAdminPolicy", "AmazonEKSEditPolicy"}
    code, out, _ = run(capsys, "inventory")
    assert "PRINCIPAL_ARN" in out.splitlines()[0] and "3 row(s)" in out


def test_progress_bar_draws_in_place():
    stream = io.StringIO()
    bar = ProgressBar("scanning", stream=stream, width=10, force=True)
    bar(1, 2, ClusterRef("eu-west-1", "a"))
    bar(2, 2, ClusterRef("eu-west-1", "b"))
    assert stream.getvalue() == "\rscanning [#####.....] 1/2 eu-west-1/a\033[K\rscanning [##########] 2/2 eu-west-1/b\033[K\n"


def test_scan_against_the_local_endpoint(tmp_path):
    from eks_guardrail.local.server import LocalAWSServer

    with LocalAWSServer("127.0.0.1", 0) as server:
        env = {**os.environ, "AWS_ENDPOINT_URL": server.url, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "eu-west-1"}
        session = boto3.session.Session(aws_access_key_id="testing", aws_secret_access_key="testing", region_name="eu-west-1")
        iam = session.client("iam", endpoint_url=server.url)
        eks = session.client("eks", endpoint_url=server.url)
        iam.create_user(UserName="mallory")
        eks.create_cluster(name="remote", roleArn=f"arn:aws:iam::{ACCOUNT}:role/x", resourcesVpcConfig={"subnetIds": ["s"]},
                           accessConfig={"authenticationMode": "API", "bootstrapClusterCreatorAdminPermissions": False})
        eks.create_access_entry(clusterName="remote", principalArn=f"arn:aws:iam::{ACCOUNT}:user/mallory")
        proc = subprocess.run([sys.executable, "-m", "eks_guardrail", "scan", "--format", "json"], env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1, proc.stderr
    findings = json.loads(proc.stdout)["findings"]
    assert {"prefer-roles", "grants-nothing"} <= {f["rule"] for f in findings}
