#!/usr/bin/env python3
"""CDK app: `npx cdk synth` / `npx cdk deploy --all`; the org-rules file comes from context `config` (default guardrail.yaml).

Everything is built by `infra.app_builder.build_app`. Accounts and regions come from the file's
`deployment` part or, without one, from the current credentials (CDK_DEFAULT_ACCOUNT/REGION),
which the app then says on standard error. A bad file, or a Lambda layer that would differ from
the pinned distributions the tests ran, stops synthesis with the error and exit status 2.
Makes no AWS call.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent / "functions"))  # without `pip install -e .`
sys.path.insert(0, str(Path(__file__).resolve().parent))

from eks_guardrail.config import ConfigError  # noqa: E402

DEFAULT_CONFIG = "guardrail.yaml"


def _config_from_environment() -> str | None:
    """The `config` context as the CDK CLI passes it (`-c config=...`, cdk.json), read before the CDK starts."""
    try:
        return json.loads(os.environ.get("CDK_CONTEXT_JSON") or "{}").get("config")
    except (ValueError, AttributeError):
        return None


def main() -> int:
    from infra.deployment_config import load_for_deployment
    from infra.lambda_layer import LayerDriftError, build_dependencies_layer

    try:
        # Fail fast on a bad file or drifted pins, before starting the CDK's Node.js process.
        plan = load_for_deployment(_config_from_environment() or DEFAULT_CONFIG)
        build_dependencies_layer()
    except (ConfigError, LayerDriftError) as error:
        print(f"eks-guardrail: {error}", file=sys.stderr)
        return 2
    if plan.notice():
        print(plan.notice(), file=sys.stderr)

    from aws_cdk import App

    from infra.app_builder import build_app

    app = App()
    config = app.node.try_get_context("config") or DEFAULT_CONFIG
    try:
        build_app(config, app=app)
    except ConfigError as error:
        print(f"eks-guardrail: {error}", file=sys.stderr)
        return 2
    app.synth()
    return 0


if __name__ == "__main__":
    sys.exit(main())
