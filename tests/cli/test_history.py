"""`eks-guardrail history`: Event history pulled per region (IAM from us-east-1), judged in time order, backtested.

These tests drive the command with a small in-memory LookupEvents (newest first, pages of
`MaxResults`, NextToken), so the backtest's logic is checked exactly; tests/cli/test_history_emulator.py
runs it end to end against the emulator's LookupEvents, throttling included.
"""

from __future__ import annotations

import argparse
import json
from datetime import datetime, timedelta, timezone

import pytest

import cloudtrail_builder as ct
from eks_guardrail.backtest import LOCKOUT_NOT_JUDGED, REFUSED_LOCKOUT, ROLLED_BACK
from eks_guardrail.cli import history as history_cli
from eks_guardrail.history import HistoryError, RateLimiter, history_window, parse_time

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=timezone.utc)
REGION = ct.REGION
PLATFORM = ct.role_arn("PlatformAdmin")
CONFIG = """\
mode: monitor
rules:
  prefer-roles: {action: rollback}
  admin-policy:
    action: rollback
    policies:
      AmazonEKSClusterAdminPolicy: {allow: ["arn:aws:iam::*:role/PlatformAdmin"]}
"""


class FakeCloudTrail:
    """LookupEvents over a list of records: EventSource filter, time window, newest first, pages with NextToken."""

    def __init__(self, records: list[dict], fail: str | None = None):
        self.records, self.fail, self.calls = records, fail, []

    def lookup_events(self, **request):
        self.calls.append(request)
        if self.fail:
            from botocore.exceptions import ClientError

            raise ClientError({"Error": {"Code": self.fail, "Message": "not allowed"}}, "LookupEvents")
        (attribute,) = request["LookupAttributes"]
        assert attribute["AttributeKey"] == "EventSource" and 1 <= request["MaxResults"] <= 50
        chosen = [
            r for r in self.records
            if r["eventSource"] == attribute["AttributeValue"]
            and request["StartTime"] <= datetime.fromisoformat(r["eventTime"].replace("Z", "+00:00")) <= request["EndTime"]
        ]
        chosen.sort(key=lambda r: r["eventTime"], reverse=True)
        start = int(request.get("NextToken", "0"))
        page = chosen[start : start + request["MaxResults"]]
        answer = {"Events": [{"EventId": r["eventID"], "EventName": r["eventName"], "CloudTrailEvent": json.dumps(r)} for r in page]}
        if start + len(page) < len(chosen):
            answer["NextToken"] = str(start + len(page))
        return answer


def at(record: dict, minutes_ago: int) -> dict:
    record["eventTime"] = (NOW - timedelta(minutes=minutes_ago)).strftime("%Y-%m-%dT%H:%M:%SZ")
    return record


def run_history(tmp_path, capsys, clients: dict[str, FakeCloudTrail], *argv: str) -> tuple[int, str, str]:
    config = tmp_path / "guardrail.yaml"
    config.write_text(CONFIG)
    parser = argparse.ArgumentParser()
    commands = parser.add_subparsers()
    history_cli.register(commands)
    args = parser.parse_args(["history", "--config", str(config), *argv])
    code = history_cli.run(args, now=NOW, client_for=lambda region: clients[region])
    out, err = capsys.readouterr()
    return code, out, err


# --- the window -------------------------------------------------------------------------------


def test_times_and_windows():
    assert parse_time("90d", NOW) == NOW - timedelta(days=90)
    assert parse_time("12h", NOW) == NOW - timedelta(hours=12)
    assert parse_time("2026-09-01", NOW) == datetime(2026, 9, 1, tzinfo=timezone.utc)
    assert parse_time("2026-11-01T08:30:00Z", NOW) == datetime(2026, 11, 1, 8, 30, tzinfo=timezone.utc)
    window = history_window("200d", None, NOW)
    assert window.start == NOW - timedelta(days=90) and window.clamped_from == NOW - timedelta(days=200)
    with pytest.raises(HistoryError, match="expected 90d, 12h, 30m, a date"):
        parse_time("last week", NOW)
    with pytest.raises(HistoryError, match="must be before --until"):
        history_window("2026-11-10", "2026-11-01", NOW)


