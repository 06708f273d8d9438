from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import pytest

from eks_guardrail.cli import iac


@pytest.fixture
def run_iac(capsys):
    """`eks-guardrail iac ARGS` through `register` on a fresh parser: (exit status, stdout, stderr)."""

    def run(*argv: str) -> tuple[int, str, str]:
        parser = argparse.ArgumentParser(prog="eks-guardrail")
        iac.register(parser.add_subparsers(dest="command", required=True))
        args = parser.parse_args(["iac", *argv])
        status = args.run(args)
        out, err = capsys.readouterr()
        return status, out, err

    return run


@pytest.fixture
def write_json(tmp_path: Path):
    def write(name: str, data: Any, *, indent: int | None = None) -> str:
        path = tmp_path / name
        path.write_text(json.dumps(data, indent=indent))
        return str(path)

    return write


@pytest.fixture
def org_file(tmp_path: Path) -> str:
    path = tmp_path / "guardrail.yaml"
    path.write_text(
        "mode: enforce\n"
        'trusted_accounts: ["444455556666"]\n'
        "rules:\n"
        '  protected-entry: {action: rollback, principals: ["arn:aws:iam::*:role/PlatformAdmin"]}\n'
        '  admin-policy: {action: rollback, policies: {AmazonEKSClusterAdminPolicy: {allow: ["arn:aws:iam::*:role/PlatformAdmin"]}}}\n'
        '  authentication-mode: {action: alert, allowed_modes: ["API"]}\n'
    )
    return str(path)
