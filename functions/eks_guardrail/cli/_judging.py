"""What `evaluate` and `history` share: one record judged into one result line, and the tally of what was read."""

from __future__ import annotations

import sys
from collections.abc import Mapping  # not typing's: its isinstance() is slower, and this runs per record
from dataclasses import dataclass, field
from typing import Any, TextIO

from ..aws_catalog import STANDARD
from ..changes import PARSERS, Change, EventParseError, Skipped, parse_event
from ..config import OrgRules
from ..engine import evaluate, rules_judging
from ..findings import Finding
from ..rules import REGISTRY

WATCHED_SOURCES = frozenset(source for source, _name in PARSERS)


@dataclass
class Tally:
    """Counts for the summary: a trail file is mostly other services, so those are counted, not printed."""

    files: int = 0
    bad_files: int = 0
    records: int = 0
    bad_records: int = 0
    shown: int = 0
    findings: int = 0
    other_services: int = 0
    not_watched: int = 0
    #: What `files` counts: files, or Event history lookups.
    container: str = "file(s)"

    @property
    def quiet(self) -> int:
        return self.other_services + self.not_watched

    def summary(self) -> str:
        parts = [f"{self.shown:,} event(s), {self.findings:,} finding(s), from {self.records:,} record(s) in {self.files:,} {self.container}"]
        if self.quiet:
            parts.append(
                f"{self.quiet:,} skipped quietly ({self.other_services:,} of other services, "
                f"{self.not_watched:,} EKS/IAM calls the guardrail does not watch)"
            )
        if self.bad_records or self.bad_files:
            parts.append(f"{self.bad_records:,} bad record(s), {self.bad_files:,} bad file(s) (reported above)")
        return "; ".join(parts)


@dataclass
class Judged:
    """One record after judging: the result line to print, or None when it is counted quietly."""

    result: dict[str, Any] | None
    change: Change | None = None
    findings: list[Finding] = field(default_factory=list)


def is_watched(event: Any) -> bool:
    """Whether the record is a call the guardrail parses (by event source and name)."""
    source, name = _source_and_name(event)
    return isinstance(source, str) and isinstance(name, str) and (source, name) in PARSERS


def _source_and_name(event: Any) -> tuple[Any, Any]:
    record = event.get("detail", event) if isinstance(event, Mapping) else {}
    record = record if isinstance(record, Mapping) else {}
    return record.get("eventSource"), record.get("eventName")


def judge_record(source: str, event: Any, org: OrgRules, tally: Tally, *, errors: TextIO = sys.stderr) -> Judged:
    """Parse and judge one record; bad input is reported on `errors` (bounded) and counted."""
    tally.records += 1
    try:
        outcome = parse_event(event)
    except EventParseError as error:
        print(f"eks-guardrail: {error.located(source)}", file=errors)
        tally.bad_records += 1
        return Judged(None)
    if isinstance(outcome, Skipped):
        event_source, event_name = _source_and_name(event)
        if (event_source, event_name) not in PARSERS:
            if event_source in WATCHED_SOURCES:
                tally.not_watched += 1
            else:
                tally.other_services += 1
            return Judged(None)
        tally.shown += 1
        return Judged(skipped_result(source, outcome))
    findings = evaluate(outcome, org)
    tally.shown += 1
    tally.findings += len(findings)
    return Judged(evaluated_result(source, outcome, findings), outcome, findings)


def skipped_result(source: str, outcome: Skipped) -> dict[str, Any]:
    return {
        "event_id": outcome.event_id,
        "event_name": outcome.event_name,
        "status": "skipped",
        "reason": outcome.reason,
        "findings": [],
        "source": source,
    }


def evaluated_result(source: str, change: Change, findings: list[Finding]) -> dict[str, Any]:
    if findings:
        reason = f"{len(findings)} finding(s)"
    elif not rules_judging(change):
        reason = "no rule judges this event alone (stale-principal is evaluated by the IAM handler and the sweep)"
    else:
        reason = "complies with every rule"
    return {
        "event_id": change.meta.event_id,
        "event_name": change.meta.event_name,
        "status": "evaluated",
        "reason": reason,
        "findings": [f.to_dict() for f in findings],
        "source": source,
    }


def rules_needing_state(change: Change, org: OrgRules) -> list[str]:
    """Rules that judge this kind of change only with state the event does not carry (the caller had none)."""
    entry_type = getattr(change, "entry_type", None)
    return sorted(
        rule_id
        for rule_id, spec in REGISTRY.items()
        if spec.check and spec.needs_state and isinstance(change, spec.handles) and org.settings(rule_id).action != "off"
        # node-entry-principal, the one such rule, reads state only for node-type entries
        and not (spec.judges_node_entries and entry_type == STANDARD)
    )


def action_text(finding: Mapping[str, Any]) -> str:
    if finding["exempt"]:
        return f"alert (exempt: {finding['exemption_reason']})"
    if finding["action"] != finding["configured_action"]:
        return f"alert (mode: monitor; {finding['configured_action']} when enforced)"
    return finding["action"]


def write_result_table(result: Mapping[str, Any], out: TextIO) -> None:
    event = f"{result['event_name']} {result['event_id'] or '(no event id)'}  [{result['source']}]"
    out.write(f"{event}\n  {result['status']}: {result['reason']}\n")
    for f in result["findings"]:
        out.write(f"  - {f['rule']:<20} {f['severity']:<8} {action_text(f)}\n      {f['message']}\n")
