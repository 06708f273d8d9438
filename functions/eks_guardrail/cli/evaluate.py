"""`eks-guardrail evaluate`: judge recorded events offline against the org rules."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any, TextIO

from ..changes import EventParseError, Skipped, parse_event
from ..config import ConfigError, OrgRules, load_org_rules
from ..engine import evaluate, rules_judging
from ..event_files import EventFileError, read_event_file
from . import EXIT_ERROR, EXIT_FINDINGS, EXIT_OK


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "evaluate",
        help="evaluate CloudTrail events (files or stdin) against the org rules",
        description=(
            "Evaluate EventBridge events or bare CloudTrail records offline. A file may hold one event "
            "or a JSON array of events; '-' reads standard input. Prints one JSON object per event. "
            "Exit status: 0 no findings, 1 findings (exempt ones do not count), 2 bad input or config."
        ),
    )
    parser.add_argument("--config", metavar="FILE", help="org-rules YAML file (default: built-in defaults)")
    parser.add_argument("--format", choices=("json", "table"), default="json", help="output format (default: json)")
    parser.add_argument("event_files", nargs="+", metavar="EVENT_FILE", help="event file, or '-' for stdin")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    try:
        org = load_org_rules(args.config) if args.config else OrgRules()
    except ConfigError as error:
        print(f"eks-guardrail: {error}", file=sys.stderr)
        return EXIT_ERROR
    results, had_error = evaluate_files(args.event_files, org, errors=sys.stderr)
    write = _write_table if args.format == "table" else _write_json
    write(results, sys.stdout)
    if had_error:
        return EXIT_ERROR
    has_findings = any(not f["exempt"] for r in results for f in r["findings"])
    return EXIT_FINDINGS if has_findings else EXIT_OK


def evaluate_files(paths: list[str], org: OrgRules, *, errors: TextIO) -> tuple[list[dict[str, Any]], bool]:
    """Evaluate every event in the files; report bad input on `errors` and go on."""
    results: list[dict[str, Any]] = []
    had_error = False
    for path in paths:
        try:
            loaded = list(read_event_file(path))
        except EventFileError as error:
            print(f"eks-guardrail: {error}", file=errors)
            had_error = True
            continue
        for item in loaded:
            try:
                outcome = parse_event(item.event)
            except EventParseError as error:
                print(f"eks-guardrail: {error.located(item.source)}", file=errors)
                had_error = True
                continue
            results.append(_result(item.source, outcome, org))
    return results, had_error


def _result(source: str, outcome: Any, org: OrgRules) -> dict[str, Any]:
    if isinstance(outcome, Skipped):
        return {
            "event_id": outcome.event_id,
            "event_name": outcome.event_name,
            "status": "skipped",
            "reason": outcome.reason,
            "findings": [],
            "source": source,
        }
    findings = evaluate(outcome, org)
    if findings:
        reason = f"{len(findings)} finding(s)"
    elif not rules_judging(outcome):
        reason = "no rule judges this event alone (stale-principal is evaluated by the IAM handler and the sweep)"
    else:
        reason = "complies with every rule"
    return {
        "event_id": outcome.meta.event_id,
        "event_name": outcome.meta.event_name,
        "status": "evaluated",
        "reason": reason,
        "findings": [f.to_dict() for f in findings],
        "source": source,
    }


def _write_json(results: list[dict[str, Any]], out: TextIO) -> None:
    for result in results:
        out.write(json.dumps(result, sort_keys=False) + "\n")


def _write_table(results: list[dict[str, Any]], out: TextIO) -> None:
    for result in results:
        event = f"{result['event_name']} {result['event_id'] or '(no event id)'}  [{result['source']}]"
        out.write(f"{event}\n  {result['status']}: {result['reason']}\n")
        for f in result["findings"]:
            out.write(f"  - {f['rule']:<20} {f['severity']:<8} {_action_text(f)}\n      {f['message']}\n")
    total = sum(len(r["findings"]) for r in results)
    out.write(f"\n{len(results)} event(s), {total} finding(s)\n")


def _action_text(finding: dict[str, Any]) -> str:
    if finding["exempt"]:
        return f"alert (exempt: {finding['exemption_reason']})"
    if finding["action"] != finding["configured_action"]:
        return f"alert (mode: monitor; {finding['configured_action']} when enforced)"
    return finding["action"]
