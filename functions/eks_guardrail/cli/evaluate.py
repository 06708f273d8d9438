"""`eks-guardrail evaluate`: judge recorded events offline against the org rules.

Reads files, directories and `s3://bucket/prefix` URLs (`event_files.py`: single events,
arrays, trail log files, Event history output, JSON lines; plain or gzipped), streamed, and
prints one result per EKS/IAM event the guardrail watches as it goes; records of other
services and calls it does not watch are counted for the summary.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any, Callable, Iterator, TextIO

from ..config import ConfigError, OrgRules, load_org_rules
from ..event_files import EventFileError, expand_location
from . import EXIT_ERROR, EXIT_FINDINGS, EXIT_OK
from ._judging import Tally, judge_record, write_result_table
from ._status_line import StatusLine


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "evaluate",
        help="evaluate CloudTrail events (files, directories, s3:// prefixes, stdin) against the org rules",
        description=(
            "Evaluate EventBridge events or CloudTrail records offline. A location is a file ('-': standard "
            "input), a directory (recursive; CloudTrail-Digest left out) or s3://bucket/prefix. A file holds one "
            "event, a JSON array, a trail log file ({\"Records\": [...]}), `aws cloudtrail lookup-events` output "
            "or JSON lines, plain or gzipped (told by content). Prints one JSON object per EKS/IAM event the "
            "guardrail watches; other records are counted in the summary (standard error for json, when any). "
            "Exit status: 0 no findings, 1 findings (exempt ones do not count), 2 bad input or config."
        ),
    )
    parser.add_argument("--config", metavar="FILE", help="org-rules YAML file (default: built-in defaults)")
    parser.add_argument("--format", choices=("json", "table"), default="json", help="output format (default: json)")
    parser.add_argument("event_files", nargs="+", metavar="LOCATION", help="event file, directory, s3://bucket/prefix, or '-' for stdin")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    try:
        org = load_org_rules(args.config) if args.config else OrgRules()
    except ConfigError as error:
        print(f"eks-guardrail: {error}", file=sys.stderr)
        return EXIT_ERROR
    tally = Tally()
    progress = Progress(sys.stderr)
    has_findings = False
    for result in judge_locations(args.event_files, org, tally, errors=sys.stderr, progress=progress):
        progress.clear()
        if args.format == "table":
            write_result_table(result, sys.stdout)
        else:
            sys.stdout.write(json.dumps(result, sort_keys=False) + "\n")
        has_findings = has_findings or any(not f["exempt"] for f in result["findings"])
    progress.clear()
    if args.format == "table":
        sys.stdout.write(f"\n{tally.summary()}\n")
    elif tally.quiet:
        print(f"eks-guardrail: {tally.summary()}", file=sys.stderr)
    if tally.bad_files or tally.bad_records:
        return EXIT_ERROR
    return EXIT_FINDINGS if has_findings else EXIT_OK


def judge_locations(
    locations: list[str], org: OrgRules, tally: Tally, *, errors: TextIO, progress: Callable[[Tally, str], None] | None = None,
    s3_client: Callable[[], Any] | None = None,
) -> Iterator[dict[str, Any]]:
    """Each watched event's result, file after file; a bad file or record is reported on `errors` and the rest go on."""
    for location in locations:
        try:
            for found in expand_location(location, s3_client=s3_client):
                tally.files += 1
                try:
                    for item in found.open():
                        if item.error is not None:
                            tally.records += 1
                            tally.bad_records += 1
                            print(f"eks-guardrail: {item.source}: {item.error}", file=errors)
                            continue
                        judged = judge_record(item.source, item.event, org, tally, errors=errors)
                        if progress is not None and tally.records % 1000 == 0:
                            progress(tally, found.label)
                        if judged.result is not None:
                            yield judged.result
                except EventFileError as error:
                    tally.bad_files += 1
                    print(f"eks-guardrail: {error}", file=errors)
                if progress is not None:
                    progress(tally, found.label)
        except EventFileError as error:  # a directory or prefix that cannot be listed
            tally.bad_files += 1
            print(f"eks-guardrail: {error}", file=errors)


def evaluate_files(paths: list[str], org: OrgRules, *, errors: TextIO) -> tuple[list[dict[str, Any]], bool]:
    """Every result for the locations (held in memory: for tests and small inputs), and whether any input was bad."""
    tally = Tally()
    results = list(judge_locations(paths, org, tally, errors=errors))
    return results, bool(tally.bad_files or tally.bad_records)


class Progress(StatusLine):
    """`evaluate: 12 file(s), 100,000 record(s)  <file>` on standard error, redrawn in place; silent when not a terminal."""

    def __call__(self, tally: Tally, label: str) -> None:
        self.draw(f"evaluate: {tally.files:,} file(s), {tally.records:,} record(s)  {label[-60:]}")
