"""What the command line imports: `evaluate` and every `--help` start without the AWS SDK.

Each command runs in a fresh interpreter (`python -m eks_guardrail`) that reports, after the
command, which of the heavy modules were imported; the output is checked as well. No timings
here: benchmarks measure those.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from eks_guardrail.cli import COMMANDS, build_parser, command_in

EVENTS = Path(__file__).parent / "events"
AWS_SDK = ("boto3", "botocore", "s3transfer", "urllib3")

PROBE = """
import json, runpy, sys
sys.argv = ["eks-guardrail", *sys.argv[1:]]
try:
    runpy.run_module("eks_guardrail", run_name="__main__")
except SystemExit as exit:
    code = exit.code
else:
    code = 0
sys.stdout.flush()
sys.stderr.write("\\nIMPORTED " + json.dumps(sorted(m for m in sys.modules if "." not in m or m.startswith("eks_guardrail."))) + "\\n")
sys.exit(code)
"""


def run_cli(*argv: str, cwd: Path) -> tuple[int, str, str, set[str]]:
    """Exit status, standard output, standard error (without the report) and the imported modules."""
    done = subprocess.run([sys.executable, "-c", PROBE, *argv], capture_output=True, text=True, cwd=cwd, timeout=120)
    err, _, report = done.stderr.rpartition("\nIMPORTED ")
    assert report, done.stderr
    return done.returncode, done.stdout, err, set(json.loads(report))


def test_evaluate_imports_neither_the_aws_sdk_nor_yaml(tmp_path):
    event = EVENTS / "eks_CreateAccessEntry_stratus-red-team.json"
    code, out, err, imported = run_cli("evaluate", str(event), cwd=tmp_path)
    assert (code, err.strip()) == (0, "")
    assert [json.loads(line) for line in out.splitlines()] == [
        {
            "event_id": "",
            "event_name": "CreateAccessEntry",
            "status": "evaluated",
            "reason": "complies with every rule",
            "findings": [],
            "source": str(event),
        }
    ]
    assert not imported & {*AWS_SDK, "yaml", "aws_lambda_powertools"}
    # nor the other commands' modules
    assert not {m for m in imported if m.startswith("eks_guardrail.cli.")} - {
        "eks_guardrail.cli.evaluate", "eks_guardrail.cli._judging", "eks_guardrail.cli._status_line"
    }


def test_evaluate_with_findings_and_a_rules_file(tmp_path):
    config = tmp_path / "guardrail.yaml"
    config.write_text("mode: enforce\nrules:\n  admin-policy: {action: rollback}\n", encoding="utf-8")
    event = EVENTS / "eks_AssociateAccessPolicy_stratus-red-team.json"
    code, out, err, imported = run_cli("evaluate", "--config", str(config), "--format", "table", str(event), cwd=tmp_path)
    assert (code, err.strip()) == (1, "")
    assert "AssociateAccessPolicy" in out and "admin-policy" in out and "rollback" in out
    assert "yaml" in imported  # a rules file is YAML
    assert not imported & set(AWS_SDK)


@pytest.mark.parametrize("command", [None, *COMMANDS])
def test_help_imports_no_aws_sdk(tmp_path, command):
    argv = [command, "--help"] if command else ["--help"]
    code, out, err, imported = run_cli(*argv, cwd=tmp_path)
    assert (code, err.strip()) == (0, "")
    assert out.startswith(f"usage: eks-guardrail {command or ''}".rstrip() + " ")
    assert not imported & set(AWS_SDK), sorted(imported & set(AWS_SDK))
    if command is None:  # the list of commands needs none of their modules
        assert not {m for m in imported if m.startswith("eks_guardrail.") and m != "eks_guardrail.cli"}
        assert all(name in out for name in COMMANDS)


def test_scan_help_lists_its_options(tmp_path):
    code, out, _, imported = run_cli("scan", "--help", cwd=tmp_path)
    assert code == 0
    assert all(option in out for option in ("--config", "--regions", "--workers", "--format"))
    assert "eks_guardrail.sweep.run" not in imported


def test_unknown_command_lists_every_command(tmp_path):
    code, _, err, imported = run_cli("evalute", "x.json", cwd=tmp_path)
    assert code == 2
    assert "invalid choice: 'evalute'" in err and all(repr(name) in err for name in COMMANDS)
    assert not imported & set(AWS_SDK)


def test_the_command_list_is_what_the_modules_register():
    """`COMMANDS` repeats each module's one-line help: the lazy parser's help is the full one's."""
    assert build_parser([]).format_help() == build_parser().format_help()


@pytest.mark.parametrize(
    "argv, command",
    [
        (["evaluate", "x.json"], "evaluate"),
        (["--version"], None),
        (["-h", "scan"], "scan"),
        (["local-aws", "--port", "5001"], "local-aws"),
        (["nope", "scan"], None),
        ([], None),
    ],
)
def test_command_in(argv, command):
    assert command_in(argv) == command
