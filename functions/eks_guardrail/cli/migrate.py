"""`eks-guardrail migrate plan|apply|verify`: from aws-auth to access entries, judged by the org rules, lockout-safe."""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from typing import Any, Callable, TextIO

from ..config import ConfigError, OrgRules, load_org_rules
from . import EXIT_ERROR, EXIT_FINDINGS, EXIT_OK
from ._judging import action_text


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "migrate",
        help="move a cluster from the aws-auth ConfigMap to access entries: plan, apply, verify",
        description="Plan access entries equivalent to aws-auth (judged by the org rules), apply them idempotently and lockout-safe, verify.",
    )
    steps = parser.add_subparsers(dest="step", metavar="STEP", required=True)

    plan = steps.add_parser(
        "plan",
        help="the access entries that give what aws-auth gives, with the org rules' findings",
        description=(
            "Read aws-auth (`kubectl get configmap aws-auth -n kube-system -o yaml`, or -o json; '-' = standard input), "
            "read the cluster (entries, managed node groups, Fargate profiles) and IAM (role paths), and print the plan. "
            "Exit status: 0 the plan is clean, 1 findings or items not carried over, 2 bad input or AWS error."
        ),
    )
    plan.add_argument("--aws-auth", required=True, metavar="FILE|-", help="the aws-auth ConfigMap as kubectl prints it")
    plan.add_argument("--cluster", required=True, metavar="NAME")
    plan.add_argument("--config", metavar="FILE", help="org-rules YAML file (default: built-in defaults)")
    plan.add_argument("--region", metavar="R", help="the cluster's region (default: AWS_REGION / the profile's)")
    plan.add_argument("--format", choices=("table", "json", "shell"), default="table", help="table (default), json (for apply), shell (aws eks commands)")
    plan.set_defaults(run=run_plan)

    apply = steps.add_parser(
        "apply",
        help="create the planned entries (idempotent), verify each, refuse to finish without a cluster-admin path",
        description=(
            "Apply a plan file (`migrate plan --format json > plan.json`). The cluster must be in API_AND_CONFIG_MAP "
            "(or API). Entries with findings are skipped unless --accept-findings. Prints the final step (switch to "
            "API) only when every planned principal has its entry and one is a cluster-admin path. "
            "Exit status: 0 done, 1 entries skipped or failed, or no cluster-admin path, 2 bad input or AWS error."
        ),
    )
    apply.add_argument("--plan", required=True, metavar="FILE", help="the plan, as `migrate plan --format json` writes it ('-' = stdin)")
    apply.add_argument("--region", metavar="R", help="override the plan's region")
    apply.add_argument("--accept-findings", action="store_true", help="create entries even when the org rules have findings on them")
    apply.set_defaults(run=run_apply)

    verify = steps.add_parser(
        "verify",
        help="compare aws-auth with the cluster's access entries now",
        description="Exit status: 0 every principal aws-auth maps has its entry, 1 some do not, 2 bad input or AWS error.",
    )
    verify.add_argument("--aws-auth", required=True, metavar="FILE|-")
    verify.add_argument("--cluster", required=True, metavar="NAME")
    verify.add_argument("--config", metavar="FILE")
    verify.add_argument("--region", metavar="R")
    verify.set_defaults(run=run_verify)


# --- plan -------------------------------------------------------------------------------------


def run_plan(args: argparse.Namespace, *, clients: Callable[[str, str | None], Any] | None = None) -> int:
    built = _build_plan(args, clients)
    if isinstance(built, int):
        return built
    plan = built
    if args.format == "json":
        json.dump(plan.to_json(), sys.stdout, indent=2)
        sys.stdout.write("\n")
    elif args.format == "shell":
        write_shell(plan, sys.stdout)
    else:
        write_plan_table(plan, sys.stdout)
    return EXIT_OK if plan.clean else EXIT_FINDINGS


