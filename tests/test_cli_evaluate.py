"""`eks-guardrail evaluate`: output contract and exit codes."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

import cloudtrail_builder as ct
from eks_guardrail.cli import main

ROOT = Path(__file__).parent.parent
EVENTS = Path(__file__).parent / "events"


def write(tmp_path: Path, name: str, data) -> str:
    path = tmp_path / name
    path.write_text(json.dumps(data) if not isinstance(data, str) else data)
    return str(path)


def run(capsys, *argv: str) -> tuple[int, list[dict], str]:
    code = main(["evaluate", *argv])
    out, err = capsys.readouterr()
    return code, [json.loads(line) for line in out.splitlines() if line.strip()], err


def test_compliant_event_exits_0(tmp_path, capsys):
    path = write(tmp_path, "ok.json", ct.eventbridge(ct.create_access_entry(ct.role_arn("Dev"))))
    code, results, err = run(capsys, path)
    assert code == 0 and err == ""
    assert results == [
        {"event_id": results[0]["event_id"], "event_name": "CreateAccessEntry", "status": "evaluated",
         "reason": "complies with every rule", "findings": [], "source": path}
    ]


def test_findings_exit_1_with_documented_fields(tmp_path, capsys):
    path = write(tmp_path, "bad.json", ct.create_access_entry(ct.user_arn("mallory")))
    code, (result,), _ = run(capsys, path)
    assert code == 1
    assert result["status"] == "evaluated"
    (finding,) = result["findings"]
    assert {"rule", "severity", "action", "exempt", "message", "principal_arn", "cluster"} <= set(finding)
    assert (finding["rule"], finding["principal_arn"], finding["cluster"]) == ("prefer-roles", ct.user_arn("mallory"), "prod")


def test_array_file_and_config(tmp_path, capsys):
    config = write(tmp_path, "guardrail.yaml", "mode: enforce\nrules:\n  prefer-roles: {action: rollback}\n")
    events = [
        ct.create_access_entry(ct.user_arn("mallory")),
        ct.create_access_entry(ct.role_arn("Dev"), error_code="AccessDeniedException"),
        ct.cloudtrail_record("eks", "ListAccessEntries", {"clusterName": "prod"}),
    ]
    path = write(tmp_path, "many.json", events)
    code, results, err = run(capsys, "--config", config, path)
    assert code == 1
    assert [r["status"] for r in results] == ["evaluated", "skipped"]
    assert [r["source"] for r in results] == [f"{path}[0]", f"{path}[1]"]
    assert results[0]["findings"][0]["action"] == "rollback"
    assert "AccessDeniedException" in results[1]["reason"]  # a watched call that failed is still shown
    # A read the guardrail does not watch is counted, not printed.
    assert err == (
        "eks-guardrail: 2 event(s), 1 finding(s), from 3 record(s) in 1 file(s); 1 skipped quietly "
        "(0 of other services, 1 EKS/IAM calls the guardrail does not watch)\n"
    )


def test_exempt_findings_alone_exit_0(tmp_path, capsys):
    config = write(tmp_path, "guardrail.yaml", 'exemptions: {principals: ["arn:aws:iam::*:user/mallory"]}\n')
    code, (result,), _ = run(capsys, "--config", config, write(tmp_path, "e.json", ct.create_access_entry(ct.user_arn("mallory"))))
    assert code == 0 and result["findings"][0]["exempt"] is True


def test_bad_input_exits_2_and_other_events_are_still_reported(tmp_path, capsys):
    broken = ct.create_access_entry(ct.role_arn("Dev"))
    del broken["requestParameters"]["name"]
    good = write(tmp_path, "good.json", ct.create_access_entry(ct.user_arn("mallory")))
    bad = write(tmp_path, "bad.json", [broken])
    not_json = write(tmp_path, "nope.json", "{not json")
    code, results, err = run(capsys, bad, good, not_json, str(tmp_path / "missing.json"))
    assert code == 2
    assert [r["source"] for r in results] == [good]
    assert f"{bad}[0]: requestParameters.name: missing" in err
    assert f"{not_json}: not valid JSON" in err
    assert "missing.json: cannot read" in err
    assert "Traceback" not in err


def test_bad_config_exits_2_with_its_path(tmp_path, capsys):
    config = write(tmp_path, "guardrail.yaml", "rules:\n  admin-policy: {acton: rollback}\n")
    code, results, err = run(capsys, "--config", config, str(EVENTS / "eks_CreateAccessEntry_stratus-red-team.json"))
    assert code == 2 and results == []
    assert "rules.admin-policy.acton: unknown key" in err


def test_stdin(monkeypatch, capsys):
    monkeypatch.setattr(sys, "stdin", io.StringIO(json.dumps(ct.eventbridge(ct.delete_role("old")))))
    code, (result,), _ = run(capsys, "-")
    assert code == 0 and result["event_name"] == "DeleteRole" and result["source"] == "<stdin>"


def test_table_format(capsys):
    code = main(["evaluate", "--format", "table", str(EVENTS / "eks_AssociateAccessPolicy_stratus-red-team.json")])
    out = capsys.readouterr().out
    assert code == 1
    assert "admin-policy" in out and "critical" in out and "1 event(s), 1 finding(s)" in out


def test_console_script_runs_in_a_subprocess():
    proc = subprocess.run(
        [sys.executable, "-m", "eks_guardrail", "evaluate", "--config", str(ROOT / "guardrail.example.yaml"),
         str(EVENTS / "eks_CreateCluster_aws-eks-userguide.json")],
        capture_output=True, text=True, check=False,
    )
    assert proc.returncode == 1, proc.stderr
    rules = {f["rule"] for f in json.loads(proc.stdout)["findings"]}
    assert rules == {"authentication-mode", "bootstrap-admin"}


def test_usage_errors_exit_2(capsys):
    with pytest.raises(SystemExit) as raised:
        main(["evaluate"])
    assert raised.value.code == 2


def test_bundled_example_events_show_each_kind_of_violation(capsys):
    code, results, err = run(capsys, "--config", str(ROOT / "guardrail.example.yaml"), str(ROOT / "examples" / "access-entry-changes.json"))
    assert code == 1 and err == ""
    fired = [f["rule"] for r in results for f in r["findings"]]
    assert sorted(set(fired)) == ["admin-policy", "cross-account", "namespace-scope", "prefer-roles", "protected-entry", "required-tags", "reserved-prefix"]
    assert [r["status"] for r in results].count("skipped") == 1
    # monitor mode: nothing is rolled back, every rollback is reported as an alert
    assert {f["action"] for r in results for f in r["findings"]} == {"alert"}


def test_gzipped_stdin_and_cloudtrail_log_files(monkeypatch, capsys):
    import gzip

    log_file = {"Records": [ct.create_access_entry(ct.user_arn("mallory")), ct.delete_role("old")]}
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(gzip.compress(json.dumps(log_file).encode()))))
    code, results, err = run(capsys, "-")
    assert code == 1 and err == ""
    assert [(r["source"], r["event_name"]) for r in results] == [("<stdin>[0]", "CreateAccessEntry"), ("<stdin>[1]", "DeleteRole")]


def test_garbage_and_broken_gzip_are_reported_without_a_traceback(tmp_path, capsys):
    garbage = tmp_path / "garbage.json"
    garbage.write_bytes(b"\xff\xfe\x00 not json")
    broken = tmp_path / "trail.json.gz"
    broken.write_bytes(b"\x1f\x8b\x08\x00broken")
    code, results, err = run(capsys, str(garbage), str(broken), write(tmp_path, "ok.json", ct.delete_role("old")))
    assert code == 2 and len(results) == 1
    assert f"{garbage}: not UTF-8 text" in err and f"{broken}: not a readable gzip file" in err
    assert "Traceback" not in err
