"""The real Lambda entry points, with Powertools' decorators, configured only by environment."""

from __future__ import annotations

import json
import logging

import pytest

from eks_guardrail.demo.world import ACCOUNT, FakeLambdaContext
from eks_guardrail.handlers import access_entry, iam_principal, sweep
from eks_guardrail.handlers.settings import SettingsError
from world_helpers import enforce_rules


@pytest.fixture
def environment(world, monkeypatch):
    monkeypatch.setenv("AWS_DEFAULT_REGION", world.region)
    monkeypatch.setenv("GUARDRAIL_CONFIG", json.dumps(enforce_rules().handler_config()))
    monkeypatch.setenv("LEDGER_TABLE", world.ledger_table)
    monkeypatch.setenv("IDEMPOTENCY_TABLE", world.idempotency_table)
    monkeypatch.setenv("ALERT_TOPIC_ARN", world.topic_arn)
    monkeypatch.setenv("GUARDRAIL_ROLE_ARNS", world.guardrail_role_arn)
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "EksGuardrail")
    for module in (access_entry, iam_principal, sweep):
        monkeypatch.setattr(module.app, "_app", None)
    return world


def test_access_entry_handler_rolls_back_and_emits_metrics(environment, capsys):
    world = environment
    world.pending_events()
    world.platform.client("iam").create_user(UserName="mallory")
    world.eks("attacker").create_access_entry(clusterName="prod", principalArn=f"arn:aws:iam::{ACCOUNT}:user/mallory")
    (event,) = world.pending_events()

    result = access_entry.handler(event, FakeLambdaContext())

    assert [(o["rule"], o["status"]) for o in result["outcomes"]] == [("prefer-roles", "rolled-back")]
    metrics = capsys.readouterr().out
    assert '"Rollbacks"' in metrics and '"EksGuardrail"' in metrics  # EMF metrics on stdout
    # structured logs: the correlation id is the CloudTrail event id, and the package's
    # module loggers write through the Powertools handler
    assert access_entry.logger.get_correlation_id() == event["detail"]["eventID"]
    package_handlers = logging.getLogger("eks_guardrail").handlers
    assert any(type(h.formatter).__name__ == "LambdaPowertoolsFormatter" for h in package_handlers)


def test_sweep_and_iam_handlers_run_from_the_environment(environment):
    world = environment
    iam = world.platform.client("iam")
    arn = iam.create_role(RoleName="gone", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    world.eks("platform").create_access_entry(clusterName="prod", principalArn=arn)
    iam.delete_role(RoleName="gone")

    summary = sweep.handler({}, FakeLambdaContext())
    assert summary["account"] == ACCOUNT and summary["clusters"] == 1
    (delete_role,) = [e for e in world.pending_iam_events() if e["detail"]["eventName"] == "DeleteRole"]
    result = iam_principal.handler(delete_role, FakeLambdaContext())
    assert [(o["rule"], o["status"]) for o in result["outcomes"]] == [("stale-principal", "alerted")]


def test_missing_environment_fails_the_event_with_the_variable_named(world, monkeypatch):
    monkeypatch.delenv("LEDGER_TABLE", raising=False)
    monkeypatch.setattr(access_entry.app, "_app", None)
    with pytest.raises(SettingsError, match="LEDGER_TABLE"):
        access_entry.handler({"detail": {}}, FakeLambdaContext())


def test_the_sweep_fans_out_and_the_worker_sweeps_from_the_environment(environment, monkeypatch):
    from eks_guardrail.handlers import sweep_worker

    world = environment
    sqs = world.platform.client("sqs")
    queue = sqs.create_queue(QueueName="eks-guardrail-sweep")["QueueUrl"]
    monkeypatch.setenv("SWEEP_QUEUE_URL", queue)
    monkeypatch.setenv("SWEEP_MAX_RECEIVES", "3")
    monkeypatch.setenv("SWEEP_WORKER_THREADS", "2")
    monkeypatch.setattr(sweep_worker.app, "_app", None)

    listed = sweep.handler({}, FakeLambdaContext())
    (message,) = sqs.receive_message(QueueUrl=queue, AttributeNames=["All"])["Messages"]
    record = {"messageId": message["MessageId"], "receiptHandle": message["ReceiptHandle"], "body": message["Body"],
              "attributes": message["Attributes"], "messageAttributes": {}, "md5OfBody": message["MD5OfBody"],
              "eventSource": "aws:sqs", "awsRegion": world.region}
    answer = sweep_worker.handler({"Records": [record]}, FakeLambdaContext())

    assert listed["sent"] == 1 and json.loads(message["Body"])["cluster"] == "prod"
    assert answer == {"batchItemFailures": []}
    assert sweep_worker.app.get().app.max_workers == 2


def test_a_bad_worker_setting_is_named(environment, monkeypatch):
    from eks_guardrail.handlers import sweep_worker

    monkeypatch.setenv("SWEEP_WORKER_THREADS", "lots")
    monkeypatch.setattr(sweep_worker.app, "_app", None)
    with pytest.raises(SettingsError, match="SWEEP_WORKER_THREADS"):
        sweep_worker.handler({"Records": []}, FakeLambdaContext())
