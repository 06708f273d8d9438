"""`eks-guardrail scp`: registered on a fresh parser; json, table, --out, --boundary; exit 2 for bad config and rules that do not fit."""

from __future__ import annotations

import argparse
import json

import pytest

from eks_guardrail.cli import scp

from .eks_requests import ACCOUNT


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="eks-guardrail")
    scp.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return args.run(args)


def test_json_without_out_prints_the_documents_and_the_gaps(capsys):
    assert main(["scp"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert set(result) >= {"policies", "boundary", "scps_used", "gaps"}
    assert result["boundary"] is None and result["scps_used"] == len(result["policies"]) == 1
    policy = result["policies"][0]
    assert policy["name"] == "scp-1" and policy["characters"] == len(json.dumps(policy["document"], separators=(",", ":")))
    gaps = {gap["rule"]: gap for gap in result["gaps"]}
    assert "UpdateAccessEntry carries no request key" in gaps["reserved-prefix"]["gap"]
    assert all(gap["covered_by"] for gap in result["gaps"])
    assert {"rule": "admin-policy", "action": "alert", "statements": 2} in result["rules"]
    assert "alert as well as rollback" in result["decision"]


def test_boundary_in_json(capsys):
    assert main(["scp", "--boundary"]) == 0
    boundary = json.loads(capsys.readouterr().out)["boundary"]
    assert boundary["name"] == "boundary" and boundary["document"]["Statement"][0]["Effect"] == "Allow"


def test_table_shows_statements_usage_decision_and_gaps(capsys):
    assert main(["scp", "--format", "table"]) == 0
    out = capsys.readouterr().out
    assert "scp-1: 11 statement(s)" in out
    assert "  ReservedPrefix1 [reserved-prefix] denies CreateAccessEntry with a Kubernetes group starting with system:" in out
    assert "      ForAnyValue:StringLike eks:kubernetesGroups: system:*, eks:*, aws:*, amazon:*, … and 1 more" in out
    assert "ArnNotLike aws:PrincipalArn: the excepted callers" in out
    assert "uses 1 of the 5 SCPs a target can have" in out
    assert "what an SCP cannot prevent, and what covers it:" in out and "covered by: the IAM-principal handler and the sweep" in out


def test_out_writes_minified_files_and_prints_a_summary(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "scps").mkdir()
    (tmp_path / "scps" / "scp-7.json").write_text("{}")  # left from a longer run
    (tmp_path / "scps" / "scp-notes.json").write_text("{}")  # not ours
    assert main(["scp", "--out", "scps", "--boundary", "--format", "table"]) == 0
    out = capsys.readouterr().out
    assert sorted(p.name for p in (tmp_path / "scps").iterdir()) == ["boundary.json", "scp-1.json", "scp-notes.json"]
    text = (tmp_path / "scps" / "scp-1.json").read_text().rstrip("\n")
    assert text == json.dumps(json.loads(text), separators=(",", ":"), ensure_ascii=False)  # minified: what is counted is what is uploaded
    assert out.startswith(f"wrote scps/scp-1.json: 11 statement(s), {len(text):,} of 5,120 characters\nwrote scps/boundary.json: ")


def test_out_with_json_names_the_files(tmp_path, capsys):
    assert main(["scp", "--out", str(tmp_path)]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["policies"][0]["file"] == str(tmp_path / "scp-1.json")
    assert json.loads((tmp_path / "scp-1.json").read_text()) == result["policies"][0]["document"]


def test_bad_config_exits_2(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("rules:\n  admin-policy:\n    action: block\n")
    assert main(["scp", "--config", str(bad)]) == 2
    assert "rules.admin-policy.action" in capsys.readouterr().err
    assert main(["scp", "--config", str(tmp_path / "missing.yaml")]) == 2
    assert "cannot read the file" in capsys.readouterr().err


def test_rules_that_do_not_fit_exit_2_saying_which(tmp_path, capsys):
    arns = "\n".join(f"          - arn:aws:iam::{ACCOUNT}:role/team-{n:04d}-admin" for n in range(800))
    config = tmp_path / "big.yaml"
    config.write_text(f"rules:\n  admin-policy:\n    policies:\n      AmazonEKSClusterAdminPolicy:\n        allow:\n{arns}\n")
    assert main(["scp", "--config", str(config), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert "more than the 5 a target can have" in err and "admin-policy" in err
    assert not (tmp_path / "out").exists()


def test_a_boundary_that_does_not_fit_exits_2(tmp_path, capsys):
    arns = "\n".join(f"          - arn:aws:iam::{ACCOUNT}:role/team-{n:04d}-admin" for n in range(300))
    config = tmp_path / "big.yaml"
    config.write_text(f"rules:\n  admin-policy:\n    policies:\n      AmazonEKSClusterAdminPolicy:\n        allow:\n{arns}\n")
    assert main(["scp", "--config", str(config)]) == 0
    capsys.readouterr()
    assert main(["scp", "--config", str(config), "--boundary"]) == 2
    assert "permissions boundary takes" in capsys.readouterr().err


@pytest.mark.parametrize("fmt", ["json", "table"])
def test_every_rule_off_writes_nothing(tmp_path, capsys, fmt):
    from eks_guardrail.rules import REGISTRY

    config = tmp_path / "off.yaml"
    config.write_text("rules:\n" + "".join(f"  {rule}:\n    action: 'off'\n" for rule in REGISTRY))
    assert main(["scp", "--config", str(config), "--format", fmt]) == 0
    out = capsys.readouterr().out
    assert ("uses 0 of the 5" in out) if fmt == "table" else json.loads(out)["scps_used"] == 0
