"""The sweep's AWS calls: linear in clusters + entries, none repeated, the ledger written only
where an entry changed and in batches (issue 15), counted at the botocore layer."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace

import pytest

from eks_guardrail.adapters.ledger import DynamoDbLedger, PendingDecisions, batch_write
from eks_guardrail.demo.world import ACCOUNT, TRUST_POLICY
from eks_guardrail.state import EntryState
from world_helpers import enforce_rules, make_cluster

from enforcement.test_call_economy import CallLog, repeats


def _populate(world, clusters: int, entries: int) -> None:
    iam = world.platform.client("iam")
    eks = world.eks("platform")
    for i in range(entries):
        iam.create_role(RoleName=f"team-{i}", AssumeRolePolicyDocument=TRUST_POLICY)
    for c in range(clusters):
        name = f"c{c}"
        make_cluster(world, name)
        for i in range(entries):
            eks.create_access_entry(clusterName=name, principalArn=world.role_arn(f"team-{i}"), kubernetesGroups=["viewers"])
    world.pending_events()


@pytest.mark.parametrize("mode", ["monitor", "enforce"])
def test_the_sweep_repeats_no_call_and_rewrites_nothing_unchanged(world, mode):
    _populate(world, clusters=3, entries=30)
    log = CallLog()
    world.guardrail.events.register("before-call", log)
    app = world.sweep_app(enforce_rules(mode=mode))

    first = app.handle()
    first_calls = log.take()
    second = app.handle()
    second_calls = log.take()

    entries = 1 + 3 * 30  # prod's platform entry, and the teams'
    assert first["entries"] == entries and first["errors"] == []
    assert first["ledger_refreshed"] == entries
    assert second["ledger_refreshed"] == 0 and second["ledger_unchanged"] == entries
    for calls in (first_calls, second_calls):
        assert repeats(calls) == {}, Counter(op for op, _ in calls)
    first_ops, second_ops = Counter(op for op, _ in first_calls), Counter(op for op, _ in second_calls)
    clusters = 4
    # linear: per cluster DescribeCluster + ListAccessEntries (+ one ledger Query); per entry
    # DescribeAccessEntry + ListAssociatedAccessPolicies; one IAM lookup per distinct principal
    assert first_ops["DescribeCluster"] == clusters and first_ops["ListAccessEntries"] == clusters
    assert first_ops["DescribeAccessEntry"] == entries and first_ops["ListAssociatedAccessPolicies"] == entries
    assert first_ops["GetRole"] == 31
    assert first_ops["Query"] == clusters
    assert first_ops["BatchWriteItem"] == -(-entries // 25)
    assert first_ops["BatchGetItem"] == (1 if mode == "enforce" else 0)  # the pending decisions of every cluster
    assert "BatchWriteItem" not in second_ops
    assert second_ops["PutItem"] == 1  # the sweep's memory of what it reported


def test_a_changed_entry_is_the_only_one_written_again(world):
    _populate(world, clusters=1, entries=5)
    app = world.sweep_app(enforce_rules(mode="monitor"))
    app.handle()
    world.eks("platform").update_access_entry(clusterName="c0", principalArn=world.role_arn("team-3"), kubernetesGroups=["editors"])

    result = app.handle()

    assert result["ledger_refreshed"] == 1
    recorded = DynamoDbLedger(world.platform.client("dynamodb"), world.ledger_table).get(ACCOUNT, world.region, "c0", world.role_arn("team-3"))
    assert recorded.groups == ("editors",)


class _Throttling:
    """A DynamoDB client that leaves part of every batch unprocessed the first times."""

    def __init__(self, unprocessed_times: int):
        self.calls: list[int] = []
        self.left = unprocessed_times

    def batch_write_item(self, RequestItems):
        (table, requests), = RequestItems.items()
        self.calls.append(len(requests))
        if self.left:
            self.left -= 1
            return {"UnprocessedItems": {table: requests[1:]}}
        return {"UnprocessedItems": {}}


def test_unprocessed_batch_items_are_sent_again_then_fail_loudly():
    pauses: list[float] = []
    client = _Throttling(unprocessed_times=2)
    batch_write(client, "ledger", [{"PutRequest": {"Item": {"n": i}}} for i in range(25)], sleep=pauses.append)
    assert client.calls == [25, 24, 23] and len(pauses) == 2

    stuck = _Throttling(unprocessed_times=99)
    with pytest.raises(RuntimeError, match="still unprocessed"):
        batch_write(stuck, "ledger", [{"PutRequest": {"Item": {"n": i}}} for i in range(25)], sleep=pauses.append)


def test_pending_decisions_of_many_clusters_in_one_batch(world):
    ddb = world.platform.client("dynamodb")
    store = PendingDecisions(ddb, world.ledger_table)
    store.update(ACCOUNT, world.region, "c7", {"arn:aws:iam::123456789012:role/x": {"status": "refused", "detail": "d"}})
    store.update(ACCOUNT, world.region, "c7", {"arn:aws:iam::123456789012:role/y": {"status": "failed", "detail": "d"}})

    found = store.of_clusters(ACCOUNT, [(world.region, f"c{i}") for i in range(150)])

    assert len(found) == 150 and found[(world.region, "c0")] == {}
    assert set(found[(world.region, "c7")]) == {"arn:aws:iam::123456789012:role/x", "arn:aws:iam::123456789012:role/y"}
    assert found[(world.region, "c7")].version == 2
    # a write based on that read needs no second read, and still merges
    store.update(ACCOUNT, world.region, "c7", {"arn:aws:iam::123456789012:role/x": None}, based_on=found[(world.region, "c7")])
    assert set(store.of_cluster(ACCOUNT, world.region, "c7")) == {"arn:aws:iam::123456789012:role/y"}


def test_a_write_based_on_a_stale_read_merges_with_the_newer_one(world):
    store = PendingDecisions(world.platform.client("dynamodb"), world.ledger_table)
    seen = store.of_cluster(ACCOUNT, world.region, "c1")
    store.update(ACCOUNT, world.region, "c1", {"a": {"status": "failed", "detail": "other handler"}})  # written in between

    store.update(ACCOUNT, world.region, "c1", {"b": {"status": "refused", "detail": "this one"}}, based_on=seen)

    assert set(store.of_cluster(ACCOUNT, world.region, "c1")) == {"a", "b"}


def test_the_ledger_puts_many_entries(world):
    ledger = DynamoDbLedger(world.platform.client("dynamodb"), world.ledger_table)
    entries = [(world.region, EntryState("c9", f"arn:aws:iam::{ACCOUNT}:role/r{i}", "STANDARD", None, ("g",), {})) for i in range(60)]
    assert ledger.put_many(ACCOUNT, entries, source="sweep") == 60
    assert len(ledger.of_cluster(ACCOUNT, world.region, "c9")) == 60


def test_a_restore_is_decided_on_the_ledger_record_read_fresh_not_the_batch(world, monkeypatch):
    """The sweep's batch read of the ledger can predate a good state the event handler recorded
    since (a legitimate change to a protected entry): the restore decision reads the record again."""
    from eks_guardrail.handlers.sweep_app import SweepApp

    platform = world.role_arn("Platform")
    app = world.sweep_app(enforce_rules())
    app.handle()  # the ledger now holds Platform's entry
    ledger = DynamoDbLedger(world.platform.client("dynamodb"), world.ledger_table)
    old = ledger.get(ACCOUNT, world.region, "prod", platform)
    world.eks("platform").update_access_entry(clusterName="prod", principalArn=platform, kubernetesGroups=["ops"])
    new = replace(old, groups=("ops",))
    ledger.put(ACCOUNT, world.region, new, source="UpdateAccessEntry (the handler, moments after the batch read)")
    real = SweepApp._ledger_records

    def stale_batch(self, account, result, pool):
        records = real(self, account, result, pool)
        records[(world.region, "prod")][platform] = old  # as read before the handler's write
        return records

    monkeypatch.setattr(SweepApp, "_ledger_records", stale_batch)
    result = app.handle()

    assert [a for a in result["acted"] if a["rule"] == "protected-entry"] == []
    entry = world.eks().describe_access_entry(clusterName="prod", principalArn=platform)["accessEntry"]
    assert entry["kubernetesGroups"] == ["ops"]
