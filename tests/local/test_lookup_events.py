"""Conformance: CloudTrail LookupEvents (Event history) answered from the records the emulator
emits, in-process and through local-aws (``aws`` fixture)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from typing import Any, Iterator

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from eks_guardrail.local import (
    inject_lookup_throttles,
    lookup_throttles_answered,
    record_history,
    recorded_events,
    set_lookup_rate_limit,
)
from eks_guardrail.local import history
from eks_guardrail.local.history import DEFAULT_RATE_LIMIT

from .conftest import ACCOUNT, Aws
from .helpers import expect_error

NO_RETRIES = Config(retries={"mode": "standard", "total_max_attempts": 1})
NOW = datetime.now(timezone.utc).replace(microsecond=0)


@pytest.fixture(autouse=True)
def no_rate_limit() -> Iterator[None]:
    """Most tests call LookupEvents faster than 2/s: no limit unless a test sets one."""
    previous = set_lookup_rate_limit(None)
    try:
        yield
    finally:
        set_lookup_rate_limit(previous)
        inject_lookup_throttles(0)


def _iso(ts: datetime) -> str:
    return ts.strftime("%Y-%m-%dT%H:%M:%SZ")


def past_call(name: str, when: datetime, cluster: str = "demo", region: str = "eu-west-1") -> dict[str, Any]:
    """A past EKS call by the account root, kept with record_history."""
    return record_history(
        {
            "eventVersion": "1.09",
            "userIdentity": {"type": "Root", "principalId": ACCOUNT, "arn": f"arn:aws:iam::{ACCOUNT}:root",
                             "accountId": ACCOUNT, "accessKeyId": "AKIAPAST"},
            "eventTime": _iso(when),
            "eventSource": "eks.amazonaws.com",
            "eventName": name,
            "awsRegion": region,
            "requestParameters": {"name": cluster},
            "responseElements": None,
            "eventType": "AwsApiCall",
            "managementEvent": True,
            "recipientAccountId": ACCOUNT,
            "eventCategory": "Management",
        }
    )


def lookup_all(client: Any, **params: Any) -> list[dict[str, Any]]:
    """Every page, following NextToken."""
    events: list[dict[str, Any]] = []
    while True:
        page = client.lookup_events(**params)
        events.extend(page["Events"])
        if "NextToken" not in page:
            return events
        params["NextToken"] = page["NextToken"]


def names(events: list[dict[str, Any]]) -> list[str]:
    return [e["EventName"] for e in events]


def by_attribute(client: Any, key: str, value: str) -> list[dict[str, Any]]:
    return lookup_all(client, LookupAttributes=[{"AttributeKey": key, "AttributeValue": value}])


# -- the wire format ------------------------------------------------------------------------------
def check_wire(shape: Any, value: Any, path: str = "") -> None:
    """``value`` (the JSON body as sent) fits botocore's ``shape``: known members only, required
    ones present, json-protocol types (timestamps as epoch seconds)."""
    kind = shape.type_name
    if kind == "structure":
        assert isinstance(value, dict), path
        assert set(value) <= set(shape.members), (path, set(value) - set(shape.members))
        assert set(shape.required_members) <= set(value), path
        for name, member_value in value.items():
            check_wire(shape.members[name], member_value, f"{path}.{name}")
    elif kind == "list":
        assert isinstance(value, list), path
        for i, item in enumerate(value):
            check_wire(shape.member, item, f"{path}[{i}]")
    elif kind == "timestamp":
        assert isinstance(value, (int, float)) and not isinstance(value, bool), path
    elif kind == "string":
        assert isinstance(value, str), path
        assert "enum" not in shape.metadata or value in shape.metadata["enum"], path
    else:
        raise AssertionError(f"unexpected shape {kind} at {path}")


def test_response_fits_the_output_shape(aws: Aws, cluster: str) -> None:
    """The body on the wire is what botocore's LookupEvents output shape describes."""
    ct = aws.client("cloudtrail")
    bodies: list[bytes] = []
    ct.meta.events.register("after-call.cloudtrail.LookupEvents", lambda http_response, **_: bodies.append(http_response.content))
    aws.eks.describe_cluster(name=cluster)
    page = ct.lookup_events(MaxResults=1)
    assert len(page["Events"]) == 1 and page["NextToken"]
    shape = ct.meta.service_model.operation_model("LookupEvents").output_shape
    check_wire(shape, json.loads(bodies[0]))
    event = page["Events"][0]
    assert set(event) == {"EventId", "EventName", "ReadOnly", "AccessKeyId", "EventTime", "EventSource",
                          "Username", "Resources", "CloudTrailEvent"}
    assert isinstance(event["EventTime"], datetime)


