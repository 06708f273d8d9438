"""The pure parts of enforcement: lockout decisions, alert rendering, handler settings."""

from __future__ import annotations

import json

import pytest

import cloudtrail_builder as ct
from eks_guardrail.alerts.channels import webhook_url_from_secret
from eks_guardrail.alerts.render import console_url, render, sns_message
from eks_guardrail.changes import parse_event
from eks_guardrail.enforcement.enforcer import Enforcer, Outcome
from eks_guardrail.enforcement.lockout import CLUSTER_ADMIN_POLICY_ARN, Removal, would_lock_out
from eks_guardrail.enforcement.rollbacks import ROLLBACKS, required_permissions
from eks_guardrail.engine import evaluate
from eks_guardrail.handlers.settings import HandlerSettings, SettingsError
from eks_guardrail.state import Association, EntryState

from world_helpers import enforce_rules

ADMIN = Association(CLUSTER_ADMIN_POLICY_ARN, "cluster")
NAMESPACED_ADMIN = Association(CLUSTER_ADMIN_POLICY_ARN, "namespace", ("team-a",))


def entry(principal: str, *associations: Association) -> EntryState:
    return EntryState("prod", principal, "STANDARD", None, (), {}, associations)


class TestLockout:
    def test_removing_the_only_admin_locks_out(self):
        assert would_lock_out([entry("a", ADMIN)], Removal("a"))

    def test_another_real_admin_keeps_a_path(self):
        assert not would_lock_out([entry("a", ADMIN), entry("b", ADMIN)], Removal("a"))

    def test_a_protected_name_without_cluster_admin_is_no_admin_path(self):
        # defect: any protected entry counted, whatever it held (none, view-only, a node entry)
        view_only = Association("arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy", "cluster")
        for holder in (entry("arn:aws:iam::1:role/BreakGlass"), entry("arn:aws:iam::1:role/BreakGlass", view_only)):
            assert would_lock_out([entry("a", ADMIN), holder], Removal("a"))
        node = EntryState("prod", "arn:aws:iam::1:role/BreakGlass", "EC2_LINUX", None, ("system:nodes",), {}, (ADMIN,))
        assert would_lock_out([entry("a", ADMIN), node], Removal("a"))

    def test_narrowing_the_only_admin_to_a_namespace_locks_out(self):
        assert would_lock_out([entry("a", ADMIN)], Removal("a", CLUSTER_ADMIN_POLICY_ARN, replacement=NAMESPACED_ADMIN))
        assert not would_lock_out([entry("a", ADMIN, NAMESPACED_ADMIN)], Removal("a", "arn:other"))

    def test_a_cluster_without_admin_path_is_not_made_worse(self):
        assert not would_lock_out([entry("a", NAMESPACED_ADMIN)], Removal("a"))


def test_every_rollback_declares_permissions_and_writes_are_only_access_entry_calls():
    assert all(spec.permissions for spec in ROLLBACKS.values())
    assert required_permissions() == {
        "eks:DescribeAccessEntry", "eks:ListAccessEntries", "eks:ListAssociatedAccessPolicies", "eks:DescribeCluster",
        "eks:DeleteAccessEntry", "eks:UpdateAccessEntry", "eks:CreateAccessEntry", "eks:TagResource",
        "eks:AssociateAccessPolicy", "eks:DisassociateAccessPolicy", "eks:UntagResource", "eks:ListTagsForResource",
    }


def test_alert_renders_for_email_chatbot_and_slack():
    change = parse_event(ct.associate_access_policy(ct.role_arn("Dev"), "AmazonEKSClusterAdminPolicy", identity=ct.assumed_role_identity("Developer", "mallory")))
    (finding,) = evaluate(change, enforce_rules())
    message = render(Outcome(finding, "rolled-back", "disassociated AmazonEKSClusterAdminPolicy"))
    assert message.subject.startswith("[eks-guardrail] CRITICAL admin-policy on prod: rolled back")
    assert "Changed by:  arn:aws:sts::111122223333:assumed-role/Developer/mallory" in message.text
    assert console_url("eu-west-1", "prod") in message.text
    assert message.attributes == {"rule": "admin-policy", "severity": "critical", "action": "rolled-back", "account": "111122223333", "cluster": "prod"}
    body = json.loads(sns_message(message))
    assert body["email"] == message.text
    chatbot = json.loads(body["default"])
    assert chatbot["version"] == "1.0" and chatbot["source"] == "custom"
    assert set(chatbot["content"]) >= {"textType", "title", "description"}
    assert [b["type"] for b in message.slack["blocks"]] == ["header", "section", "section", "actions"]


@pytest.mark.parametrize(
    "secret, url",
    [("https://hooks.slack.com/services/T/B/x", "https://hooks.slack.com/services/T/B/x"), ('{"webhook_url": "https://h/x"}', "https://h/x")],
)
def test_slack_secret_forms(secret, url):
    assert webhook_url_from_secret(secret) == url


def test_slack_secret_without_url_is_an_error_that_does_not_echo_it():
    with pytest.raises(ValueError) as raised:
        webhook_url_from_secret('{"token": "xoxb-123"}')
    assert "xoxb" not in str(raised.value)


def test_settings_from_environment():
    settings = HandlerSettings.from_environ(
        {"GUARDRAIL_CONFIG": json.dumps({"mode": "enforce"}), "LEDGER_TABLE": "ledger", "GUARDRAIL_ROLE_ARNS": "arn:a, arn:b"}
    )
    assert settings.org.mode == "enforce" and settings.own_principals == ("arn:a", "arn:b")
    assert settings.idempotency_table is None and settings.alert_topic_arn is None


@pytest.mark.parametrize(
    "env, says",
    [
        ({"GUARDRAIL_CONFIG": "{}"}, "LEDGER_TABLE is not set"),
        ({"LEDGER_TABLE": "t"}, "neither GUARDRAIL_CONFIG"),
        ({"LEDGER_TABLE": "t", "GUARDRAIL_CONFIG": "{mode"}, "GUARDRAIL_CONFIG: not valid JSON"),
        ({"LEDGER_TABLE": "t", "GUARDRAIL_CONFIG": '{"mode": "on"}'}, "mode: expected"),
        ({"LEDGER_TABLE": "t", "GUARDRAIL_CONFIG_FILE": "/nonexistent.json"}, "cannot read"),
    ],
)
def test_settings_errors(env, says):
    with pytest.raises(SettingsError, match=says):
        HandlerSettings.from_environ(env)
