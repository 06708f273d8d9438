"""CDK output: `cdk synth` writes one CloudFormation template per stack (`<Stack>.template.json`),
nested stages in `assembly-*/` subdirectories. Each is read as any other template."""

from __future__ import annotations

from pathlib import Path

TEMPLATE_SUFFIX = ".template.json"


def cdk_templates(directory: Path) -> list[Path]:
    """Every `*.template.json` under `directory` (a `cdk.out`), in a stable order."""
    return sorted(path for path in directory.rglob(f"*{TEMPLATE_SUFFIX}") if path.is_file())
