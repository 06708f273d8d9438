"""`eks-guardrail scp`: the org rules as Service Control Policies (and a permissions boundary).

Every rule whose action is not `off` gets its Deny statement(s): rules in `alert` as well as in
`rollback`, because preventing the change is the point of an SCP (`mode` does not matter
either). The guardrail's own roles and `exemptions.principals` are excepted as callers
(`aws:PrincipalArn`, `ArnNotLike`), so rollbacks run and break-glass stays possible.
`eks_guardrail.scp` builds the documents; this module prints or writes them.

Exit status: 0 written or printed; 2 bad config, or rules that do not fit AWS's limits
(5 SCPs of 5,120 characters per target; a boundary of 6,144), saying which.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any, TextIO

from ..config import ConfigError, OrgRules, load_org_rules
from ..scp import BOUNDARY_CHARACTERS, SCP_CHARACTERS, SCPS_PER_TARGET, Gap, Policy, PolicySet, ScpError, build_policy_set, enabled_rules, excepted_callers, gaps_for
from . import EXIT_ERROR, EXIT_OK

DECISION = "statements for every rule not off: alert as well as rollback (an SCP prevents; the guardrail still judges)"


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "scp",
        help="write the org rules as Service Control Policies (and a permissions boundary)",
        description=(
            "Turn the org rules into SCPs with EKS's condition keys: a Deny statement per rule whose action is "
            "not off (alert and rollback alike). The guardrail's roles and exemptions.principals are excepted "
            "(aws:PrincipalArn). Each SCP is at most 5,120 characters minified, at most 5 per target; --boundary "
            "adds a permissions boundary (one managed policy, at most 6,144). The output says what an SCP cannot "
            "prevent and what covers it. Exit status: 0 done, 2 bad config or rules that do not fit."
        ),
    )
    parser.add_argument("--config", metavar="FILE", help="org-rules YAML file (default: built-in defaults)")
    parser.add_argument("--out", metavar="DIR", help="write scp-1.json, scp-2.json, ... (and boundary.json) there, and print a summary")
    parser.add_argument("--boundary", action="store_true", help="also write the rules as an IAM permissions boundary policy")
    parser.add_argument("--format", choices=("json", "table"), default="json", help="output format (default: json)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    try:
        org = load_org_rules(args.config) if args.config else OrgRules()
        policies = build_policy_set(org, boundary=args.boundary)
    except (ConfigError, ScpError) as error:
        print(f"eks-guardrail: {error}", file=sys.stderr)
        return EXIT_ERROR
    files: dict[str, Path] = {}
    if args.out:
        try:
            files = write_policies(policies, Path(args.out))
        except OSError as error:
            print(f"eks-guardrail: cannot write to {args.out}: {error.strerror or error}", file=sys.stderr)
            return EXIT_ERROR
    gaps = gaps_for(org)
    if args.format == "json":
        out.write(json.dumps(as_json(policies, gaps, org, files), indent=2) + "\n")
    elif files:
        write_summary(policies, gaps, org, files, out)
    else:
        write_table(policies, gaps, org, out)
    return EXIT_OK


def write_policies(policies: PolicySet, directory: Path) -> dict[str, Path]:
    """Each document minified (as counted) in `directory`; an `scp-N.json` left from a longer run is removed."""
    directory.mkdir(parents=True, exist_ok=True)
    files = {}
    for policy in _all(policies):
        path = directory / f"{policy.name}.json"
        path.write_text(policy.text + "\n", encoding="utf-8")
        files[policy.name] = path
    for stale in directory.glob("scp-*.json"):
        if re.fullmatch(r"scp-\d+\.json", stale.name) and stale.stem not in files:
            stale.unlink()
    return files


def as_json(policies: PolicySet, gaps: list[Gap], org: OrgRules, files: dict[str, Path] | None = None) -> dict[str, Any]:
    files = files or {}

    def entry(policy: Policy) -> dict[str, Any]:
        item: dict[str, Any] = {"name": policy.name, "document": policy.document, "characters": policy.characters}
        if policy.name in files:
            item["file"] = str(files[policy.name])
        return item

    return {
        "policies": [entry(p) for p in policies.scps],
        "boundary": entry(policies.boundary) if policies.boundary else None,
        "scps_used": len(policies.scps),
        "gaps": [gap.as_dict() for gap in gaps],
        "rules": _rule_counts(policies, org),
        "decision": DECISION,
    }


def _rule_counts(policies: PolicySet, org: OrgRules) -> list[dict[str, Any]]:
    counts: dict[str, int] = {}
    for policy in policies.scps:
        for placed in policy.placed:
            counts[placed.guard.rule_id] = counts.get(placed.guard.rule_id, 0) + 1
    return [{"rule": rule, "action": org.settings(rule).action, "statements": counts.get(rule, 0)} for rule in enabled_rules(org)]


def _all(policies: PolicySet) -> list[Policy]:
    return list(policies.scps) + ([policies.boundary] if policies.boundary else [])


def _usage(policies: PolicySet) -> str:
    used = len(policies.scps)
    return (
        f"uses {used} of the {SCPS_PER_TARGET} SCPs a target can have "
        f"(FullAWSAccess counts among them where it is attached to the same target)"
    )


def write_summary(policies: PolicySet, gaps: list[Gap], org: OrgRules, files: dict[str, Path], out: TextIO) -> None:
    for policy in _all(policies):
        out.write(f"wrote {files[policy.name]}: {_size(policy, policies)}\n")
    _write_footer(policies, gaps, org, out)


def write_table(policies: PolicySet, gaps: list[Gap], org: OrgRules, out: TextIO) -> None:
    callers = excepted_callers(org)
    out.write(f"excepted callers (aws:PrincipalArn): {', '.join(callers)}\n\n")
    for policy in _all(policies):
        out.write(f"{policy.name}: {_size(policy, policies)}\n")
        for placed in policy.placed:
            statement = placed.statement
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            out.write(f"  {statement['Sid']} [{placed.guard.rule_id}] denies {placed.guard.summary}\n")
            out.write(f"    Deny {', '.join(actions)}\n")
            for operator, clauses in statement.get("Condition", {}).items():
                for key, values in clauses.items():
                    shown = "the excepted callers" if key == "aws:PrincipalArn" and _listed(values) == callers else _shown(values)
                    out.write(f"      {operator} {key}: {shown}\n")
        out.write("\n")
    _write_footer(policies, gaps, org, out)


def _size(policy: Policy, policies: PolicySet) -> str:
    limit = BOUNDARY_CHARACTERS if policy is policies.boundary else SCP_CHARACTERS
    return f"{len(policy.placed)} statement(s), {policy.characters:,} of {limit:,} characters"


def _listed(values: Any) -> list[str]:
    return [values] if isinstance(values, str) else list(values)


def _shown(values: Any, most: int = 4) -> str:
    values = [values] if isinstance(values, str) else values
    more = f", … and {len(values) - most} more" if len(values) > most else ""
    return ", ".join(values[:most]) + more


def _write_footer(policies: PolicySet, gaps: list[Gap], org: OrgRules, out: TextIO) -> None:
    out.write(f"{_usage(policies)}\n")
    out.write(f"{DECISION}\n")
    silent = [rule["rule"] for rule in _rule_counts(policies, org) if not rule["statements"]]
    if silent:
        out.write(f"on, but nothing an SCP can say with these settings: {', '.join(silent)}\n")
    out.write("what an SCP cannot prevent, and what covers it:\n")
    for gap in gaps:
        out.write(f"  - {gap.rule + ': ' if gap.rule else ''}{gap.gap}\n    covered by: {gap.covered_by}\n")