# -- order and pages ------------------------------------------------------------------------------
def test_newest_first_across_pages(aws: Aws) -> None:
    """Newest first by eventTime; the same second: the later recorded first; pages continue
    where the previous one stopped, also when newer events arrive in between."""
    expected = []
    for day in range(20, 0, -1):  # 20 days ago .. yesterday, two calls each (same second)
        when = NOW - timedelta(days=day)
        expected[:0] = [past_call(f"Call{day}a", when)["eventID"], past_call(f"Call{day}b", when)["eventID"]][::-1]
    ct = aws.client("cloudtrail")
    first = ct.lookup_events(MaxResults=7)
    assert [e["EventId"] for e in first["Events"]] == expected[:7]
    assert names(first["Events"])[:3] == ["Call1b", "Call1a", "Call2b"]
    past_call("Newer", NOW)  # arrives between pages: not in the pages that follow
    rest = lookup_all(ct, MaxResults=7, NextToken=first["NextToken"])
    assert [e["EventId"] for e in rest] == expected[7:]
    paginated = [e for page in ct.get_paginator("lookup_events").paginate(PaginationConfig={"PageSize": 9}) for e in page["Events"]]
    assert names(paginated)[0] == "Newer" and [e["EventId"] for e in paginated[1:]] == expected
    times = [e["EventTime"] for e in paginated]
    assert times == sorted(times, reverse=True)


def test_emitted_calls_newest_first(aws: Aws, cluster: str) -> None:
    """Calls made through the emulator come back newest first, read-only ones included."""
    aws.eks.describe_cluster(name=cluster)
    aws.eks.list_clusters()
    assert names(lookup_all(aws.client("cloudtrail"), MaxResults=1)) == ["ListClusters", "DescribeCluster", "CreateCluster"]


# -- lookup attributes --------------------------------------------------------------------------
@pytest.fixture
def callers(aws: Aws, cluster: str) -> dict[str, Any]:
    """Calls by the root, an IAM user (bob) and an assumed-role session (alice-session)."""
    aws.create_user("bob")
    key = aws.iam.create_access_key(UserName="bob")["AccessKey"]
    bob = aws.client("eks", aws_access_key_id=key["AccessKeyId"], aws_secret_access_key=key["SecretAccessKey"])
    role = aws.create_role("admin")
    target = aws.create_role("dev")
    alice_creds = aws.assume_role(role["Arn"], session="alice-session")
    alice = aws.client("eks", **alice_creds)
    bob.list_access_entries(clusterName=cluster)
    alice.create_access_entry(clusterName=cluster, principalArn=target["Arn"])
    aws.eks.describe_access_entry(clusterName=cluster, principalArn=target["Arn"])
    return {"bob_key": key["AccessKeyId"], "alice_key": alice_creds["aws_access_key_id"], "target": target["Arn"]}


