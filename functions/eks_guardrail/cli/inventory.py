"""`eks-guardrail inventory`: who can reach which cluster, through which entry, with what."""

from __future__ import annotations

import argparse
import csv
import json
import sys
from typing import TYPE_CHECKING, Any, TextIO

from ..arns import parse_principal_arn
from . import EXIT_ERROR, EXIT_OK
from ._account import AccountError, AccountReader, ProgressBar, add_account_arguments

if TYPE_CHECKING:  # the sweep's reader (botocore) loads when the command runs, not for --help
    from ..sweep.snapshot import ClusterSnapshot

COLUMNS = (
    "account", "region", "cluster", "authentication_mode", "principal_arn", "principal_kind", "entry_type",
    "username", "groups", "policy", "scope", "namespaces",
)


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "inventory",
        help="list who can reach which cluster, with which policies, groups and username",
        description=(
            "One row per access entry and policy association (an entry without policies gets one row): the "
            "visibility Kubernetes RBAC no longer gives. Read-only. Exit status: 0, or 2 when something could not be read."
        ),
    )
    add_account_arguments(parser)
    parser.add_argument("--format", choices=("table", "csv", "json"), default="table", help="output format (default: table)")
    parser.set_defaults(run=run)


def rows(clusters: list[ClusterSnapshot], account: str) -> list[dict[str, Any]]:
    table = []
    for cluster in clusters:
        for entry in cluster.entries:
            principal = parse_principal_arn(entry.principal_arn)
            base = {
                "account": account,
                "region": cluster.region,
                "cluster": cluster.name,
                "authentication_mode": cluster.authentication_mode,
                "principal_arn": entry.principal_arn,
                "principal_kind": principal.kind if principal else "",
                "entry_type": entry.entry_type,
                "username": entry.username or "",
                "groups": list(entry.groups),
            }
            if not entry.associations:
                table.append({**base, "policy": "", "scope": "", "namespaces": []})
            for association in entry.associations:
                table.append({**base, "policy": association.policy_arn.rsplit("/", 1)[-1], "scope": association.scope_type, "namespaces": list(association.namespaces)})
    return table


def run(args: argparse.Namespace) -> int:
    from ..sweep.snapshot import list_clusters, read_clusters

    try:
        reader = AccountReader(args.regions)
        account = reader.account()
    except AccountError as error:
        print(f"eks-guardrail: {error}", file=sys.stderr)
        return EXIT_ERROR
    refs, errors = list_clusters(reader.eks_for_region, reader.regions)
    clusters = read_clusters(reader.eks_for_region, refs, max_workers=args.workers, progress=ProgressBar("reading"))
    errors += [f"{c.region}/{c.name}: {c.error}" for c in clusters if c.error]
    table = rows(clusters, account)
    {"json": _json, "csv": _csv, "table": _table}[args.format](table, sys.stdout)
    for error in errors:
        print(f"eks-guardrail: {error}", file=sys.stderr)
    return EXIT_ERROR if errors else EXIT_OK


def _json(table: list[dict[str, Any]], out: TextIO) -> None:
    out.write(json.dumps(table, indent=2) + "\n")


def _csv(table: list[dict[str, Any]], out: TextIO) -> None:
    writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in table:
        writer.writerow({**row, "groups": ";".join(row["groups"]), "namespaces": ";".join(row["namespaces"])})


def _table(table: list[dict[str, Any]], out: TextIO) -> None:
    shown = ("region", "cluster", "principal_arn", "entry_type", "policy", "scope", "namespaces", "groups", "username")
    cells = [[_cell(row[c]) for c in shown] for row in table]
    widths = [max([len(c)] + [len(r[i]) for r in cells]) for i, c in enumerate(shown)]
    out.write("  ".join(c.upper().ljust(w) for c, w in zip(shown, widths)).rstrip() + "\n")
    for r in cells:
        out.write("  ".join(v.ljust(w) for v, w in zip(r, widths)).rstrip() + "\n")
    out.write(f"\n{len(table)} row(s)\n")


def _cell(value: Any) -> str:
    if isinstance(value, list):
        return ",".join(value) or "-"
    return str(value) if value not in (None, "") else "-"
