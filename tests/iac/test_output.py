"""`iac`'s SARIF (a physical location on every result) and table output."""

from __future__ import annotations

import json

from .plans import ACCOUNT, entry_state, plan, resource_change
from .test_cloudformation import YAML_TEMPLATE

PLATFORM = f"arn:aws:iam::{ACCOUNT}:role/PlatformAdmin"


def test_sarif_locates_findings_and_undecided_resources(run_iac, tmp_path, write_json, org_file):
    template = tmp_path / "eks.yaml"
    template.write_text(YAML_TEMPLATE)
    tfplan = write_json("tfplan.json", plan([resource_change("aws_eks_access_entry.platform", ["delete"], entry_state(PLATFORM, user_name="p", groups=[]), None)]))
    status, out, _ = run_iac("--format", "sarif", "--config", org_file, "--account", ACCOUNT, "--parameter", "Groups=a", str(template), tfplan)
    log = json.loads(out)
    assert log["version"] == "2.1.0" and status == 1
    run = log["runs"][0]
    located = [
        (r["ruleId"], r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"], r["locations"][0]["physicalLocation"]["region"]["startLine"],
         r["locations"][0]["logicalLocations"][0]["name"])
        for r in run["results"]
    ]
    assert located == [
        ("authentication-mode", template.as_posix(), 9, "Cluster"),
        ("bootstrap-admin", template.as_posix(), 9, "Cluster"),
        ("custom-username", template.as_posix(), 19, "TeamEntry"),
        ("admin-policy", template.as_posix(), 19, "TeamEntry"),
        ("protected-entry", tfplan, 1, "aws_eks_access_entry.platform"),
        ("iac-undecided", template.as_posix(), 30, "PartnerEntry"),
    ]
    assert "iac-undecided" in {rule["id"] for rule in run["tool"]["driver"]["rules"]}
    assert run["results"][4]["level"] == "error"


def test_table_for_people_and_a_clean_exit(run_iac, write_json, org_file):
    tfplan = write_json("tfplan.json", plan([resource_change("aws_eks_access_entry.platform", ["delete"], entry_state(PLATFORM, user_name="p", groups=[]), None)]))
    status, out, _ = run_iac("--config", org_file, tfplan)
    assert status == 1
    assert out.splitlines()[:2] == [f"{tfplan}:1  aws_eks_access_entry.platform", "  - protected-entry      critical rollback"]
    assert out.endswith("1 resource(s) in 1 file(s): 1 finding(s), 0 undecided, 0 unreadable\n")
    clean = write_json("clean.json", plan([resource_change("aws_eks_access_entry.dev", ["delete"], entry_state(f"arn:aws:iam::{ACCOUNT}:role/dev", user_name="d", groups=[]), None)]))
    status, out, _ = run_iac("--config", org_file, clean)
    assert status == 0 and out.strip() == "1 resource(s) in 1 file(s): 0 finding(s), 0 undecided, 0 unreadable"


def test_bad_flags_and_config_exit_2(run_iac, write_json, tmp_path):
    tfplan = write_json("tfplan.json", plan([]))
    assert run_iac("--account", "12", tfplan)[0] == 2
    assert run_iac("--parameter", "novalue", tfplan)[0] == 2
    bad = tmp_path / "bad.yaml"
    bad.write_text("rules: {nope: {}}\n")
    status, _out, err = run_iac("--config", str(bad), tfplan)
    assert status == 2 and "nope" in err
