"""`eks-guardrail scan`: judge a whole account's access entries, read-only."""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING, Any, TextIO

from .. import __version__
from ..config import ConfigError, OrgRules, load_org_rules
from ..rules import REGISTRY
from . import EXIT_ERROR, EXIT_FINDINGS, EXIT_OK
from ._account import AccountError, AccountReader, ProgressBar, add_account_arguments

if TYPE_CHECKING:  # the sweep and its AWS adapters load when the command runs, not for --help
    from ..sweep.run import SweepResult


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "scan",
        help="evaluate every cluster's access entries against the org rules (read-only)",
        description=(
            "Reads every cluster in the regions (access entries, policy associations, authentication mode) and "
            "evaluates the org rules on that state, plus stale and dangling principals and entries that grant "
            "nothing. Read-only: nothing is changed. Uses the normal AWS credentials; AWS_ENDPOINT_URL points it "
            "at 'eks-guardrail local-aws'. Exit status: 0 clean, 1 findings, 2 errors."
        ),
    )
    parser.add_argument("--config", metavar="FILE", help="org-rules YAML file (default: built-in defaults)")
    add_account_arguments(parser)
    parser.add_argument("--format", choices=("table", "json", "sarif"), default="table", help="output format (default: table)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ..adapters.iam import IamPrincipals
    from ..sweep.run import sweep_account

    try:
        org = load_org_rules(args.config) if args.config else OrgRules()
        reader = AccountReader(args.regions)
        account = reader.account()
    except (ConfigError, AccountError) as error:
        print(f"eks-guardrail: {error}", file=sys.stderr)
        return EXIT_ERROR
    result = sweep_account(
        account=account,
        regions=reader.regions,
        org=org,
        eks_for_region=reader.eks_for_region,
        principals=IamPrincipals(reader.clients.client("iam", reader.regions[0]), account),
        max_workers=args.workers,
        progress=ProgressBar("scanning"),
    )
    {"json": write_json, "sarif": write_sarif, "table": write_table}[args.format](result, account, reader.regions, sys.stdout)
    for error in result.errors:
        print(f"eks-guardrail: {error}", file=sys.stderr)
    if result.errors:
        return EXIT_ERROR
    return EXIT_FINDINGS if any(not f.exempt for f in result.findings) else EXIT_OK


def write_json(result: SweepResult, account: str, regions: list[str], out: TextIO) -> None:
    document = {
        "account": account,
        "regions": regions,
        "clusters": [
            {"region": c.region, "name": c.name, "authentication_mode": c.authentication_mode, "entries": len(c.entries), "error": c.error}
            for c in result.clusters
        ],
        "findings": [f.to_dict() for f in result.findings],
        "errors": result.errors,
    }
    out.write(json.dumps(document, indent=2) + "\n")


def write_table(result: SweepResult, account: str, regions: list[str], out: TextIO) -> None:
    out.write(f"account {account}, regions {', '.join(regions)}: {len(result.clusters)} cluster(s)\n")
    for cluster in result.clusters:
        status = f"ERROR {cluster.error}" if cluster.error else f"{cluster.authentication_mode}, {len(cluster.entries)} entr(ies)"
        out.write(f"\n{cluster.region}/{cluster.name}: {status}\n")
        for f in (f for f in result.findings if f.region == cluster.region and f.cluster == cluster.name):
            exempt = " (exempt)" if f.exempt else ""
            out.write(f"  - {f.rule:<20} {f.severity:<8}{exempt} {f.message}\n")
    out.write(f"\n{len(result.findings)} finding(s), {len(result.errors)} error(s)\n")


SARIF_LEVEL = {"critical": "error", "high": "error", "medium": "warning", "low": "note"}


def write_sarif(result: SweepResult, account: str, regions: list[str], out: TextIO) -> None:
    """SARIF 2.1.0: one result per finding, located at the cluster's (or entry's) ARN."""
    rules = [
        {"id": spec.rule_id, "shortDescription": {"text": spec.summary}, "defaultConfiguration": {"level": SARIF_LEVEL[spec.default_severity]}}
        for spec in sorted(REGISTRY.values(), key=lambda s: s.rule_id)
    ]
    index = {rule["id"]: i for i, rule in enumerate(rules)}
    results: list[dict[str, Any]] = []
    for f in result.findings:
        where = f"arn:aws:eks:{f.region}:{f.account}:cluster/{f.cluster}"
        results.append(
            {
                "ruleId": f.rule,
                "ruleIndex": index[f.rule],
                "level": SARIF_LEVEL.get(f.severity, "warning"),
                "message": {"text": f.message},
                "locations": [{"logicalLocations": [{"name": f.principal_arn or f.cluster, "fullyQualifiedName": f"{where}/{f.principal_arn or ''}".rstrip("/"), "kind": "resource"}]}],
                "properties": {"severity": f.severity, "exempt": f.exempt, "principalArn": f.principal_arn, "policyArn": f.policy_arn, "cluster": f.cluster, "region": f.region, "account": f.account},
            }
        )
    document = {
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [
            {
                "tool": {"driver": {"name": "eks-guardrail", "version": __version__, "rules": rules}},
                "results": results,
                "invocations": [{"executionSuccessful": not result.errors, "toolExecutionNotifications": [{"message": {"text": e}, "level": "error"} for e in result.errors]}],
                "properties": {"account": account, "regions": regions},
            }
        ],
    }
    out.write(json.dumps(document, indent=2) + "\n")
