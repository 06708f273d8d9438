"""The shared EventBridge patterns, checked with moto's own pattern matcher."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from moto.events.models import EventPattern

import cloudtrail_builder as ct
from eks_guardrail.patterns import EVENT_PATTERNS, eks_access_pattern, iam_principal_pattern

EVENTS = Path(__file__).parent / "events"


def matches(pattern: dict, event: dict) -> bool:
    return EventPattern.load(json.dumps(pattern)).matches_event(event)


@pytest.mark.parametrize(
    "record",
    [
        ct.create_access_entry(ct.role_arn()),
        ct.update_access_entry(ct.role_arn(), groups=["a"]),
        ct.delete_access_entry(ct.role_arn()),
        ct.associate_access_policy(ct.role_arn(), "AmazonEKSViewPolicy"),
        ct.disassociate_access_policy(ct.role_arn(), "AmazonEKSViewPolicy"),
        ct.create_cluster("c"),
        ct.update_cluster_config("c", mode="API"),
        ct.tag_resource(ct.cluster_arn("c"), {"guardrail": "exempt"}),
        ct.untag_resource(ct.cluster_arn("c"), ["guardrail"]),
    ],
    ids=lambda r: r["eventName"],
)
def test_eks_changes_reach_the_access_rule_only(record):
    event = ct.eventbridge(record)
    assert matches(eks_access_pattern(), event)
    assert not matches(iam_principal_pattern(), event)


def test_failed_calls_and_reads_reach_no_rule():
    failed = ct.eventbridge(ct.create_access_entry(ct.role_arn(), error_code="ResourceInUseException"))
    read = ct.eventbridge(ct.cloudtrail_record("eks", "ListAccessEntries", {"clusterName": "c"}))
    for pattern in EVENT_PATTERNS.values():
        assert not matches(pattern, failed)
        assert not matches(pattern, read)


def test_iam_samples_reach_the_iam_rule():
    delete_role = json.loads((EVENTS / "iam_DeleteRole_rust-fixture.eventbridge.json").read_text())
    assert matches(iam_principal_pattern(), delete_role)
    for name in ("iam_CreateRole_stratus-red-team.json", "iam_CreateUser_elastic-integrations.json"):
        record = json.loads((EVENTS / name).read_text())
        record.setdefault("recipientAccountId", "123456789012")
        assert matches(iam_principal_pattern(), ct.eventbridge(record)), name
    assert matches(iam_principal_pattern(), ct.eventbridge(ct.delete_user("alice")))


def test_the_access_pattern_names_every_eks_event_parsed():
    from eks_guardrail.changes import EKS_EVENT_NAMES, PARSERS

    names = eks_access_pattern()["detail"]["eventName"]
    assert names == list(EKS_EVENT_NAMES) and len(names) == 9
    assert sorted(names) == sorted(name for source, name in PARSERS if source == "eks.amazonaws.com")
    assert {"TagResource", "UntagResource"} <= set(names)
