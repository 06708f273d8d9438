"""Every sample and generated event through the synthesised rules' patterns, on moto's EventBridge.

The patterns are read from the templates (not from `patterns.py`), put on moto rules with
one SQS queue each, and each event is checked to reach exactly the rule it should; failed
calls and reads reach none.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import cloudtrail_builder as ct
from conftest import FORWARDER_STACK, HOME_STACK, OTHER_STACK

EVENTS = Path(__file__).resolve().parents[1] / "events"
REGION = "eu-west-1"


def _patterned_rules(synth) -> dict[str, dict]:
    """rule name -> pattern: the access rules of both regions, the home IAM rule and the forwarder's."""
    rules = {}
    for stack, prefix in ((HOME_STACK, "home"), (OTHER_STACK, "other"), (FORWARDER_STACK, "forwarder")):
        for logical_id, resource in synth.resources(stack, "AWS::Events::Rule").items():
            pattern = resource["Properties"].get("EventPattern")
            if pattern is not None:
                rules[f"{prefix}-{logical_id}"[:64]] = pattern
    return rules


def _kind(name: str) -> str:
    if "AccessEntryRule" in name:
        return "eks"
    if "IamPrincipal" in name:
        return "iam"
    raise AssertionError(name)


@pytest.fixture(scope="module")
def router(synth):
    import boto3
    from moto import mock_aws

    with mock_aws():
        events = boto3.client("events", region_name=REGION)
        sqs = boto3.client("sqs", region_name=REGION)
        queues = {}
        for name, pattern in _patterned_rules(synth).items():
            url = sqs.create_queue(QueueName=name)["QueueUrl"]
            arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
            events.put_rule(Name=name, EventPattern=json.dumps(pattern), State="ENABLED")
            events.put_targets(Rule=name, Targets=[{"Id": "q", "Arn": arn}])
            queues[name] = url

        def route(event: dict) -> set[str]:
            """The kinds of rule (`eks`, `iam`) the event reached, after checking both regions agree."""
            response = events.put_events(
                Entries=[
                    {
                        "Source": event["source"],
                        "DetailType": event["detail-type"],
                        "Detail": json.dumps(event["detail"]),
                        "Resources": event.get("resources", []),
                    }
                ]
            )
            assert response["FailedEntryCount"] == 0
            reached = set()
            for name, url in queues.items():
                messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
                for message in messages:
                    sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
                if messages:
                    reached.add(name)
            return reached

        yield route, set(queues)


def _sample(name: str) -> dict:
    data = json.loads((EVENTS / name).read_text())
    if "detail-type" in data:
        return data
    # The partial records (see tests/events/README.md) lack the envelope's account and time.
    data.setdefault("recipientAccountId", ct.ACCOUNT)
    data.setdefault("eventTime", "2026-11-28T10:00:00Z")
    data.setdefault("awsRegion", REGION)
    return ct.eventbridge(data)


def test_the_synthesised_rules_are_the_expected_ones(router):
    _, names = router
    assert sorted(_kind(n) for n in names) == ["eks", "eks", "iam", "iam"]


SAMPLES = {
    "eks_CreateAccessEntry_stratus-red-team.json": "eks",
    "eks_AssociateAccessPolicy_stratus-red-team.json": "eks",
    "eks_CreateCluster_aws-eks-userguide.json": "eks",
    "iam_CreateRole_stratus-red-team.json": "iam",
    "iam_CreateUser_elastic-integrations.json": "iam",
    "iam_DeleteRole_rust-fixture.eventbridge.json": "iam",
}


def test_samples_cover_every_file():
    assert set(SAMPLES) == {p.name for p in EVENTS.glob("*.json")}


@pytest.mark.parametrize(("sample", "kind"), sorted(SAMPLES.items()))
def test_every_sample_reaches_its_rules(router, sample, kind):
    route, names = router
    reached = route(_sample(sample))
    assert reached == {n for n in names if _kind(n) == kind}


GENERATED = [
    (ct.create_access_entry(ct.role_arn()), "eks"),
    (ct.update_access_entry(ct.role_arn(), groups=["dev"]), "eks"),
    (ct.delete_access_entry(ct.role_arn()), "eks"),
    (ct.associate_access_policy(ct.role_arn(), "AmazonEKSClusterAdminPolicy"), "eks"),
    (ct.disassociate_access_policy(ct.role_arn(), "AmazonEKSViewPolicy"), "eks"),
    (ct.create_cluster("c", mode="API"), "eks"),
    (ct.update_cluster_config("c", mode="API"), "eks"),
    (ct.create_role("x"), "iam"),
    (ct.delete_role("x"), "iam"),
    (ct.delete_user("alice"), "iam"),
]


@pytest.mark.parametrize(("record", "kind"), GENERATED, ids=[r["eventName"] for r, _ in GENERATED])
def test_every_generated_event_reaches_its_rules(router, record, kind):
    route, names = router
    assert route(ct.eventbridge(record)) == {n for n in names if _kind(n) == kind}


FAILED = [
    ct.create_access_entry(ct.role_arn(), error_code="AccessDeniedException"),
    ct.delete_access_entry(ct.role_arn(), error_code="ResourceNotFoundException"),
    ct.associate_access_policy(ct.role_arn(), "AmazonEKSClusterAdminPolicy", error_code="AccessDeniedException"),
    ct.create_cluster("c", error_code="AccessDeniedException"),
    ct.delete_role("x", error_code="AccessDenied"),
    ct.create_role("x", error_code="EntityAlreadyExists"),
]


@pytest.mark.parametrize("record", FAILED, ids=[r["eventName"] for r in FAILED])
def test_failed_calls_reach_no_rule(router, record):
    route, _ = router
    assert route(ct.eventbridge(record)) == set()


def test_reads_reach_no_rule(router):
    route, _ = router
    read = ct.cloudtrail_record("eks", "ListAccessEntries", {"clusterName": "c"})
    assert route(ct.eventbridge(read)) == set()
