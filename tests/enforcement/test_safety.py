"""Safety on the emulator: monitor mode, own changes, duplicate delivery, failing channels and rollbacks."""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber

from eks_guardrail.adapters.eks import EksAccessEntries
from eks_guardrail.demo.world import ACCOUNT, CLUSTER_ADMIN, FakeLambdaContext
from eks_guardrail.local import recorded_events

from world_helpers import enforce_rules
from .test_rollbacks import outcomes

MUTATING = {"CreateAccessEntry", "UpdateAccessEntry", "DeleteAccessEntry", "AssociateAccessPolicy", "DisassociateAccessPolicy"}


def calls_by(role_arn: str) -> list[str]:
    """Mutating EKS calls the emulator recorded for an identity (CloudTrail's view)."""
    return [
        e["detail"]["eventName"]
        for e in recorded_events()
        if e["detail"]["eventName"] in MUTATING
        and e["detail"]["userIdentity"].get("sessionContext", {}).get("sessionIssuer", {}).get("arn") == role_arn
    ]


def attack(world) -> str:
    developer = world.role_arn("Developer")
    eks = world.eks("attacker")
    eks.create_access_entry(clusterName="prod", principalArn=developer)
    eks.associate_access_policy(clusterName="prod", principalArn=developer, policyArn=CLUSTER_ADMIN, accessScope={"type": "cluster"})
    eks.delete_access_entry(clusterName="prod", principalArn=world.role_arn("Platform"))
    return developer


def test_monitor_mode_makes_no_write_call_at_all(world):
    app = world.app(enforce_rules(mode="monitor"))
    world.deliver(app)
    attack(world)
    results = world.deliver(app)

    assert calls_by(world.guardrail_role_arn) == []
    assert {status for _, status in outcomes(results)} == {"alerted"}
    assert ("admin-policy", "alerted") in outcomes(results) and ("protected-entry", "alerted") in outcomes(results)
    assert world.role_arn("Platform") not in world.entries("prod")
    details = {json.loads(a["message"])["content"]["description"].split("*What we did:* ")[1] for a in world.alerts()}
    assert "alert only: mode is monitor, so nothing was rolled back" in " ".join(details)


def test_guardrail_skips_its_own_changes(world, guardrail):
    guardrail_eks = world.eks("guardrail")
    world.platform.client("iam").create_user(UserName="robot")
    guardrail_eks.create_access_entry(clusterName="prod", principalArn=f"arn:aws:iam::{ACCOUNT}:user/robot")

    (result,) = world.deliver(guardrail)

    assert result["status"] == "skipped" and "guardrail itself" in result["reason"]
    assert world.alerts() == []


def test_duplicate_delivery_acts_once(world, guardrail):
    world.platform.client("iam").create_user(UserName="mallory")
    world.eks("attacker").create_access_entry(clusterName="prod", principalArn=f"arn:aws:iam::{ACCOUNT}:user/mallory")
    (event,) = world.pending_events()

    first = guardrail.handle(event, FakeLambdaContext())
    second = guardrail.handle(event, FakeLambdaContext())

    assert first == second
    assert calls_by(world.guardrail_role_arn) == ["DeleteAccessEntry"]
    assert len(world.alerts()) == 1


def test_sns_failing_does_not_block_slack_nor_the_rollback(world):
    posted = []
    world.platform.client("secretsmanager").create_secret(Name="slack", SecretString='{"webhook_url": "https://hooks.slack.test/T/B/secret"}')
    app = world.app(enforce_rules(), slack_post=lambda url, body: posted.append((url, body)), slack_secret_name="slack")
    world.deliver(app)
    world.platform.client("sns").delete_topic(TopicArn=world.topic_arn)
    developer = world.role_arn("Developer")
    world.eks("attacker").create_access_entry(clusterName="prod", principalArn=developer)
    world.eks("attacker").associate_access_policy(clusterName="prod", principalArn=developer, policyArn=CLUSTER_ADMIN, accessScope={"type": "cluster"})

    results = world.deliver(app)

    assert ("admin-policy", "rolled-back") in outcomes(results)
    assert results[-1]["alert_failures"] == ["sns"]
    assert world.entries("prod")[developer] == []
    (url, body), = [p for p in posted if "admin-policy on prod: rolled back" in p[1]["text"]]
    assert url == "https://hooks.slack.test/T/B/secret"
    assert body["blocks"][0]["text"]["text"] == "admin-policy: rolled back"


def test_slack_failing_does_not_block_sns_nor_the_rollback(world, caplog):
    def broken_webhook(url, body):
        raise OSError(f"connection refused to {url}")

    world.platform.client("secretsmanager").create_secret(Name="slack", SecretString="https://hooks.slack.test/T/B/secret")
    app = world.app(enforce_rules(), slack_post=broken_webhook, slack_secret_name="slack")
    world.deliver(app)
    world.alerts()
    world.eks("attacker").delete_access_entry(clusterName="prod", principalArn=world.role_arn("Platform"))

    (result,) = world.deliver(app)

    assert result["outcomes"] == [{"rule": "protected-entry", "status": "rolled-back", "detail": result["outcomes"][0]["detail"]}]
    assert result["alert_failures"] == ["slack"]
    assert [a["attributes"]["rule"] for a in world.alerts()] == ["protected-entry"]
    assert "secret" not in caplog.text and "hooks.slack.test" not in caplog.text


def test_failed_rollback_is_alerted_then_raised_for_lambda_to_retry(world, guardrail):
    world.platform.client("iam").create_user(UserName="mallory")
    mallory = f"arn:aws:iam::{ACCOUNT}:user/mallory"
    world.eks("attacker").create_access_entry(clusterName="prod", principalArn=mallory)
    (event,) = world.pending_events()
    app = world.app(enforce_rules(), idempotency=False)
    eks = world.guardrail.client("eks", region_name=world.region)
    stubber = Stubber(eks)
    stubber.add_client_error("describe_access_entry", "ServerException", "internal error", 500)
    app.enforcer.eks_for_region = lambda region: EksAccessEntries(eks)

    with stubber, pytest.raises(ClientError, match="ServerException"):
        app.handle(event, FakeLambdaContext())

    (alert,) = world.alerts()
    assert alert["attributes"]["action"] == "failed"
    assert mallory in world.entries("prod")


def test_unreadable_slack_secret_is_a_channel_failure_not_a_crash(world):
    app = world.app(enforce_rules(), slack_post=lambda url, body: None, slack_secret_name="no-such-secret")
    world.deliver(app)
    world.alerts()
    world.eks("attacker").delete_access_entry(clusterName="prod", principalArn=world.role_arn("Platform"))

    (result,) = world.deliver(app)

    assert result["outcomes"][0]["status"] == "rolled-back"
    assert result["alert_failures"] == ["slack"]
    assert [a["attributes"]["rule"] for a in world.alerts()] == ["protected-entry"]