def _build_plan(args: argparse.Namespace, clients: Callable[[str, str | None], Any] | None):
    from ..migration.aws_auth import AwsAuthError, parse_aws_auth
    from ..migration.plan import build_plan, read_cluster_facts, role_resolver

    try:
        org = load_org_rules(args.config) if args.config else OrgRules()
        text = sys.stdin.read() if args.aws_auth == "-" else _read_text(args.aws_auth)
        auth = parse_aws_auth(text, source="<stdin>" if args.aws_auth == "-" else args.aws_auth)
    except (ConfigError, AwsAuthError, OSError) as error:
        print(f"eks-guardrail: {error}", file=sys.stderr)
        return EXIT_ERROR
    for warning in auth.warnings:
        print(f"eks-guardrail: warning: {warning}", file=sys.stderr)
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        clients, region_default = (clients, None) if clients else _default_clients()
        region = args.region or region_default
        if not region:
            print("eks-guardrail: no region: pass --region, or set AWS_REGION", file=sys.stderr)
            return EXIT_ERROR
        facts = read_cluster_facts(clients("eks", region), args.cluster, region, _caller(clients, region))
        if facts is None:
            print(f"eks-guardrail: no cluster {args.cluster} in {region}", file=sys.stderr)
            return EXIT_ERROR
        return build_plan(auth, facts, org, role_resolver(clients("iam", None)))
    except (ClientError, BotoCoreError) as error:
        print(f"eks-guardrail: {error}", file=sys.stderr)
        return EXIT_ERROR


def write_plan_table(plan: Any, out: TextIO) -> None:
    out.write(f"Migration plan for cluster {plan.cluster} ({plan.region}, account {plan.account}, mode {plan.authentication_mode})\n\n")
    for item in plan.items:
        entry = item.entry
        what = entry.entry_type
        if entry.groups:
            what += f" groups {', '.join(entry.groups)}"
        if entry.username:
            what += f" username {entry.username}"
        for p in entry.policies:
            what += f" + {p.policy_arn.rsplit('/', 1)[-1]} ({'cluster-wide' if p.scope_type == 'cluster' else ', '.join(p.namespaces)})"
        out.write(f"{item.status:<8} {entry.principal_arn}  [{entry.source}]\n         {what}\n")
        if item.reason:
            out.write(f"         {item.reason}\n")
        for f in item.findings:
            out.write(f"         ! {f.rule} ({f.severity}, {action_text(f.to_dict())}): {f.message}\n")
    if plan.not_carried:
        out.write("\nNot carried over:\n")
        for n in plan.not_carried:
            out.write(f"  {n.what}  [{n.source}]: {n.reason}\n")
    counts = {s: sum(1 for i in plan.items if i.status == s) for s in ("create", "exists", "managed", "skip")}
    findings = sum(len(i.findings) for i in plan.items)
    out.write(
        f"\n{counts['create']} to create, {counts['exists']} existing, {counts['managed']} managed by EKS, {counts['skip']} skipped; "
        f"{findings} finding(s), {len(plan.not_carried)} not carried over\n"
    )


def write_shell(plan: Any, out: TextIO) -> None:
    """The `aws eks` commands of the plan's `create` entries; findings and what is not carried as comments."""
    q = shlex.quote
    base = f"aws eks --region {q(plan.region)}"
    out.write(f"# eks-guardrail migration plan for {plan.cluster} ({plan.region}): review every finding before running\n")
    if plan.authentication_mode == "CONFIG_MAP":
        out.write(f"{base} update-cluster-config --name {q(plan.cluster)} --access-config authenticationMode=API_AND_CONFIG_MAP\n")
    for item in plan.items:
        entry = item.entry
        if item.status != "create":
            out.write(f"# {item.status}: {entry.principal_arn}: {item.reason}\n")
            continue
        for f in item.findings:
            out.write(f"# FINDING {f.rule}: {f.message}\n")
        command = f"{base} create-access-entry --cluster-name {q(plan.cluster)} --principal-arn {q(entry.principal_arn)} --type {entry.entry_type}"
        if entry.username:
            command += f" --username {q(entry.username)}"
        if entry.groups:
            command += " --kubernetes-groups " + " ".join(q(g) for g in entry.groups)
        out.write(command + "\n")
        for p in entry.policies:
            scope = "type=cluster" if p.scope_type == "cluster" else f"type=namespace,namespaces={','.join(p.namespaces)}"
            out.write(
                f"{base} associate-access-policy --cluster-name {q(plan.cluster)} --principal-arn {q(entry.principal_arn)} "
                f"--policy-arn {q(p.policy_arn)} --access-scope {q(scope)}\n"
            )
    for n in plan.not_carried:
        out.write(f"# not carried over: {n.what} [{n.source}]: {n.reason}\n")


# --- apply ------------------------------------------------------------------------------------


