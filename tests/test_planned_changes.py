"""A planned change is judged exactly as the same change arriving as a CloudTrail event."""

from __future__ import annotations

import cloudtrail_builder as ct
from eks_guardrail.changes import parse_event
from eks_guardrail.config import org_rules_from_data
from eks_guardrail.engine import evaluate
from eks_guardrail.planned_changes import planned_actor, planned_association, planned_entry, planned_meta

ORG = org_rules_from_data(
    {
        "mode": "enforce",
        "rules": {
            "prefer-roles": {"action": "rollback"},
            "reserved-prefix": {"action": "rollback", "prefixes": ["platform:"]},
            "admin-policy": {"action": "rollback", "policies": {"AmazonEKSClusterAdminPolicy": {"allow": ["arn:aws:iam::*:role/PlatformAdmin"]}}},
        },
    }
)
ALICE = ct.iam_user_identity()["arn"]


def _verdicts(findings):
    return sorted((f.rule, f.action, f.principal_arn, f.policy_arn, f.cluster) for f in findings)


def _meta(name: str):
    return planned_meta(name, ref="plan item 1", account=ct.ACCOUNT, region=ct.REGION, actor=planned_actor(ALICE, ct.ACCOUNT))


def test_a_planned_entry_gets_the_findings_of_the_same_create_event():
    for principal, groups in ((ct.user_arn("mallory"), ["dev"]), (ct.role_arn("Dev"), ["platform:admins"]), (ct.role_arn("Dev"), ["dev"])):
        event = ct.create_access_entry(principal, cluster="prod", groups=groups)
        planned = planned_entry(cluster="prod", principal_arn=principal, entry_type="STANDARD", username=None, groups=tuple(groups), meta=_meta("CreateAccessEntry"))
        assert _verdicts(evaluate(planned, ORG)) == _verdicts(evaluate(parse_event(event), ORG)), (principal, groups)


def test_a_planned_association_gets_the_findings_of_the_same_associate_event():
    for principal in (ct.role_arn("Dev"), ct.role_arn("PlatformAdmin")):
        event = ct.associate_access_policy(principal, "AmazonEKSClusterAdminPolicy", cluster="prod")
        planned = planned_association(
            cluster="prod", principal_arn=principal, policy_arn=ct.POLICY_PREFIX + "AmazonEKSClusterAdminPolicy",
            scope_type="cluster", namespaces=(), meta=_meta("AssociateAccessPolicy"),
        )
        assert _verdicts(evaluate(planned, ORG)) == _verdicts(evaluate(parse_event(event), ORG))
    assert _verdicts(evaluate(planned_association(
        cluster="prod", principal_arn=ct.role_arn("Dev"), policy_arn=ct.POLICY_PREFIX + "AmazonEKSClusterAdminPolicy",
        scope_type="cluster", namespaces=(), meta=_meta("AssociateAccessPolicy")), ORG))[0][0] == "admin-policy"


def test_the_actor_is_read_from_the_caller_arn():
    assert planned_actor("arn:aws:sts::111122223333:assumed-role/Admin/bob", "1").principal_arn == "arn:aws:iam::111122223333:role/Admin"
    assert planned_actor("arn:aws:iam::111122223333:user/alice", "1").identity_type == "IAMUser"
    assert planned_actor(None, "111122223333").arn == "arn:aws:iam::111122223333:root"
