#!/usr/bin/env python3
"""CDK app: `cdk synth` / `cdk deploy --all`; the org-rules file comes from context `config` (default guardrail.yaml).

Everything is built by `infra.app_builder.build_app`; a bad file stops synthesis with the
same error the CLI prints, and exit status 2.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent / "functions"))  # without `pip install -e .`

from aws_cdk import App  # noqa: E402

from eks_guardrail.config import ConfigError  # noqa: E402
from infra.app_builder import build_app  # noqa: E402


def main() -> int:
    app = App()
    config = app.node.try_get_context("config") or "guardrail.yaml"
    try:
        build_app(config, app=app)
    except ConfigError as error:
        print(f"eks-guardrail: {error}", file=sys.stderr)
        return 2
    app.synth()
    return 0


if __name__ == "__main__":
    sys.exit(main())
