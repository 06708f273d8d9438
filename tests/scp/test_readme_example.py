"""The README's SCP example is what the command prints (the text proposed for the README, and the README once it has it)."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import pytest

from eks_guardrail.cli import scp

README = Path(__file__).resolve().parents[2] / "README.md"
COMMAND = "eks-guardrail scp --config guardrail.yaml --out scps --format table"

EXAMPLE_CONFIG = """\
# guardrail.yaml: the SCP example
trusted_accounts: ["999988887777"]
exemptions:
  principals: ["arn:aws:iam::111122223333:role/BreakGlass"]
rules:
  reserved-prefix: {action: rollback, prefixes: ["platform:"]}
  admin-policy:
    action: rollback
    policies:
      AmazonEKSClusterAdminPolicy: {allow: ["arn:aws:iam::111122223333:role/Platform"]}
      AmazonEKSEditPolicy: {allow_namespaced: true}
  protected-entry: {action: rollback, principals: ["arn:aws:iam::111122223333:role/Platform"]}
  custom-username: {action: "off"}
  grants-nothing: {action: "off"}
"""

EXAMPLE_OUTPUT = """\
wrote scps/scp-1.json: 10 statement(s), 4,900 of 5,120 characters
wrote scps/scp-2.json: 2 statement(s), 897 of 5,120 characters
uses 2 of the 5 SCPs a target can have (FullAWSAccess counts among them where it is attached to the same target)
statements for every rule not off: alert as well as rollback (an SCP prevents; the guardrail still judges)
on, but nothing an SCP can say with these settings: exemption-tag, node-entry-principal, required-tags, stale-principal
what an SCP cannot prevent, and what covers it:
  - node-entry-principal: an SCP cannot read a role's trust policy: without node_roles no statement is written, with node_roles only those roles get node, Fargate or hybrid entries; entry types newer than today's list are not named
    covered by: the handler and the sweep read the role's trust policy (iam:GetRole) and alert
  - protected-entry: DeleteAccessEntry, UpdateAccessEntry and DisassociateAccessPolicy have no request keys: they are denied by the entry's own eks:principalArn (a key of the access-entry resource in the Service Authorization Reference, not seen on a live call); an entry also goes with its cluster (DeleteCluster), and stops working when its IAM principal is deleted or recreated
    covered by: the guardrail restores a protected entry from the ledger (handlers and sweep), whatever removed or weakened it
  - reserved-prefix: UpdateAccessEntry carries no request key for the new username or groups (its eks:username and eks:kubernetesGroups are the entry's current ones): an update to a reserved username or group cannot be denied
    covered by: the access-entry handler judges every UpdateAccessEntry; with rollback it restores the last known good username and groups
  - stale-principal: no EKS call is made: the IAM principal is deleted or recreated (IAM DeleteRole/DeleteUser, CreateRole), leaving its entry dangling or stale
    covered by: the IAM-principal handler and the sweep
  - SCPs do not apply to the management account's principals or to service-linked roles
    covered by: the guardrail judges every call CloudTrail records, whoever made it
  - the excepted callers (exemptions.principals; the guardrail's roles) pass every statement
    covered by: the guardrail still judges the exempt principals' calls
  - whoever can create an IAM role named like the guardrail's (eks-guardrail-<function>-<region>) passes every statement
    covered by: nothing in eks-guardrail, which ignores its own roles' calls as well: keep those names for the deployment (for example an SCP denying iam:CreateRole on role/eks-guardrail-* to all but the deploying role)
"""


def printed(tmp_path, capsys, monkeypatch, config: str) -> str:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "guardrail.yaml").write_text(config, encoding="utf-8")
    parser = argparse.ArgumentParser(prog="eks-guardrail")
    scp.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(COMMAND.split()[1:])
    assert args.run(args) == 0
    return capsys.readouterr().out


def test_the_proposed_readme_example_is_what_the_command_prints(tmp_path, capsys, monkeypatch):
    assert printed(tmp_path, capsys, monkeypatch, EXAMPLE_CONFIG) == EXAMPLE_OUTPUT
    assert sorted(p.name for p in (tmp_path / "scps").iterdir()) == ["scp-1.json", "scp-2.json"]


def test_the_readme_example_is_what_the_command_prints(tmp_path, capsys, monkeypatch):
    readme = README.read_text(encoding="utf-8")
    config = re.search(r"```yaml\n(# guardrail.yaml: the SCP example\n.*?)```", readme, re.S)
    output = re.search(r"```\n(wrote scps/scp-1\.json: .*?)```", readme, re.S)
    if not (config and output and COMMAND in readme):
        pytest.skip("the README has no SCP example yet")
    assert printed(tmp_path, capsys, monkeypatch, config.group(1)) == output.group(1)