def test_lookup_by_event_name_and_source(aws: Aws, callers: dict[str, Any]) -> None:
    ct = aws.client("cloudtrail")
    assert names(by_attribute(ct, "EventName", "CreateAccessEntry")) == ["CreateAccessEntry"]
    assert names(by_attribute(ct, "EventSource", "eks.amazonaws.com")) == [
        "DescribeAccessEntry", "CreateAccessEntry", "ListAccessEntries", "CreateCluster"]
    assert by_attribute(ct, "EventSource", "iam.amazonaws.com") == []  # IAM: us-east-1 only
    iam_names = names(by_attribute(aws.client("cloudtrail", region="us-east-1"), "EventSource", "iam.amazonaws.com"))
    assert iam_names == ["CreateRole", "CreateRole", "CreateUser", "CreateRole"]


def test_lookup_by_username(aws: Aws, callers: dict[str, Any]) -> None:
    """Username: the IAM user's name, an assumed role's session name, root for the account."""
    ct = aws.client("cloudtrail")
    assert names(by_attribute(ct, "Username", "bob")) == ["ListAccessEntries"]
    alice = by_attribute(ct, "Username", "alice-session")
    assert names(alice) == ["CreateAccessEntry"] and alice[0]["Username"] == "alice-session"
    assert names(by_attribute(ct, "Username", "root")) == ["DescribeAccessEntry", "CreateCluster"]
    assert by_attribute(ct, "Username", "admin") == []


def test_lookup_by_access_key(aws: Aws, callers: dict[str, Any]) -> None:
    ct = aws.client("cloudtrail")
    bob = by_attribute(ct, "AccessKeyId", callers["bob_key"])
    assert names(bob) == ["ListAccessEntries"] and bob[0]["AccessKeyId"] == callers["bob_key"]
    assert names(by_attribute(ct, "AccessKeyId", callers["alice_key"])) == ["CreateAccessEntry"]


def test_lookup_by_resource(aws: Aws, callers: dict[str, Any], cluster: str) -> None:
    """EKS calls name their cluster (AWS::EKS::Cluster); IAM calls their role or user."""
    ct = aws.client("cloudtrail")
    by_name = by_attribute(ct, "ResourceName", cluster)
    assert names(by_name) == ["DescribeAccessEntry", "CreateAccessEntry", "ListAccessEntries", "CreateCluster"]
    assert all(e["Resources"] == [{"ResourceType": "AWS::EKS::Cluster", "ResourceName": cluster}] for e in by_name)
    assert names(by_attribute(ct, "ResourceType", "AWS::EKS::Cluster")) == names(by_name)
    assert by_attribute(ct, "ResourceName", "other") == []
    global_ct = aws.client("cloudtrail", region="us-east-1")
    dev = by_attribute(global_ct, "ResourceName", "dev")
    assert names(dev) == ["CreateRole"] and dev[0]["Resources"] == [{"ResourceType": "AWS::IAM::Role", "ResourceName": "dev"}]
    assert names(by_attribute(global_ct, "ResourceType", "AWS::IAM::User")) == ["CreateUser"]
    assert len(by_attribute(global_ct, "ResourceType", "AWS::IAM::Role")) == 3


def test_lookup_by_event_id(aws: Aws, callers: dict[str, Any]) -> None:
    ct = aws.client("cloudtrail")
    every = lookup_all(ct)
    for event in every:
        assert by_attribute(ct, "EventId", event["EventId"]) == [event]
    assert by_attribute(ct, "EventId", "00000000-0000-0000-0000-000000000000") == []


def test_read_only_calls_present_and_filterable(aws: Aws, callers: dict[str, Any]) -> None:
    """Event history shows read-only calls (never on the bus); ReadOnly true/false filters them."""
    ct = aws.client("cloudtrail")
    read_only = by_attribute(ct, "ReadOnly", "true")
    assert names(read_only) == ["DescribeAccessEntry", "ListAccessEntries"]
    assert all(e["ReadOnly"] == "true" for e in read_only)
    writes = by_attribute(ct, "ReadOnly", "false")
    assert names(writes) == ["CreateAccessEntry", "CreateCluster"]
    assert all(e["ReadOnly"] == "false" for e in writes)