def test_the_rate_limiter_spaces_calls_per_region_at_two_per_second():
    clock = [100.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        clock[0] += seconds

    limiter = RateLimiter(2.0, clock=lambda: clock[0], sleep=sleep)
    started = []
    for _ in range(5):
        limiter.wait()
        started.append(clock[0])
    assert [round(b - a, 3) for a, b in zip(started, started[1:])] == [0.5, 0.5, 0.5, 0.5]


# --- pulling and ordering ---------------------------------------------------------------------


def test_every_region_and_iam_from_us_east_1_are_pulled_over_pages_and_judged_oldest_first(tmp_path, capsys):
    west = [at(ct.create_access_entry(ct.user_arn(f"w{i}"), cluster="west"), 300 - i) for i in range(120)]
    central = [at(ct.create_access_entry(ct.user_arn(f"c{i}"), cluster="central", region="eu-central-1"), 299 - i * 2) for i in range(3)]
    iam = [at(ct.delete_role("old"), 250)]
    clients = {REGION: FakeCloudTrail(west), "eu-central-1": FakeCloudTrail(central), "us-east-1": FakeCloudTrail(iam)}
    code, out, err = run_history(tmp_path, capsys, clients, "--regions", REGION, "eu-central-1", "--format", "json", "--since", "1d")
    assert code == 1, err
    results = [json.loads(line) for line in out.splitlines()]
    assert len(results) == 124
    times = [r["findings"][0]["event_time"] if r["findings"] else None for r in results]
    ordered = [t for t in times if t]
    assert ordered == sorted(ordered)  # time order across regions and services
    assert [c["MaxResults"] for c in clients[REGION].calls] == [50, 50, 50]  # 120 records: 3 pages
    assert clients[REGION].calls[1]["NextToken"] == "50"
    assert {c["LookupAttributes"][0]["AttributeValue"] for c in clients["us-east-1"].calls} == {"iam.amazonaws.com"}
    assert set(results[0]) == {"event_id", "event_name", "status", "reason", "findings", "source"}  # as `evaluate`


def test_a_region_that_cannot_be_read_is_reported_and_fails_the_run(tmp_path, capsys):
    clients = {REGION: FakeCloudTrail([], fail="AccessDeniedException"), "us-east-1": FakeCloudTrail([])}
    code, out, err = run_history(tmp_path, capsys, clients, "--regions", REGION)
    assert code == 2
    assert f"eks-guardrail: {REGION} eks.amazonaws.com: An error occurred (AccessDeniedException)" in err
    assert "Traceback" not in err


# --- the backtest -----------------------------------------------------------------------------


def _admin(principal: str, cluster: str, minutes_ago: int) -> dict:
    return at(ct.associate_access_policy(principal, "AmazonEKSClusterAdminPolicy", cluster=cluster), minutes_ago)


def test_the_backtest_says_what_enforce_would_have_done(tmp_path, capsys):
    dev = ct.role_arn("Dev")
    records = [
        # "young": created in the window without creator admin, so all its entries are known.
        at(ct.create_cluster("young", mode="API", bootstrap=False), 100),
        at(ct.create_access_entry(dev, cluster="young"), 99),
        _admin(dev, "young", 98),  # Dev is the only admin: removing it would lock everyone out
        # "guarded": the platform role is admin too, so Dev's admin can go.
        at(ct.create_cluster("guarded", mode="API", bootstrap=False), 90),
        at(ct.create_access_entry(PLATFORM, cluster="guarded"), 89),
        _admin(PLATFORM, "guarded", 88),
        at(ct.create_access_entry(dev, cluster="guarded"), 87),
        _admin(dev, "guarded", 86),
        # "old": existed before the window: who else is admin there is unknown.
        _admin(dev, "old", 80),
        # An IAM user's entry: prefer-roles, a plain rollback.
        at(ct.create_access_entry(ct.user_arn("mallory"), cluster="old"), 70),
        at(ct.delete_role("gone"), 60),
    ]
    clients = {REGION: FakeCloudTrail([r for r in records if r["eventSource"] == "eks.amazonaws.com"]),
               "us-east-1": FakeCloudTrail([r for r in records if r["eventSource"] == "iam.amazonaws.com"])}
    code, out, err = run_history(tmp_path, capsys, clients, "--regions", REGION, "--since", "1d")
    assert code == 1, err
    assert f"enforce would have: {REFUSED_LOCKOUT} (admin-policy)" in out
    summary = out[out.index("`mode: enforce` would have"):]
    assert f"1  {REFUSED_LOCKOUT}" in summary  # young
    assert f"2  {ROLLED_BACK}" in summary  # guarded's Dev admin, mallory's entry
    assert f"1  {LOCKOUT_NOT_JUDGED}" in summary  # old
    assert "admin-policy  (1 refused (lockout), 1 rolled back, 1 rolled back unless" in summary
    assert f"{ct.ACCOUNT}/{REGION}/old" in summary and f"{ct.ACCOUNT}/{REGION}/young" in summary
    assert "stale-principal: needs the ledger and the clusters' entries as they are now" in summary
    assert "Backtest 2026-11-28T12:00:00Z .. 2026-11-29T12:00:00Z" in out


def test_sarif_lists_each_finding_with_what_enforce_would_have_done(tmp_path, capsys):
    records = [at(ct.create_access_entry(ct.user_arn("mallory")), 10)]
    clients = {REGION: FakeCloudTrail(records), "us-east-1": FakeCloudTrail([])}
    code, out, _ = run_history(tmp_path, capsys, clients, "--regions", REGION, "--format", "sarif")
    assert code == 1
    log = json.loads(out)
    assert log["version"] == "2.1.0" and log["$schema"].endswith("sarif-2.1.0.json")
    (run,) = log["runs"]
    rule_ids = {r["id"] for r in run["tool"]["driver"]["rules"]}
    (result,) = run["results"]
    assert result["ruleId"] == "prefer-roles" and result["ruleId"] in rule_ids
    assert result["level"] in {"error", "warning", "note"} and result["message"]["text"]
    assert result["properties"]["enforce_would_have"] == ROLLED_BACK
    assert result["locations"][0]["logicalLocations"][0]["name"] == ct.user_arn("mallory")


def test_no_findings_exit_0_and_the_summary_says_so(tmp_path, capsys):
    records = [at(ct.create_access_entry(ct.role_arn("Dev")), 10)]
    clients = {REGION: FakeCloudTrail(records), "us-east-1": FakeCloudTrail([])}
    code, out, _ = run_history(tmp_path, capsys, clients, "--regions", REGION)
    assert code == 0
    assert "`mode: enforce` would have, of 0 finding(s):\n       0  nothing to do" in out


def test_a_bad_window_exits_2_before_any_call(tmp_path, capsys):
    clients = {REGION: FakeCloudTrail([]), "us-east-1": FakeCloudTrail([])}
    code, _, err = run_history(tmp_path, capsys, clients, "--regions", REGION, "--since", "yesterday")
    assert code == 2 and "'yesterday': expected 90d" in err and clients[REGION].calls == []


def test_node_entries_are_named_as_not_judged_standard_ones_are_not(tmp_path, capsys):
    records = [
        at(ct.create_access_entry(ct.role_arn("Dev")), 12),
        at(ct.create_access_entry(ct.role_arn("maybe-a-node"), entry_type="EC2_LINUX"), 11),
    ]
    clients = {REGION: FakeCloudTrail(records), "us-east-1": FakeCloudTrail([])}
    code, out, _ = run_history(tmp_path, capsys, clients, "--regions", REGION)
    assert code == 0
    assert "1  node-entry-principal: needs the IAM role's trust policy as it was then" in out
    assert "from 2 record(s) in 2 lookup(s)" in out


def test_the_readme_backtest_example_is_what_the_command_prints(tmp_path, capsys):
    import re
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    quoted = re.search(r"```\n(Backtest .*?)```", readme, re.S).group(1)
    dev = ct.role_arn("Dev")
    records = [
        at(ct.create_cluster("young", mode="API", bootstrap=False), 100),
        at(ct.create_access_entry(dev, cluster="young"), 99),
        _admin(dev, "young", 98),
        _admin(dev, "old", 80),
        at(ct.create_access_entry(ct.user_arn("mallory"), cluster="old"), 70),
        at(ct.delete_role("gone"), 60),
    ]
    clients = {REGION: FakeCloudTrail(records[:5]), "us-east-1": FakeCloudTrail(records[5:])}
    code, out, _ = run_history(tmp_path, capsys, clients, "--regions", REGION, "--since", "90d")
    assert code == 1
    assert out[out.index("Backtest "):] == quoted


def test_reads_are_counted_not_held_and_a_region_given_twice_is_read_once(tmp_path, capsys):
    reads = [at(ct.cloudtrail_record("eks", "DescribeCluster", {"name": "prod"}), 30 - i) for i in range(7)]
    violation = at(ct.create_access_entry(ct.user_arn("mallory")), 5)
    clients = {REGION: FakeCloudTrail([*reads, violation]), "us-east-1": FakeCloudTrail([])}
    code, out, _ = run_history(tmp_path, capsys, clients, "--regions", REGION, REGION, "--format", "table")
    assert code == 1
    assert len(clients[REGION].calls) == 1
    assert "1 event(s), 1 finding(s), from 8 record(s) in 2 lookup(s); 7 skipped quietly (0 of other services, 7 EKS/IAM calls" in out


def test_an_event_delivered_twice_is_judged_once(tmp_path, capsys):
    record = at(ct.create_access_entry(ct.user_arn("mallory")), 10)
    clients = {REGION: FakeCloudTrail([record, dict(record)]), "us-east-1": FakeCloudTrail([])}
    code, out, _ = run_history(tmp_path, capsys, clients, "--regions", REGION, "--format", "json")
    assert code == 1
    assert [json.loads(line)["event_id"] for line in out.splitlines()] == [record["eventID"]]
