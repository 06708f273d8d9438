#!/usr/bin/env python3
"""CDK app: `npx cdk synth` / `npx cdk deploy --all`; the org-rules file comes from context `config` (default guardrail.yaml).

Everything is built by `infra.app_builder.build_app`. Accounts and regions come from the file's
`deployment` part or, without one, from the current credentials (CDK_DEFAULT_ACCOUNT/REGION),
which the app then says on standard error. A bad file, or a Lambda layer that would differ from
the pinned distributions the tests ran, stops synthesis with the error and exit status 2.
Makes no AWS call.
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent
#: The virtualenv the README creates; `npx cdk ...` runs `python3 app.py`, which may be another Python.
PROJECT_VENV = ROOT / ".venv"


def _run_in_the_project_venv() -> None:
    """Without aws-cdk-lib here, re-run this file with `.venv`'s Python (so `npx cdk` works unactivated), or say what to install."""
    if importlib.util.find_spec("aws_cdk") is not None and importlib.util.find_spec("yaml") is not None:
        return
    venv_python = PROJECT_VENV / "bin" / "python"
    if venv_python.exists() and Path(sys.prefix).resolve() != PROJECT_VENV.resolve() and not os.environ.get("EKS_GUARDRAIL_APP_REEXEC"):
        os.environ["EKS_GUARDRAIL_APP_REEXEC"] = "1"
        os.execv(str(venv_python), [str(venv_python), str(Path(__file__).resolve()), *sys.argv[1:]])
    print(
        f"eks-guardrail: {sys.executable} has no aws-cdk-lib: python3 -m venv .venv && .venv/bin/pip install -e '.[cdk]' "
        "(app.py then runs with .venv's Python by itself)",
        file=sys.stderr,
    )
    sys.exit(2)


_run_in_the_project_venv()
sys.path.insert(0, str(ROOT / "functions"))  # without `pip install -e .`
sys.path.insert(0, str(ROOT))

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