def test_invalid_lookup_attributes(aws: Aws) -> None:
    """One attribute at most, of a known key; ReadOnly is true or false."""
    ct = aws.client("cloudtrail")
    two = [{"AttributeKey": "EventName", "AttributeValue": "A"}, {"AttributeKey": "Username", "AttributeValue": "root"}]
    expect_error(ct.lookup_events, "InvalidLookupAttributesException", 400, LookupAttributes=two)
    expect_error(ct.lookup_events, "InvalidLookupAttributesException", 400,
                 LookupAttributes=[{"AttributeKey": "Region", "AttributeValue": "x"}])
    expect_error(ct.lookup_events, "InvalidLookupAttributesException", 400,
                 LookupAttributes=[{"AttributeKey": "ReadOnly", "AttributeValue": "maybe"}])
    assert ct.lookup_events(LookupAttributes=[])["Events"] == []


# -- time range, MaxResults, NextToken -------------------------------------------------------------
def test_time_range_inclusive(aws: Aws) -> None:
    """StartTime and EndTime both inclusive; start after end is InvalidTimeRangeException; only
    the last 90 days are visible."""
    t0, t1, t2 = NOW - timedelta(hours=3), NOW - timedelta(hours=2), NOW - timedelta(hours=1)
    for name, when in (("A", t0), ("B", t1), ("C", t2)):
        past_call(name, when)
    past_call("TooOld", NOW - timedelta(days=91))
    past_call("Old", NOW - timedelta(days=89))
    ct = aws.client("cloudtrail")
    assert names(lookup_all(ct, StartTime=t1, EndTime=t1)) == ["B"]
    assert names(lookup_all(ct, StartTime=t0, EndTime=t1)) == ["B", "A"]
    assert names(lookup_all(ct, StartTime=t1)) == ["C", "B"]
    assert names(lookup_all(ct, EndTime=t0)) == ["A", "Old"]
    assert names(lookup_all(ct, StartTime=NOW - timedelta(days=100), EndTime=t0)) == ["A", "Old"]
    expect_error(ct.lookup_events, "InvalidTimeRangeException", 400, StartTime=t2, EndTime=t1)


def test_max_results_bounds(aws: Aws) -> None:
    """MaxResults 1..50, 50 when not given; InvalidMaxResultsException outside."""
    for i in range(60):
        past_call(f"Call{i}", NOW - timedelta(minutes=60 - i))
    ct = aws.client("cloudtrail")
    assert len(ct.lookup_events()["Events"]) == 50
    assert len(ct.lookup_events(MaxResults=50)["Events"]) == 50
    assert names(ct.lookup_events(MaxResults=1)["Events"]) == ["Call59"]
    expect_error(ct.lookup_events, "InvalidMaxResultsException", 400, MaxResults=51)
    unchecked = aws.client("cloudtrail", config=Config(parameter_validation=False))
    expect_error(unchecked.lookup_events, "InvalidMaxResultsException", 400, MaxResults=0)


