"""The benchmark's own instruments (benchmarks/): the probe counts what botocore really sends,
flags a repeated request, injects latency and throttles that the retries must absorb; and the
one command runs a part end to end. No timing upper bound, no performance assertion."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import boto3
import pytest
from botocore.config import Config

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

from _probe import Probe  # noqa: E402

REGION = "eu-west-1"


@pytest.fixture
def session():
    from eks_guardrail.local import mock_aws

    with mock_aws():
        yield boto3.session.Session(region_name=REGION, aws_access_key_id="testing", aws_secret_access_key="testing")


def _table(session, name: str = "t") -> None:
    session.client("dynamodb").create_table(
        TableName=name, KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}], BillingMode="PAY_PER_REQUEST",
    )


def test_the_probe_counts_each_operation_a_known_sequence_makes_and_flags_the_repeated_request(session):
    _table(session)
    iam = session.client("iam")
    for i in range(3):
        iam.create_role(RoleName=f"r{i}", AssumeRolePolicyDocument="{}")
    probe = Probe()
    probe.attach(session)  # clients made after this are probed; the set-up above is not counted
    ddb, iam, eks = session.client("dynamodb"), session.client("iam"), session.client("eks")
    with probe.scope() as scope:
        ddb.get_item(TableName="t", Key={"pk": {"S": "a"}})
        ddb.get_item(TableName="t", Key={"pk": {"S": "b"}})  # same operation, another request: no repeat
        ddb.get_item(TableName="t", Key={"pk": {"S": "a"}})  # the first request again: a repeat
        ddb.get_item(TableName="t", Key={"pk": {"S": "a"}}, ConsistentRead=True)  # another request
        ddb.put_item(TableName="t", Item={"pk": {"S": "a"}})
        pages = list(iam.get_paginator("list_roles").paginate(PaginationConfig={"PageSize": 1}))  # 3 pages: 3 calls, each its own marker
        eks.list_clusters()
        iam.get_role(RoleName="r0")
        iam.get_role(RoleName="r0")
        iam.get_role(RoleName="r0")  # twice more: 2 extra calls
    eks.list_clusters()  # outside the scope: counted in the totals only

    assert len(pages) == 3
    assert scope.by_operation() == Counter({"GetItem": 4, "PutItem": 1, "ListRoles": 3, "ListClusters": 1, "GetRole": 3})
    assert scope.repeats() == Counter({"GetItem": 1, "GetRole": 2})
    assert probe.by_operation() == Counter({"GetItem": 4, "PutItem": 1, "ListRoles": 3, "ListClusters": 2, "GetRole": 3})
    assert probe.calls[("dynamodb", "GetItem")] == 4 and probe.calls[("eks", "ListClusters")] == 2
    assert probe.attempts == probe.calls  # no retries, no throttles


def test_the_same_request_to_another_region_is_not_a_repeat(session):
    probe = Probe()
    probe.attach(session)
    with probe.scope() as scope:
        session.client("eks", region_name="eu-west-1").list_clusters()
        session.client("eks", region_name="us-west-2").list_clusters()
    assert scope.by_operation() == Counter({"ListClusters": 2}) and not scope.repeats()


def test_latency_is_paid_by_every_call(session):
    eks = Probe(latency=0.05).attach(session.client("eks"))  # a client can be probed alone too
    started = time.perf_counter()
    for _ in range(6):
        eks.list_clusters()
    assert time.perf_counter() - started >= 6 * 0.05


def test_injected_throttles_are_real_throttles_absorbed_by_retries_and_never_carried_out(session):
    _table(session)
    probe = Probe(throttle={"dynamodb": (2.0, 1.0), "eks": (2.0, 1.0)})
    probe.attach(session)
    config = Config(retries={"mode": "adaptive", "max_attempts": 10})
    ddb, eks = session.client("dynamodb", config=config), session.client("eks", config=config)
    retries = 0
    for i in range(3):
        # conditional on absence: had a throttled attempt been carried out, its retry would fail
        answer = ddb.put_item(TableName="t", Item={"pk": {"S": f"k{i}"}}, ConditionExpression="attribute_not_exists(pk)")
        retries += answer["ResponseMetadata"]["RetryAttempts"]
        retries += eks.list_clusters()["ResponseMetadata"]["RetryAttempts"]

    throttled = sum(probe.throttled.values())
    assert probe.throttled[("dynamodb", "PutItem")] >= 1  # a bucket of one token, two writes back to back
    assert retries == throttled  # botocore retried exactly the attempts answered with a throttle
    assert probe.calls == Counter({("dynamodb", "PutItem"): 3, ("eks", "ListClusters"): 3})
    assert sum(probe.attempts.values()) == 6 + throttled
    scanned = session.client("dynamodb").scan(TableName="t")["Items"]
    assert sorted(item["pk"]["S"] for item in scanned) == [f"k{i}" for i in range(3)]


def test_a_throttle_without_retries_reaches_the_caller_as_the_services_own_error(session):
    from botocore.exceptions import ClientError

    probe = Probe(throttle={"eks": (0.001, 1.0), "iam": (0.001, 1.0)})
    probe.attach(session)
    none = Config(retries={"mode": "standard", "max_attempts": 1})
    eks, iam = session.client("eks", config=none), session.client("iam", config=none)
    eks.list_clusters()
    iam.list_roles()
    with pytest.raises(ClientError) as rest_json:
        eks.list_clusters()
    with pytest.raises(ClientError) as query:
        iam.list_roles()
    assert (rest_json.value.response["Error"]["Code"], rest_json.value.response["ResponseMetadata"]["HTTPStatusCode"]) == ("ThrottlingException", 429)
    assert (query.value.response["Error"]["Code"], query.value.response["ResponseMetadata"]["HTTPStatusCode"]) == ("Throttling", 400)


def test_the_one_command_runs_the_calls_part_and_reports_its_target(tmp_path):
    out = tmp_path / "calls.json"
    result = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "run.py"), "--quick", "--only", "calls", "--json", str(out)],
        capture_output=True, text=True, timeout=300, cwd=ROOT,
    )
    assert result.returncode in (0, 1), result.stderr[-3000:]
    (part,) = json.loads(out.read_text())["parts"]
    rows = {(e["event"], e["outcome"]): e for e in part["data"]["events"]}
    assert all(e["problem"] is None for e in rows.values()), [e for e in rows.values() if e["problem"]]
    compliant = rows[("CreateAccessEntry", "compliant")]
    assert compliant["calls"].get("DescribeAccessEntry", 0) >= 1  # the handler read the entry through the probed client
    assert sum(rows[("CreateAccessEntry", "skipped: a failed call")]["calls"].values()) == 0
    duplicate = rows[("CreateAccessEntry", "duplicate delivery (of the rollback above)")]
    assert "DeleteAccessEntry" not in duplicate["calls"]  # the idempotency store answered: nothing undone twice
    (target,) = [t for t in part["targets"] if t["target"] == "no call repeated within one event"]
    assert target["verdict"] == ("PASS" if not any(e["repeats"] for e in rows.values()) else "MISS")
    assert f"{target['verdict']}  no call repeated within one event" in result.stdout
