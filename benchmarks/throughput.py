"""Part 2, evaluation throughput: events a second on one core, from parsed event dicts.

A fresh process pinned to one CPU builds N EventBridge events (dicts, as the handlers get them:
no JSON decoding is timed) of mixed kinds: every EKS and IAM call the guardrail parses, compliant
and violating, in real CloudTrail shapes (tests/cloudtrail_builder.py, tests/events/), plus
failed calls and calls it does not watch. Then, in rounds over all N:
- parse only: `parse_event(event)`;
- rules only: `evaluate(change, org)` on the changes parsed beforehand (skipped events have none);
- parse and rules: both, as `evaluate` and the handlers do before any AWS call.
The median round is reported. Org rules: guardrail.example.yaml (every rule on, principal and
tag exemptions).

Run alone: `python benchmarks/throughput.py [--quick] [--events N] [--json FILE]`.
"""

from __future__ import annotations

import copy
import json
import os
import sys
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _probe import ROOT, PartResult, Table, Target, median, part_main, peak_rss_mib, progress, progress_done, run_child, use_repo_paths  # noqa: E402

TARGET_RULES_ONLY = 100_000


def templates() -> list[dict[str, Any]]:
    """One event of each kind the mix holds (EventBridge envelopes)."""
    use_repo_paths()
    import cloudtrail_builder as ct

    role, other = ct.role_arn("Developer"), ct.role_arn("Deployer", account=ct.OTHER_ACCOUNT)
    user = ct.user_arn("alice")
    platform = ct.assumed_role_identity("PlatformAdmin", "ops")
    entry_arn = f"arn:aws:eks:{ct.REGION}:{ct.ACCOUNT}:access-entry/prod/role/{ct.ACCOUNT}/Developer/0"
    records = [
        ct.create_access_entry(role, groups=["dev"], tags={"owner": "team-a"}),
        ct.create_access_entry(role, username="dev-user", groups=["platform:admins"]),
        ct.create_access_entry(user),
        ct.create_access_entry(other, tags={"owner": "partner"}),
        ct.create_access_entry(ct.role_arn("nodes"), entry_type="EC2_LINUX"),
        ct.create_access_entry(ct.role_arn("PlatformAdmin"), tags={"guardrail": "exempt", "owner": "platform"}, identity=platform),
        ct.update_access_entry(role, groups=["dev", "qa"]),
        ct.update_access_entry(role, username="platform:root"),
        ct.delete_access_entry(role),
        ct.delete_access_entry(ct.role_arn("PlatformAdmin")),
        ct.associate_access_policy(role, "AmazonEKSViewPolicy", namespaces=["dev"]),
        ct.associate_access_policy(role, "AmazonEKSClusterAdminPolicy"),
        ct.associate_access_policy(role, "AmazonEKSEditPolicy", namespaces=["kube-system"]),
        ct.associate_access_policy(role, "AmazonEKSAdminPolicy", namespaces=["team-*"]),
        ct.disassociate_access_policy(role, "AmazonEKSViewPolicy"),
        ct.disassociate_access_policy(ct.role_arn("PlatformAdmin"), "AmazonEKSClusterAdminPolicy"),
        ct.create_cluster("lab", mode="API", bootstrap=True),
        ct.create_cluster("prod2", mode="API_AND_CONFIG_MAP", bootstrap=False, tags={"owner": "platform"}),
        ct.update_cluster_config("prod", mode="API"),
        ct.tag_resource(entry_arn, {"guardrail": "exempt"}),
        ct.untag_resource(ct.cluster_arn(), ["guardrail"]),
        ct.create_role("app-role"),
        ct.delete_role("app-role"),
        ct.delete_user("alice"),
        ct.create_access_entry(role, error_code="AccessDeniedException", error_message="not authorized"),  # failed: skipped
        ct.cloudtrail_record("eks", "ListAccessEntries", {"clusterName": "prod"}),  # not watched: skipped
    ]
    events = [ct.eventbridge(r) for r in records]
    for path in sorted((ROOT / "tests" / "events").glob("*.json")):
        data = json.loads(path.read_text())
        if isinstance(data, dict) and ("detail" in data or "eventSource" in data):
            events.append(data)
    return events


