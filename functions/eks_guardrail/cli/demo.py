"""`eks-guardrail demo`: a bad change caught, rolled back and alerted, offline on the emulator."""

from __future__ import annotations

import argparse
import sys

from ..config import ConfigError, load_org_rules, org_rules_from_data, parse_yaml
from . import EXIT_ERROR


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "demo",
        help="run the whole guardrail offline on the emulator (needs the 'local' extra)",
        description=(
            "Runs the whole story offline: a cluster in API mode with a protected admin role; bad changes made "
            "through boto3; their CloudTrail events routed through the deployed EventBridge pattern into the "
            "handler; rollbacks; alerts in SNS and a Slack webhook on 127.0.0.1. Exit 0 when every planted "
            "violation was caught and undone."
        ),
    )
    parser.add_argument("--config", metavar="FILE", help="org rules to enforce (default: the embedded demo rules, mode enforce)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    try:
        from ..demo.story import run_demo
    except ImportError as error:
        print(f"eks-guardrail demo needs the 'local' extra: pip install 'eks-guardrail[local]' ({error})", file=sys.stderr)
        return EXIT_ERROR
    try:
        org = load_org_rules(args.config) if args.config else _embedded_rules()
    except ConfigError as error:
        print(f"eks-guardrail: {error}", file=sys.stderr)
        return EXIT_ERROR
    return run_demo(org, sys.stdout)


def _embedded_rules():
    from importlib import resources

    text = resources.files("eks_guardrail.demo").joinpath("guardrail.demo.yaml").read_text(encoding="utf-8")
    return org_rules_from_data(parse_yaml(text, source="guardrail.demo.yaml"), source="guardrail.demo.yaml")
