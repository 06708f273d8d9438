"""benchmarks/fanout_scale.py at a tiny size (issue 16): the lister, the queue and the workers
driven in process on the emulator. Behaviour only: every cluster swept exactly once, nothing
failed, the calls each invocation makes are those the code makes for that size, throttles
absorbed by retries, a memory figure present. No timing threshold."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CLUSTERS, ENTRIES, REGIONS = 6, 5, 3


def _per_invocation(entries: int) -> Counter:
    """One worker invocation: Platform (admin), the region's node role (EC2_LINUX: no associations
    to list) and entries - 2 team roles, all in IAM; IAM lookups apart (`get_roles`): each Lambda
    environment looks a principal up once per run."""
    standard = entries - 1
    return Counter({
        # EKS reads: the head (DescribeCluster, ListAccessEntries: one page up to 100), each entry
        "DescribeCluster": 1, "ListAccessEntries": 1, "DescribeAccessEntry": entries, "ListAssociatedAccessPolicies": standard,
        # the ledger's records (Query), pending decisions (BatchGetItem, enforce), the sweep memory
        # (GetItem, PutItem), the entries recorded (BatchWriteItem, 25 a call), the run record (UpdateItem)
        "Query": 1, "BatchGetItem": 1, "GetItem": 1, "PutItem": 1, "BatchWriteItem": 1, "UpdateItem": 1,
    })


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> dict:
    out = tmp_path_factory.mktemp("fanout") / "fanout.json"
    done = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "fanout_scale.py"), "--clusters", str(CLUSTERS), "--entries", str(ENTRIES),
         "--regions", str(REGIONS), "--latency", "0", "--sample", "0", "--throttle-sample", "3", "--throttle-rate", "20",
         "--memory-at", "3", "--json", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "every cluster swept exactly once" in done.stdout
    return json.loads(out.read_text())


def test_every_cluster_is_swept_exactly_once_and_none_fails(report):
    run = report["data"]["run"]
    assert run["clusters_swept"] == CLUSTERS and run["deliveries"] == {"1": CLUSTERS}
    assert run["failures"] == [] and run["swept_more_than_once"] == [] and not run["stopped_early"]
    assert sorted(i["cluster"] for i in run["invocations"]) == sorted({i["cluster"] for i in run["invocations"]})
    assert {i["cluster"].split("/")[0] for i in run["invocations"]} == set(report["data"]["regions"]) and len(report["data"]["regions"]) == REGIONS
    assert run["run_record"] == {"expected": CLUSTERS, "swept": CLUSTERS, "failed": 0}
    (summary,) = run["reported"]  # one summary for the run, from whichever invocation completed it
    assert summary["clusters"] == CLUSTERS and summary["swept"] == CLUSTERS and summary["failed"] == [] and summary["findings"] == 0
    verdicts = {t["target"]: t["verdict"] for t in report["targets"]}
    assert verdicts["every cluster swept exactly once, none failed"] == "PASS"
    assert verdicts["one run summary, every cluster in it"] == "PASS"


def test_each_invocation_makes_the_calls_the_code_makes_for_its_size(report):
    run = report["data"]["run"]
    expected = _per_invocation(ENTRIES)
    per_cluster = sum(expected.values())
    # the invocation that completes the run also claims its summary (one more UpdateItem)
    assert sorted(i["calls"] - i["get_roles"] for i in run["invocations"]) == [per_cluster] * (CLUSTERS - 1) + [per_cluster + 1]
    # IAM: each of the 5 environments asks about a principal once in the run: the sixth cluster's
    # environment already knows Platform (in every cluster), so fewer lookups than entries in all
    get_roles = sum(i["get_roles"] for i in run["invocations"])
    assert ENTRIES * 5 <= get_roles < CLUSTERS * ENTRIES
    assert sorted(i["update_items"] for i in run["invocations"]) == [1] * (CLUSTERS - 1) + [2]
    assert all(i["eks_calls"] == 2 + 2 * ENTRIES - 1 for i in run["invocations"])
    assert all(i["attempts"] == i["calls"] for i in run["invocations"])  # nothing throttled, nothing retried
    total = Counter({op: n * CLUSTERS for op, n in expected.items()})
    total["UpdateItem"] += 1
    total["GetRole"] = get_roles
    assert Counter(run["by_operation"]) == total


def test_the_lister_lists_each_region_once_and_sends_one_batch_per_ten_clusters(report):
    lister = report["data"]["run"]["lister"]
    assert lister["sent"] == lister["clusters"] == CLUSTERS and lister["errors"] == []
    assert lister["by_operation"]["ListClusters"] == REGIONS  # one page per region (100 a page)
    assert lister["by_operation"]["SendMessageBatch"] == -(-CLUSTERS // 10)
    assert lister["calls"] == sum(lister["by_operation"].values())


def test_throttles_are_absorbed_by_retries_and_no_cluster_fails(report):
    throttled = report["data"]["throttled"]
    assert throttled["swept"] == throttled["clusters"] == 3
    assert throttled["failures"] == [] and throttled["errors"] == []
    assert throttled["attempts"] == throttled["calls"] + throttled["throttled"]  # every throttle retried, none gave up
    assert set(throttled["throttled_by_operation"]) <= {"DescribeCluster", "ListAccessEntries", "DescribeAccessEntry", "ListAssociatedAccessPolicies"}


def test_a_memory_figure_per_size_of_the_account(report):
    memory = report["data"]["memory"]
    assert [m["clusters"] for m in memory] == [3, CLUSTERS]
    for m in memory:
        assert m["peak_mib"] > 0 and not m["failed"] and m["entries"] == ENTRIES
        assert "worker_objects_retained" in m and "retained_kib" in m