def test_next_token(aws: Aws) -> None:
    """A NextToken continues the call it came from; one not issued, altered, or reused with other
    parameters (attribute, time range, region) is InvalidNextTokenException."""
    for i in range(5):
        past_call(f"Call{i}", NOW - timedelta(minutes=10 - i))
    ct = aws.client("cloudtrail")
    attribute = [{"AttributeKey": "EventSource", "AttributeValue": "eks.amazonaws.com"}]
    first = ct.lookup_events(MaxResults=2, LookupAttributes=attribute, StartTime=NOW - timedelta(hours=1))
    token = first["NextToken"]
    same = {"LookupAttributes": attribute, "StartTime": NOW - timedelta(hours=1)}
    assert names(ct.lookup_events(MaxResults=2, NextToken=token, **same)["Events"]) == ["Call2", "Call1"]
    # the same token again gives the same page; another page size is allowed
    assert names(ct.lookup_events(MaxResults=3, NextToken=token, **same)["Events"]) == ["Call2", "Call1", "Call0"]
    for params in (
        {"LookupAttributes": attribute},  # no StartTime
        {"LookupAttributes": [{"AttributeKey": "EventName", "AttributeValue": "Call1"}], "StartTime": same["StartTime"]},
        {"StartTime": same["StartTime"]},  # no attribute
        {**same, "EndTime": NOW},
    ):
        expect_error(ct.lookup_events, "InvalidNextTokenException", 400, NextToken=token, **params)
    expect_error(aws.client("cloudtrail", region="eu-central-1").lookup_events, "InvalidNextTokenException", 400,
                 NextToken=token, **same)
    for bad in ("not-a-token", token[:-4] + "AAAA", "djE6Mg=="):
        expect_error(ct.lookup_events, "InvalidNextTokenException", 400, NextToken=bad, **same)


# -- regions and records ---------------------------------------------------------------------------
def test_iam_events_only_in_us_east_1(aws: Aws) -> None:
    aws.create_role("r")
    aws.create_user("u")
    assert lookup_all(aws.client("cloudtrail")) == []
    assert lookup_all(aws.client("cloudtrail", region="eu-central-1")) == []
    events = lookup_all(aws.client("cloudtrail", region="us-east-1"))
    assert names(events) == ["CreateUser", "CreateRole"]
    assert {e["EventSource"] for e in events} == {"iam.amazonaws.com"}


def test_eks_events_per_region(aws: Aws) -> None:
    aws.create_role("eks-cluster-role")
    aws.create_cluster("west", client=aws.client("eks", region="eu-west-1"))
    aws.create_cluster("central", client=aws.client("eks", region="eu-central-1"))
    west = lookup_all(aws.client("cloudtrail", region="eu-west-1"))
    central = lookup_all(aws.client("cloudtrail", region="eu-central-1"))
    assert [e["Resources"][0]["ResourceName"] for e in west] == ["west"]
    assert [e["Resources"][0]["ResourceName"] for e in central] == ["central"]
    assert [e["EventSource"] for e in lookup_all(aws.client("cloudtrail", region="us-east-1"))] == ["iam.amazonaws.com"]


def test_cloudtrail_event_is_the_emitted_record(aws: Aws, cluster: str) -> None:
    """CloudTrailEvent is the record emitted (as on the bus); its eventID is EventId, its
    eventTime EventTime."""
    queue = aws.queue_for_rule({"source": ["aws.eks"]})
    role = aws.create_role("dev")
    aws.eks.create_access_entry(clusterName=cluster, principalArn=role["Arn"])
    on_bus = aws.drain(queue)[-1]["detail"]
    event = by_attribute(aws.client("cloudtrail"), "EventName", "CreateAccessEntry")[0]
    record = json.loads(event["CloudTrailEvent"])
    assert record == on_bus
    assert [e["detail"] for e in recorded_events(region=aws.region) if e["detail"]["eventName"] == "CreateAccessEntry"] == [record]
    assert record["eventID"] == event["EventId"] and record["eventName"] == event["EventName"]
    assert record["eventSource"] == event["EventSource"]
    assert record["userIdentity"]["accessKeyId"] == event["AccessKeyId"]
    assert _iso(event["EventTime"].astimezone(timezone.utc)) == record["eventTime"]


def test_record_history_keeps_the_record(aws: Aws) -> None:
    """record_history: the record comes back as given (eventID filled in), not on the bus."""
    kept = past_call("DeleteAccessEntry", NOW - timedelta(days=30), cluster="old")
    event = lookup_all(aws.client("cloudtrail"))[0]
    assert json.loads(event["CloudTrailEvent"]) == kept
    assert event["EventId"] == kept["eventID"] and event["ReadOnly"] == "false" and event["Username"] == "root"
    assert event["Resources"] == [{"ResourceType": "AWS::EKS::Cluster", "ResourceName": "old"}]


