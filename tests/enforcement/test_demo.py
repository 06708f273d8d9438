"""`eks-guardrail demo`: the whole story runs offline and proves itself."""

from __future__ import annotations

import io
import subprocess
import sys

from eks_guardrail.config import org_rules_from_data
from eks_guardrail.demo.story import BAD_CHANGES, run_demo


def test_demo_console_script_catches_undoes_and_alerts_every_planted_violation():
    proc = subprocess.run([sys.executable, "-m", "eks_guardrail", "demo"], capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = proc.stdout
    for rule in {r for change in BAD_CHANGES for r in change.rules}:
        assert f"caught and undone  {rule}" in out
    assert "AWS rejected the call: InvalidParameterException" in out
    assert "SNS topic: 5 message(s); Slack webhook on 127.0.0.1: 5 message(s)" in out
    assert "access entries are back to where they were" in out


def test_demo_in_monitor_mode_reports_nothing_undone_and_exits_1():
    out = io.StringIO()
    code = run_demo(org_rules_from_data({"mode": "monitor", "rules": {"protected-entry": {"action": "rollback", "principals": ["arn:aws:iam::*:role/Platform"]}}}), out)
    assert code == 1
    assert "access entries DIFFER from before" in out.getvalue()
    assert "demo: FAILED" in out.getvalue()
