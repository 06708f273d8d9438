"""`eks-guardrail iac`: judge Terraform plans, CloudFormation templates and CDK output before they are applied."""

from __future__ import annotations

import argparse
import json
import re
import sys
from typing import TextIO

from ..config import ConfigError, OrgRules, load_org_rules
from ..iac import IacReport, judge_paths
from ..iac.resources import Context
from ..iac.sarif import iac_sarif
from . import EXIT_ERROR, EXIT_FINDINGS, EXIT_OK
from ._judging import action_text


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "iac",
        help="judge Terraform plans, CloudFormation templates and cdk.out against the org rules before applying them",
        description=(
            "Judge infrastructure as code before it is applied. A PATH is a Terraform plan (`terraform show -json "
            "tfplan`), a CloudFormation template (JSON or YAML), or a directory such as cdk.out (every "
            "*.template.json in it), told by content. Access entries, policy associations and clusters become the "
            "changes the event path judges. A value known only after apply is never read as compliant: the "
            "resource is reported undecided. Exit status: 0 clean, 1 findings or undecided resources, 2 an "
            "unreadable input or config (the other files are still judged)."
        ),
    )
    parser.add_argument("--config", metavar="FILE", help="org-rules YAML file (default: built-in defaults)")
    parser.add_argument("--account", metavar="ID", help="the account the IaC is applied in (AWS::AccountId; cross-account)")
    parser.add_argument("--region", metavar="REGION", help="the region the IaC is applied in (AWS::Region)")
    parser.add_argument(
        "--parameter", action="append", default=[], metavar="KEY=VALUE", help="a CloudFormation parameter's value (repeatable)"
    )
    parser.add_argument("--format", choices=("table", "json", "sarif"), default="table", help="output format (default: table)")
    parser.add_argument("paths", nargs="+", metavar="PATH", help="Terraform plan JSON, CloudFormation template, or cdk.out directory")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    try:
        org = load_org_rules(args.config) if args.config else OrgRules()
        context = context_from(args)
    except (ConfigError, ValueError) as error:
        print(f"eks-guardrail: {error}", file=sys.stderr)
        return EXIT_ERROR
    report = judge_paths(args.paths, org, context)
    if args.format == "json":
        sys.stdout.write(json.dumps(report.to_dict(), indent=2) + "\n")
    elif args.format == "sarif":
        sys.stdout.write(json.dumps(iac_sarif(report), indent=2) + "\n")
    else:
        write_table(report, sys.stdout)
    for error in report.errors:
        print(f"eks-guardrail: {error['file']}: {error['error']}", file=sys.stderr)
    return exit_status(report)


def context_from(args: argparse.Namespace) -> Context:
    if args.account is not None and not re.fullmatch(r"[0-9]{12}", args.account):
        raise ValueError(f"--account: expected 12 digits, got {args.account!r}")
    parameters = {}
    for item in args.parameter:
        key, equals, value = item.partition("=")
        if not equals or not key:
            raise ValueError(f"--parameter: expected KEY=VALUE, got {item!r}")
        parameters[key] = value
    return Context(account=args.account or "", region=args.region or "", parameters=parameters)


def exit_status(report: IacReport) -> int:
    if report.errors:
        return EXIT_ERROR
    if report.undecided or any(not finding["exempt"] for finding in report.findings):
        return EXIT_FINDINGS
    return EXIT_OK


def write_table(report: IacReport, out: TextIO) -> None:
    for f in report.findings:
        out.write(f"{_where(f)}  {f['resource']}\n  - {f['rule']:<20} {f['severity']:<8} {action_text(f)}\n      {f['message']}\n")
    for item in report.undecided:
        out.write(f"{_where(item)}  {item['resource']}\n  - undecided: unknown {', '.join(item['unknown'])}\n")
    for error in report.errors:
        out.write(f"{error['file']}\n  - error: {error['error']}\n")
    out.write(
        f"\n{report.resources} resource(s) in {len(report.files)} file(s): {len(report.findings)} finding(s), "
        f"{len(report.undecided)} undecided, {len(report.errors)} unreadable\n"
    )


def _where(item: dict) -> str:
    return f"{item['file']}:{item['line']}" if item.get("line") else item["file"]