def test_history_is_bounded(aws: Aws, monkeypatch: pytest.MonkeyPatch) -> None:
    """At most MAX_EVENTS_PER_REGION records per account and region: the oldest recorded go."""
    assert history.MAX_EVENTS_PER_REGION == 100_000
    monkeypatch.setattr(history, "MAX_EVENTS_PER_REGION", 3)  # read when a backend is made
    for i in range(5):
        past_call(f"Call{i}", NOW - timedelta(minutes=10 - i))
    assert names(lookup_all(aws.client("cloudtrail"))) == ["Call4", "Call3", "Call2"]


def test_trails_still_work(aws: Aws) -> None:
    """moto's own CloudTrail (trails) is untouched."""
    aws.client("s3").create_bucket(Bucket="trail-bucket", CreateBucketConfiguration={"LocationConstraint": aws.region})
    ct = aws.client("cloudtrail")
    ct.create_trail(Name="trail", S3BucketName="trail-bucket")
    assert [t["Name"] for t in ct.describe_trails()["trailList"]] == ["trail"]


# -- throttling -------------------------------------------------------------------------------------
def burst(client: Any, count: int) -> list[str]:
    """``count`` calls without waiting: "ok" or the error code of each."""
    outcomes = []
    for _ in range(count):
        try:
            client.lookup_events(MaxResults=1)
            outcomes.append("ok")
        except ClientError as err:
            assert err.response["ResponseMetadata"]["HTTPStatusCode"] == 400
            outcomes.append(err.response["Error"]["Code"])
    return outcomes


def test_throttled_at_two_per_second(aws: Aws) -> None:
    """By default 2 calls per second per account and region, as on AWS; a third in the same
    second is throttled (HTTP 400 ThrottlingException); other regions have their own count."""
    assert DEFAULT_RATE_LIMIT == 2
    set_lookup_rate_limit()  # the default
    west = aws.client("cloudtrail", config=NO_RETRIES)
    assert burst(west, 4)[:3] == ["ok", "ok", "ThrottlingException"]
    assert burst(aws.client("cloudtrail", region="eu-central-1", config=NO_RETRIES), 2) == ["ok", "ok"]
    assert lookup_throttles_answered(ACCOUNT, "eu-west-1") >= 1
    assert lookup_throttles_answered(ACCOUNT, "eu-central-1") == 0


def test_rate_limit_can_be_changed(aws: Aws) -> None:
    ct = aws.client("cloudtrail", config=NO_RETRIES)
    set_lookup_rate_limit(5)
    assert burst(ct, 6)[:6] == ["ok"] * 5 + ["ThrottlingException"]
    set_lookup_rate_limit(None)
    assert burst(ct, 10) == ["ok"] * 10


@pytest.mark.parametrize("mode", ["standard", "adaptive"])
def test_retries_get_through(aws: Aws, mode: str) -> None:
    """botocore's retry modes take ThrottlingException for throttling and get through."""
    set_lookup_rate_limit()  # 2 per second
    client = aws.client("cloudtrail", config=Config(retries={"mode": mode, "total_max_attempts": 10}))
    assert burst(client, 4) == ["ok"] * 4
    assert lookup_throttles_answered() >= 1


def test_injected_throttles(aws: Aws) -> None:
    """inject_lookup_throttles(n): the next n calls are throttled whatever the rate."""
    ct = aws.client("cloudtrail", config=NO_RETRIES)
    inject_lookup_throttles(3)
    assert burst(ct, 4) == ["ThrottlingException"] * 3 + ["ok"]
    assert lookup_throttles_answered() == 3
    inject_lookup_throttles(2)
    retrying = aws.client("cloudtrail", config=Config(retries={"mode": "standard", "total_max_attempts": 3}))
    assert burst(retrying, 1) == ["ok"]
    assert lookup_throttles_answered() == 5