def build_events(count: int) -> list[dict[str, Any]]:
    base = templates()
    events = []
    for i in range(count):
        event = copy.deepcopy(base[i % len(base)])
        record = event.get("detail", event)
        record["eventID"] = str(uuid.UUID(int=i))
        if "detail" in event:
            event["id"] = str(uuid.UUID(int=i + 1 << 64))
        events.append(event)
    return events


def worker(count: int, rounds: int) -> dict[str, Any]:
    """In the pinned child: the three measurements, `rounds` times each."""
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[-1]})
    from eks_guardrail.changes import Skipped, parse_event
    from eks_guardrail.config import load_org_rules
    from eks_guardrail.engine import evaluate

    org = load_org_rules(str(ROOT / "guardrail.example.yaml"))
    events = build_events(count)
    changes = [c for c in map(parse_event, events) if not isinstance(c, Skipped)]
    kinds = Counter(type(parse_event(e)).__name__ for e in events)
    findings = sum(len(evaluate(c, org)) for c in changes)

    def parse_only() -> None:
        for event in events:
            parse_event(event)

    def rules_only() -> None:
        for change in changes:
            evaluate(change, org)

    def both() -> None:
        for event in events:
            change = parse_event(event)
            if not isinstance(change, Skipped):
                evaluate(change, org)

    rates: dict[str, list[float]] = {"parse only": [], "rules only": [], "parse and rules": []}
    sizes = {"parse only": len(events), "rules only": len(changes), "parse and rules": len(events)}
    for _ in range(rounds):
        for name, body in (("parse only", parse_only), ("rules only", rules_only), ("parse and rules", both)):
            started = time.process_time()
            body()
            rates[name].append(sizes[name] / (time.process_time() - started))
    return {
        "events": len(events), "changes": len(changes), "findings": findings, "kinds": dict(kinds), "rates": rates,
        "sizes": sizes, "peak_rss_mib": peak_rss_mib(), "cpus": sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
    }


def run(quick: bool = False, events: int | None = None, rounds: int | None = None) -> PartResult:
    count = events or (5_000 if quick else 20_000)
    rounds = rounds or (3 if quick else 7)
    result = PartResult("throughput", "2. Evaluation throughput (parsed event dicts, mixed kinds, one core)", f"python benchmarks/throughput.py --events {count}")
    progress(f"throughput: {count:,} events x {rounds} rounds, pinned to one CPU")
    child = run_child([sys.executable, __file__, "--worker", str(count), str(rounds)], cwd=str(ROOT), timeout=900)
    progress_done()
    if child.returncode != 0:
        raise RuntimeError(f"throughput worker failed ({child.returncode}):\n{child.stderr[-3000:]}")
    data = json.loads(child.stdout.strip().splitlines()[-1])
    rows = []
    for name, rates in data["rates"].items():
        rows.append((name, data["sizes"][name], round(median(rates)), round(max(rates)), round(min(rates)), round(1e6 / median(rates), 2)))
    result.tables.append(Table(
        f"{data['events']:,} events ({data['changes']:,} parsed into changes, {data['findings']:,} findings); CPU time, {rounds} rounds",
        ("measure", "events a round", "events/s (median)", "best", "worst", "us/event"),
        rows,
    ))
    result.tables.append(Table("the mix, by parse result", ("kind", "events"), sorted(data["kinds"].items(), key=lambda kv: -kv[1])))
    rules_only = median(data["rates"]["rules only"])
    result.targets.append(Target("rules only >= 100,000 events/s/core", f"{rules_only:,.0f}/s", f"{TARGET_RULES_ONLY:,}/s", rules_only >= TARGET_RULES_ONLY))
    result.notes.append(f"peak RSS of the worker (events held in memory): {data['peak_rss_mib']:.1f} MiB (child peak {child.peak_rss_mib:.1f} MiB)")
    result.notes.append("rates are CPU time of the pinned process (time.process_time), so another process sharing the core does not count")
    result.data = data
    return result


def _options(parser: Any) -> None:
    parser.add_argument("--events", type=int, help="events in the mix (default 20,000; --quick 5,000)")
    parser.add_argument("--rounds", type=int, help="rounds of each measure (default 7; --quick 3)")


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--worker":
        print(json.dumps(worker(int(sys.argv[2]), int(sys.argv[3]))))
        sys.exit(0)
    sys.exit(part_main(run, __doc__.splitlines()[0], extra=_options))