def run_apply(args: argparse.Namespace, *, clients: Callable[[str, str | None], Any] | None = None) -> int:
    from botocore.exceptions import BotoCoreError, ClientError

    from ..adapters.eks import EksAccessEntries
    from ..migration.apply import FAILED, SKIPPED, PlanFileError, apply_plan, read_plan, switch_command

    try:
        data = json.loads(sys.stdin.read() if args.plan == "-" else _read_text(args.plan))
        cluster, region, items = read_plan(data, args.plan)
    except (OSError, ValueError) as error:  # PlanFileError and JSON errors are ValueErrors
        text = str(error) if isinstance(error, (PlanFileError, OSError)) else f"{args.plan}: not valid JSON: {error}"
        print(f"eks-guardrail: {text}", file=sys.stderr)
        return EXIT_ERROR
    region = args.region or region
    try:
        eks = EksAccessEntries((clients or _default_clients()[0])("eks", region))
        report = apply_plan(eks, cluster, region, items, accept_findings=args.accept_findings)
    except (ClientError, BotoCoreError) as error:
        print(f"eks-guardrail: {error}", file=sys.stderr)
        return EXIT_ERROR
    if report.mode_problem:
        print(f"eks-guardrail: {report.mode_problem}", file=sys.stderr)
        return EXIT_ERROR
    out = sys.stdout
    for outcome in report.outcomes:
        out.write(f"{outcome.result:<8} {outcome.item.principal_arn}: {outcome.detail}\n")
    skipped = sum(1 for o in report.outcomes if o.result == SKIPPED)
    failed = sum(1 for o in report.outcomes if o.result == FAILED)
    out.write(f"\n{len(report.outcomes) - skipped - failed} entries in place, {skipped} skipped, {failed} failed\n")
    if not report.has_admin_path:
        out.write(
            "\nREFUSED to finish: no access entry of the cluster is a cluster-admin path (a STANDARD entry with "
            "AmazonEKSClusterAdminPolicy cluster-wide). Switching to API now would lock everyone out; add one first.\n"
        )
        return EXIT_FINDINGS
    if not report.complete:
        out.write("\nNot finished: apply the skipped or failed entries, then run apply again (it changes nothing already in place).\n")
        return EXIT_FINDINGS
    out.write(
        "\nEvery planned principal has its entry, and the cluster has a cluster-admin path. Check access with each "
        "principal, run `eks-guardrail migrate verify`, then switch to API (one way: it cannot be undone):\n"
        f"  {switch_command(cluster, region, 'API')}\n"
    )
    return EXIT_OK


# --- verify -----------------------------------------------------------------------------------


def run_verify(args: argparse.Namespace, *, clients: Callable[[str, str | None], Any] | None = None) -> int:
    built = _build_plan(args, clients)
    if isinstance(built, int):
        return built
    plan = built
    missing = [i for i in plan.items if i.status == "create" or (i.status == "exists" and "differs" in i.reason)]
    managed_missing = [i for i in plan.items if i.status == "managed" and i.entry.principal_arn not in plan.existing_principals]
    for item in plan.items:
        if item.status in ("skip",):
            continue
        ok = item not in missing and item not in managed_missing
        state = "ok" if ok else ("missing" if item.status in ("create", "managed") else "differs")
        sys.stdout.write(f"{state:<8} {item.entry.principal_arn}  [{item.entry.source}]{'' if ok else ': ' + item.reason}\n")
    for n in plan.not_carried:
        sys.stdout.write(f"{'n/a':<8} {n.what}  [{n.source}]: {n.reason}\n")
    sys.stdout.write(f"\n{len(missing) + len(managed_missing)} principal(s) of aws-auth without their entry, {len(plan.not_carried)} not carried over\n")
    return EXIT_OK if not missing and not managed_missing else EXIT_FINDINGS


# --- clients ----------------------------------------------------------------------------------


def _default_clients() -> tuple[Callable[[str, str | None], Any], str | None]:
    """Clients from boto3's default chain (`AWS_ENDPOINT_URL` reaches local-aws), and the default region."""
    import boto3

    from ..clients import ClientFactory
    from ._account import default_region

    session = boto3.session.Session()
    factory = ClientFactory(session)
    return (lambda service, region: factory.client(service, region)), default_region(session)


def _caller(clients: Callable[[str, str | None], Any], region: str) -> str | None:
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        return clients("sts", region).get_caller_identity()["Arn"]
    except (ClientError, BotoCoreError):
        return None


def _read_text(path: str) -> str:
    with open(path, encoding="utf-8-sig") as handle:
        return handle.read()
