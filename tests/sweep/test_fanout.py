"""The sweep fanned out on SQS (moto): the lister sends one message per cluster, workers sweep
one cluster per message, the run is summarised once, failures retried then dead-lettered."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from eks_guardrail.demo.world import CLUSTER_ADMIN, FakeLambdaContext
from eks_guardrail.handlers import sweep_fanout
from eks_guardrail.handlers.sweep_fanout import SweepWorker
from world_helpers import enforce_rules, make_cluster


@pytest.fixture
def fanout(world, monkeypatch):
    sqs = world.platform.client("sqs")
    dlq = sqs.create_queue(QueueName="eks-guardrail-sweep-dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    queue = sqs.create_queue(
        QueueName="eks-guardrail-sweep",
        Attributes={"RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "3"})},
    )["QueueUrl"]
    reported: list[dict] = []
    real_report = sweep_fanout.report_run
    monkeypatch.setattr(sweep_fanout, "report_run", lambda app, summary: (reported.append(summary), real_report(app, summary)))

    def app(org=None):
        sweep_app = world.sweep_app(org or enforce_rules(mode="monitor"))
        sweep_app.settings = replace(sweep_app.settings, sweep_queue_url=queue, sweep_max_receives=3)
        return sweep_app

    def deliveries() -> list[dict]:
        """One Lambda SQS event per message now visible (batch size 1), as the event source mapping makes it."""
        events = []
        while True:
            answer = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10, AttributeNames=["All"], VisibilityTimeout=300)
            if not answer.get("Messages"):
                return events
            for m in answer["Messages"]:
                record = {"messageId": m["MessageId"], "receiptHandle": m["ReceiptHandle"], "body": m["Body"], "attributes": m["Attributes"],
                          "messageAttributes": {}, "md5OfBody": m["MD5OfBody"], "eventSource": "aws:sqs", "awsRegion": world.region}
                events.append({"Records": [record]})

    def work(org=None) -> list[dict]:
        """Deliver every message to a worker; delete those it swept (as Lambda does)."""
        worker = SweepWorker(app(org))
        answers = []
        for event in deliveries():
            answer = worker.handle(event, FakeLambdaContext())
            answers.append(answer)
            handle = event["Records"][0]["receiptHandle"]
            if answer["batchItemFailures"]:  # visible again (Lambda: after the visibility timeout)
                sqs.change_message_visibility(QueueUrl=queue, ReceiptHandle=handle, VisibilityTimeout=0)
            else:
                sqs.delete_message(QueueUrl=queue, ReceiptHandle=handle)
        return answers

    class Fanout:
        pass

    f = Fanout()
    f.app, f.work, f.deliveries, f.reported, f.queue, f.dlq, f.sqs = app, work, deliveries, reported, queue, dlq, sqs
    return f


def _two_more_clusters(world):
    for name in ("dev", "staging"):
        make_cluster(world, name)
    developer = world.role_arn("Developer")
    eks = world.eks("attacker")
    eks.create_access_entry(clusterName="dev", principalArn=developer)
    eks.associate_access_policy(clusterName="dev", principalArn=developer, policyArn=CLUSTER_ADMIN, accessScope={"type": "cluster"})
    world.pending_events()


def test_one_message_per_cluster_one_worker_each_one_summary(world, fanout):
    _two_more_clusters(world)

    listed = fanout.app().handle({}, FakeLambdaContext())
    assert listed["clusters"] == 3 and listed["sent"] == 3 and listed["errors"] == []
    assert fanout.reported == []  # nothing swept yet
    answers = fanout.work()

    assert [a["batchItemFailures"] for a in answers] == [[], [], []]
    (summary,) = fanout.reported
    assert summary["clusters"] == 3 and summary["swept"] == 3 and summary["failed"] == []
    assert summary["findings"] == 1 and summary["duration_s"] >= 0
    alerts = [a for a in world.alerts() if a["attributes"]["rule"] == "admin-policy"]
    assert len(alerts) == 1 and alerts[0]["attributes"]["cluster"] == "dev"

    # the next run alerts nothing that was already reported ("new since the last run")
    fanout.app().handle({}, FakeLambdaContext())
    fanout.work()
    assert [a for a in world.alerts() if a["attributes"]["rule"] == "admin-policy"] == []
    assert len(fanout.reported) == 2


def test_a_duplicate_delivery_counts_once_and_reports_once(world, fanout):
    fanout.app().handle({}, FakeLambdaContext())
    (event,) = fanout.deliveries()
    worker = SweepWorker(fanout.app())

    worker.handle(event, FakeLambdaContext())
    worker.handle(event, FakeLambdaContext())  # SQS delivers at least once

    assert len(fanout.reported) == 1 and fanout.reported[0]["swept"] == 1


def test_a_failing_cluster_is_retried_then_counted_failed_and_dead_lettered(world, fanout):
    _two_more_clusters(world)
    fanout.app().handle({}, FakeLambdaContext())

    def deny_staging(model, params, **_):
        if model.name == "DescribeCluster" and params["url_path"].endswith("/staging"):
            from botocore.exceptions import ClientError

            raise ClientError({"Error": {"Code": "AccessDeniedException", "Message": "denied"}}, "DescribeCluster")

    world.guardrail.events.register("before-call", deny_staging)
    delays = []
    world.guardrail.events.register(
        "before-call.sqs.ChangeMessageVisibility", lambda params, **_: delays.append(json.loads(params["body"])["VisibilityTimeout"])
    )
    failures = []
    for _ in range(4):  # the first pass sweeps dev and prod; staging fails on each of its 3 deliveries
        failures += [a["batchItemFailures"] for a in fanout.work() if a["batchItemFailures"]]

    assert len(failures) == 3
    assert delays == [60, 120]  # retried in minutes, not after the queue's hour; the last delivery goes to the DLQ
    (summary,) = fanout.reported
    assert summary["swept"] == 2 and summary["failed"] == [f"{world.region}/staging"]
    dead = fanout.sqs.receive_message(QueueUrl=fanout.dlq, MaxNumberOfMessages=10)["Messages"]
    assert [json.loads(m["Body"])["cluster"] for m in dead] == ["staging"]


def test_a_malformed_message_fails_alone(world, fanout):
    fanout.app().handle({}, FakeLambdaContext())
    (good,) = fanout.deliveries()
    bad = {"messageId": "x", "receiptHandle": "x", "body": "{\"run\": 1}", "attributes": {"ApproximateReceiveCount": "1"},
           "messageAttributes": {}, "md5OfBody": "", "eventSource": "aws:sqs", "awsRegion": world.region}
    event = {"Records": [bad, *good["Records"]]}

    answer = SweepWorker(fanout.app()).handle(event, FakeLambdaContext())

    assert answer == {"batchItemFailures": [{"itemIdentifier": "x"}]}
    assert fanout.reported and fanout.reported[0]["swept"] == 1


def test_a_cluster_gone_since_the_last_run_has_its_memory_dropped(world, fanout):
    _two_more_clusters(world)
    fanout.app().handle({}, FakeLambdaContext())
    fanout.work()
    ddb = world.platform.client("dynamodb")
    from eks_guardrail.handlers.sweep_app import SweepMemory

    scopes = SweepMemory.scopes(ddb, world.ledger_table, "123456789012")
    assert f"123456789012/{world.region}/dev" in scopes
    eks = world.eks("platform")
    for principal in eks.list_access_entries(clusterName="dev")["accessEntries"]:
        eks.delete_access_entry(clusterName="dev", principalArn=principal)
    eks.delete_cluster(name="dev")

    fanout.app().handle({}, FakeLambdaContext())

    assert f"123456789012/{world.region}/dev" not in SweepMemory.scopes(ddb, world.ledger_table, "123456789012")
    assert f"123456789012/{world.region}/prod" in SweepMemory.scopes(ddb, world.ledger_table, "123456789012")


def test_no_cluster_at_all_is_a_run_reported_by_the_lister(world, fanout):
    eks = world.eks("platform")
    for principal in eks.list_access_entries(clusterName="prod")["accessEntries"]:
        eks.delete_access_entry(clusterName="prod", principalArn=principal)
    eks.delete_cluster(name="prod")

    listed = fanout.app().handle({}, FakeLambdaContext())

    assert listed["sent"] == 0
    assert [(s["clusters"], s["swept"]) for s in fanout.reported] == [(0, 0)]


def test_one_container_looks_each_principal_up_once_per_run(world, fanout):
    _two_more_clusters(world)
    for cluster in ("prod", "staging"):
        world.eks("platform").create_access_entry(clusterName=cluster, principalArn=world.role_arn("Developer"))
    world.pending_events()
    get_roles = []
    world.guardrail.events.register("before-call.iam.GetRole", lambda params, **_: get_roles.append(params["body"]["RoleName"]))

    fanout.app().handle({}, FakeLambdaContext())
    fanout.work()  # one worker (one container) for the three clusters

    assert sorted(get_roles) == ["Developer", "Platform"]  # Developer is in all three clusters
    get_roles.clear()
    fanout.app().handle({}, FakeLambdaContext())
    fanout.work()
    assert sorted(get_roles) == ["Developer", "Platform"]  # a new run reads IAM again


def test_a_failed_lookup_is_not_remembered_for_the_next_cluster(world):
    from eks_guardrail.adapters.iam import IamPrincipals
    from eks_guardrail.handlers.sweep_fanout import SweepWorker

    calls = []

    def denied(params, **_):
        calls.append(params["body"]["RoleName"])
        if len(calls) == 1:
            from botocore.exceptions import ClientError

            raise ClientError({"Error": {"Code": "Throttling", "Message": "slow down"}}, "GetRole")

    world.guardrail.events.register("before-call.iam.GetRole", denied)
    worker = SweepWorker(world.sweep_app(enforce_rules(mode="monitor")))
    principals = worker.principals("run-1", "123456789012")
    with pytest.raises(Exception, match="slow down"):
        principals.status(world.role_arn("Platform"))
    again = worker.principals("run-1", "123456789012")

    assert again is principals and isinstance(again, IamPrincipals)
    assert again.status(world.role_arn("Platform")).exists
    assert again.status(world.role_arn("Platform")).exists and calls == ["Platform", "Platform"]


def test_a_send_that_fails_is_reported_and_the_run_still_completes(world, fanout):
    _two_more_clusters(world)

    def deny_send(**_):
        from botocore.exceptions import ClientError

        raise ClientError({"Error": {"Code": "AccessDenied", "Message": "denied"}}, "SendMessageBatch")

    world.guardrail.events.register("before-call.sqs.SendMessageBatch", deny_send)
    listed = fanout.app().handle({}, FakeLambdaContext())

    assert listed["sent"] == 0 and len(listed["errors"]) == 3 and all("not sent: ClientError" in e for e in listed["errors"])
    assert [(s["clusters"], s["swept"]) for s in fanout.reported] == [(0, 0)]  # the run of what was sent: complete


def test_a_cluster_deleted_after_its_message_was_sent_is_done_not_dead_lettered(world, fanout):
    _two_more_clusters(world)
    fanout.app().handle({}, FakeLambdaContext())
    eks = world.eks("platform")
    eks.delete_cluster(name="staging")  # a second, quicker change: gone before its worker runs

    answers = fanout.work()

    assert [a["batchItemFailures"] for a in answers] == [[], [], []]
    (summary,) = fanout.reported
    assert summary["swept"] == 3 and summary["failed"] == []
