"""`eks-guardrail history`: judge the account's CloudTrail Event history (up to 90 days) in time order, and backtest `enforce`."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Callable, TextIO

from ..config import ConfigError, OrgRules, load_org_rules
from ..history import IAM_REGION, HistoryError, HistoryLookup, Stream, history_window
from . import EXIT_ERROR, EXIT_FINDINGS, EXIT_OK
from ._account import default_region
from ._judging import Tally, is_watched, judge_record, rules_needing_state, write_result_table
from ._status_line import StatusLine
from .sarif import sarif_log

if TYPE_CHECKING:  # the backtest reads the enforcement modules (botocore): loaded when the command runs
    from ..backtest import Backtest


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "history",
        help="judge the account's CloudTrail Event history (90 days) and backtest what enforce would have done",
        description=(
            "Pull the EKS events (every region given) and IAM events (us-east-1) from CloudTrail Event history "
            "(LookupEvents: 90 days at most, no trail needed; 2 requests per second per region, adaptive retries), "
            "judge them in time order, and say what `mode: enforce` would have done. Output as `evaluate` "
            "(json: one object per event); table ends with the backtest summary; sarif for code-scanning tools. "
            "Exit status: 0 no findings, 1 findings (exempt ones do not count), 2 bad input, config or AWS error."
        ),
    )
    parser.add_argument("--config", metavar="FILE", help="org-rules YAML file (default: built-in defaults)")
    parser.add_argument("--regions", nargs="+", metavar="REGION", help="regions with clusters (default: AWS_REGION / the profile's)")
    parser.add_argument("--since", default="90d", metavar="90d|2026-09-01", help="start: 90d, 12h, a date or a time (default: 90d)")
    parser.add_argument("--until", metavar="TIME", help="end, in the same forms (default: now)")
    parser.add_argument("--format", choices=("table", "json", "sarif"), default="table", help="output format (default: table)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace, *, now: datetime | None = None, client_for: Callable[[str], Any] | None = None) -> int:
    from ..backtest import Backtest

    try:
        org = load_org_rules(args.config) if args.config else OrgRules()
        window = history_window(args.since, args.until, now or datetime.now(timezone.utc))
    except (ConfigError, HistoryError) as error:
        print(f"eks-guardrail: {error}", file=sys.stderr)
        return EXIT_ERROR
    if window.clamped_from is not None:
        print(f"eks-guardrail: Event history keeps 90 days: from {window.start:%Y-%m-%dT%H:%M:%SZ}, not {window.clamped_from:%Y-%m-%d}", file=sys.stderr)
    if client_for is None:
        try:
            client_for, default_region = _cloudtrail_clients()
        except RuntimeError as error:
            print(f"eks-guardrail: {error}", file=sys.stderr)
            return EXIT_ERROR
        regions = args.regions or ([default_region] if default_region else [])
    else:
        regions = args.regions or [IAM_REGION]
    if not regions:
        print("eks-guardrail: no region: pass --regions, or set AWS_REGION (or AWS_DEFAULT_REGION)", file=sys.stderr)
        return EXIT_ERROR

    progress = LookupProgress(sys.stderr)
    lookup = HistoryLookup(client_for, regions, window, keep=is_watched, on_progress=progress)
    records, streams = lookup.records()
    progress.clear()
    failed = [s for s in streams if s.error]
    for stream in failed:
        print(f"eks-guardrail: {stream.region} {stream.source}: {stream.error}", file=sys.stderr)
    for stream in (s for s in streams if s.unreadable):
        print(f"eks-guardrail: {stream.region} {stream.source}: {stream.unreadable} item(s) without a readable CloudTrailEvent", file=sys.stderr)

    tally, backtest = Tally(files=len(streams), container="lookup(s)"), Backtest(org)
    not_kept = sum(s.not_kept for s in streams)
    tally.records, tally.not_watched, tally.bad_records = not_kept, not_kept, sum(s.unreadable for s in streams)
    lines: list[tuple[dict[str, Any], list[str]]] = []
    for index, record in enumerate(records):
        source = f"{record.get('awsRegion', '?')}:{record.get('eventID', index)}"
        judged = judge_record(source, record, org, tally, errors=sys.stderr)
        if judged.result is None:
            continue
        verdicts = backtest.observe(judged.change, judged.findings, rules_needing_state(judged.change, org)) if judged.change else []
        lines.append((judged.result, verdicts))
        if args.format == "json":
            sys.stdout.write(json.dumps(judged.result, sort_keys=False) + "\n")
    if args.format == "table":
        _write_table(lines, backtest, tally, window, sys.stdout)
    elif args.format == "sarif":
        findings = [(f, v) for result, verdicts in lines for f, v in zip(result["findings"], verdicts)]
        json.dump(sarif_log(findings), sys.stdout, indent=2)
        sys.stdout.write("\n")
    if failed or tally.bad_records:
        return EXIT_ERROR
    has_findings = any(not f["exempt"] for result, _ in lines for f in result["findings"])
    return EXIT_FINDINGS if has_findings else EXIT_OK


def _cloudtrail_clients() -> tuple[Callable[[str], Any], str | None]:
    import boto3

    from ..clients import SWEEP_RETRIES, ClientFactory

    session = boto3.session.Session()
    if session.get_credentials() is None:
        raise RuntimeError("no AWS credentials: configure a profile, or set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY")
    factory = ClientFactory(session, config=SWEEP_RETRIES)  # adaptive retries: throttling is retried and slows the client
    return (lambda region: factory.client("cloudtrail", region)), default_region(session)


def _write_table(lines: list[tuple[dict[str, Any], list[str]]], backtest: Backtest, tally: Tally, window: Any, out: TextIO) -> None:
    for result, verdicts in lines:
        write_result_table(result, out)
        for finding, verdict in zip(result["findings"], verdicts):
            out.write(f"      enforce would have: {verdict} ({finding['rule']})\n")
    summary = backtest.summary()
    out.write(f"\nBacktest {window.start:%Y-%m-%dT%H:%M:%SZ} .. {window.end:%Y-%m-%dT%H:%M:%SZ}: {tally.summary()}\n")
    out.write(f"\n`mode: enforce` would have, of {summary['findings']} finding(s):\n")
    for outcome, count in summary["enforce_would_have"].items() or [("nothing to do", 0)]:
        out.write(f"  {count:>6}  {outcome}\n")
    for title, key in (("per rule", "by_rule"), ("per actor", "by_actor"), ("per cluster", "by_cluster")):
        if summary[key]:
            out.write(f"\nFindings {title}:\n")
            for name, value in summary[key].items():
                count = sum(value.values()) if isinstance(value, dict) else value
                detail = f"  ({', '.join(f'{n} {o}' for o, n in value.items())})" if isinstance(value, dict) else ""
                out.write(f"  {count:>6}  {name}{detail}\n")
    if summary["not_judged"]:
        out.write("\nNot judged from events alone (no guess is made):\n")
        for rule, info in summary["not_judged"].items():
            out.write(f"  {info['events']:>6}  {rule}: needs {info['needs']}\n")


class LookupProgress(StatusLine):
    """`history: eu-west-1 eks 3 page(s), 120 record(s) | us-east-1 iam ...` on standard error; silent when not a terminal."""

    def __call__(self, streams: list[Stream]) -> None:
        parts = [f"{s.region} {s.source.split('.')[0]} {s.pages} page(s), {s.records} record(s){' done' if s.done else ''}" for s in streams]
        self.draw("history: " + " | ".join(parts))
