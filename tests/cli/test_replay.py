"""`eks-guardrail replay`: dead-letter messages re-driven through the handler.

The core (`eks_guardrail.replay`) runs on moto SQS holding both kinds of dead-letter message
the stack produces, plus garbage, with an `invoke` that runs the real access-entry handler
in-process on the emulator world (moto cannot run Lambda functions without Docker). The CLI
runs with its Lambda client replaced by a botocore `Stubber` or a recording fake.
"""

from __future__ import annotations

import io
import json
import os
from typing import Any
from urllib.parse import unquote

import boto3
import pytest
from botocore.response import StreamingBody
from botocore.stub import ANY, Stubber

from eks_guardrail.cli import main
from eks_guardrail.cli import replay as replay_cli
from eks_guardrail.demo.world import ACCOUNT, CLUSTER_ADMIN, FakeLambdaContext
from eks_guardrail.local import mock_aws, recorded_events
from eks_guardrail.local.cloudtrail import principal_arn_of
from eks_guardrail.replay import (
    ERROR,
    FAILED,
    INVALID,
    KIND_EVENTBRIDGE,
    KIND_LAMBDA,
    REPLAYED,
    SKIPPED,
    WOULD_REPLAY,
    InvokeResult,
    NotReplayable,
    QueueError,
    QueueMessage,
    Replayable,
    event_id,
    function_name,
    parse_message,
    replay_queue,
)

REGION = "eu-west-1"
FUNCTION = "eks-guardrail-access-entry"
FUNCTION_ARN = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{FUNCTION}"
RULE_ARN = f"arn:aws:events:{REGION}:{ACCOUNT}:rule/EksGuardrail-AccessEntryRule"
MALLORY = f"arn:aws:iam::{ACCOUNT}:user/mallory"


@pytest.fixture(autouse=True)
def no_long_polling(monkeypatch):
    """moto honours WaitTimeSeconds by sleeping: the final empty receive would cost a second."""
    monkeypatch.setattr(replay_cli, "WAIT_SECONDS", 0)


# --- building dead-letter messages as AWS writes them ---------------------------------------------


def dlq_attributes(target_arn: str | None = FUNCTION_ARN) -> dict[str, dict[str, str]]:
    """The EventBridge rule target's DLQ: the body is the event, these attributes say why."""
    attributes = {
        "RULE_ARN": RULE_ARN,
        "ERROR_CODE": "NO_PERMISSIONS",
        "ERROR_MESSAGE": "Lambda returned AccessDeniedException",
        "EXHAUSTED_RETRY_CONDITION": "MaximumRetryAttempts",
        "RETRY_ATTEMPTS": "8",
    }
    if target_arn:
        attributes["TARGET_ARN"] = target_arn
    return {k: {"DataType": "String", "StringValue": v} for k, v in attributes.items()}


def failure_record(event: Any, function_arn: str = f"{FUNCTION_ARN}:$LATEST", condition: str = "RetriesExhausted") -> str:
    """Lambda's asynchronous invocation record, as the on-failure destination puts it on SQS."""
    return json.dumps(
        {
            "version": "1.0",
            "timestamp": "2025-05-06T10:11:12.345Z",
            "requestContext": {
                "requestId": "c2a6f2ae-7dbb-4d22-8782-d0485c9877e2",
                "functionArn": function_arn,
                "condition": condition,
                "approximateInvokeCount": 3,
            },
            "requestPayload": event,
            "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
            "responsePayload": {"errorMessage": "rollback failed: AccessDeniedException", "errorType": "ClientError", "stackTrace": []},
        }
    )


class Queue:
    """A moto queue, read back without touching visibility bookkeeping (a peek that hands back)."""

    def __init__(self, name: str = "eks-guardrail-events-dlq"):
        self.sqs = boto3.client("sqs", region_name=REGION)
        self.url = self.sqs.create_queue(QueueName=name)["QueueUrl"]

    def put_dlq(self, event: Any, target_arn: str | None = FUNCTION_ARN) -> None:
        self.sqs.send_message(QueueUrl=self.url, MessageBody=json.dumps(event), MessageAttributes=dlq_attributes(target_arn))

    def put_record(self, event: Any, **kwargs: Any) -> None:
        self.sqs.send_message(QueueUrl=self.url, MessageBody=failure_record(event, **kwargs))

    def put_raw(self, body: str) -> None:
        self.sqs.send_message(QueueUrl=self.url, MessageBody=body)

    def adapter(self, **kwargs: Any) -> replay_cli.SqsQueue:
        return replay_cli.SqsQueue(self.sqs, self.url, wait_seconds=0, **kwargs)

    def bodies(self) -> list[str]:
        """Every visible message's body; all are visible again afterwards."""
        seen: dict[str, dict] = {}
        while True:
            got = self.sqs.receive_message(QueueUrl=self.url, MaxNumberOfMessages=10, VisibilityTimeout=60).get("Messages", [])
            if not got:
                break
            seen.update({m["MessageId"]: m for m in got})
        for m in seen.values():
            self.sqs.change_message_visibility(QueueUrl=self.url, ReceiptHandle=m["ReceiptHandle"], VisibilityTimeout=0)
        return sorted(m["Body"] for m in seen.values())


# --- the handler in-process, standing in for Lambda ------------------------------------------------


class InProcessLambda:
    """`invoke(function, event)` running the real handler app, answering as Lambda's Invoke does:
    the returned value as JSON, or `FunctionError: Unhandled` with `errorType`/`errorMessage`."""

    def __init__(self, apps: dict[str, Any]):
        self.apps = apps
        self.calls: list[tuple[str, str]] = []

    def __call__(self, function: str, event: dict[str, Any]) -> InvokeResult:
        self.calls.append((function, event_id(event)))
        app = self.apps[function_name(function)]
        try:
            answer = app.handle(json.loads(json.dumps(event)), FakeLambdaContext())
        except Exception as error:  # what Lambda reports of an unhandled exception
            return InvokeResult({"errorType": type(error).__name__, "errorMessage": str(error)}, "Unhandled")
        return InvokeResult(json.loads(json.dumps(answer, default=str)))


def guardrail_writes(world) -> list[str]:
    """Every write call the guardrail's own role made (CloudTrail, as the emulator records it)."""
    return [
        e["detail"]["eventName"]
        for e in recorded_events()
        if not e["detail"]["readOnly"] and principal_arn_of(e["detail"]["userIdentity"]) == world.guardrail_role_arn
    ]


def bad_changes(world) -> dict[str, dict]:
    """Two violations whose events never reached the handler (they went to the dead-letter queues)."""
    world.platform.client("iam").create_user(UserName="mallory")
    eks = world.eks("attacker")
    developer = world.role_arn("Developer")
    eks.create_access_entry(clusterName="prod", principalArn=MALLORY)  # prefer-roles: delete
    eks.create_access_entry(clusterName="prod", principalArn=developer)
    eks.associate_access_policy(clusterName="prod", principalArn=developer, policyArn=CLUSTER_ADMIN, accessScope={"type": "cluster"})
    events = world.pending_events()
    by_name = {}
    for event in events:
        principal = unquote(event["detail"]["requestParameters"]["principalArn"])  # path parameters are URL-encoded
        by_name[f"{event['detail']['eventName']}:{principal.rsplit('/', 1)[-1]}"] = event
    assert set(by_name) == {"CreateAccessEntry:mallory", "CreateAccessEntry:Developer", "AssociateAccessPolicy:Developer"}
    return by_name


def replay(queue: Queue, invoke, **kwargs: Any):
    adapter = queue.adapter()
    return replay_queue(receive=adapter.receive, delete=adapter.delete, release=adapter.release, invoke=invoke, **kwargs)


def by_event(run) -> dict[str, list]:
    grouped: dict[str, list] = {}
    for r in run.results:
        grouped.setdefault(r.event_id or r.detail, []).append(r)
    return grouped


# --- the core on the emulator world ---------------------------------------------------------------


def test_replay_rolls_back_and_a_second_run_changes_nothing(world, guardrail):
    events = bad_changes(world)
    mallory, dev_create, dev_admin = events["CreateAccessEntry:mallory"], events["CreateAccessEntry:Developer"], events["AssociateAccessPolicy:Developer"]
    assert MALLORY in world.entries("prod") and "AmazonEKSClusterAdminPolicy@cluster" in world.entries("prod")[world.role_arn("Developer")]
    queue = Queue()
    queue.put_dlq(mallory)  # EventBridge DLQ
    queue.put_record(dev_create)  # Lambda on-failure destination
    queue.put_record(dev_admin)
    queue.put_record(mallory)  # the same event again: invoked once, both copies deleted
    queue.put_raw("{not json")  # invalid
    queue.put_raw(json.dumps({"hello": "world"}))  # skipped: no event
    queue.put_dlq(dev_create, target_arn=None)  # no target and no --function: error, kept
    lam = InProcessLambda({FUNCTION: guardrail})
    writes_before = guardrail_writes(world)

    run = replay(queue, lam)

    # each event invoked once, synchronously, through the handler
    assert sorted(lam.calls) == sorted((FUNCTION_ARN, e["detail"]["eventID"]) for e in (mallory, dev_create, dev_admin))
    assert run.invocations == 3
    grouped = by_event(run)
    first, copy = grouped[mallory["detail"]["eventID"]]
    assert (first.status, first.kind, first.deleted, first.event_name) == (REPLAYED, KIND_EVENTBRIDGE, True, "CreateAccessEntry")
    assert first.response["outcomes"] == [{"rule": "prefer-roles", "status": "rolled-back", "detail": first.response["outcomes"][0]["detail"]}]
    assert first.detail.startswith("evaluated: 1 finding(s); prefer-roles rolled-back")
    assert first.original_error == "NO_PERMISSIONS: Lambda returned AccessDeniedException"
    assert (copy.status, copy.kind, copy.deleted, copy.duplicate_of) == (REPLAYED, KIND_LAMBDA, True, first.message_id)
    assert all(r.status == REPLAYED and r.deleted for r in grouped[dev_admin["detail"]["eventID"]])
    statuses = sorted(r.status for r in run.results)
    assert statuses == sorted([REPLAYED] * 4 + [INVALID, SKIPPED, ERROR])
    (no_target,) = [r for r in run.results if r.status == ERROR]
    assert "no target function" in no_target.detail and no_target.event_name == "CreateAccessEntry"
    assert run.exit_status == 1  # three messages left
    # the bad changes are undone
    entries = world.entries("prod")
    assert MALLORY not in entries
    assert "AmazonEKSClusterAdminPolicy@cluster" not in entries[world.role_arn("Developer")]
    rollbacks = guardrail_writes(world)[len(writes_before):]
    assert "DeleteAccessEntry" in rollbacks and "DisassociateAccessPolicy" in rollbacks
    assert any(a["attributes"].get("rule") == "prefer-roles" for a in world.alerts())
    # only what could not be replayed is left, visible again at once
    assert queue.bodies() == sorted(["{not json", json.dumps({"hello": "world"}), json.dumps(dev_create)])

    # run it again: the leftovers are reported again, nothing is invoked, nothing changes
    writes_after = guardrail_writes(world)
    again = replay(queue, lam)
    assert again.invocations == 0 and len(lam.calls) == 3
    assert sorted(r.status for r in again.results) == sorted([INVALID, SKIPPED, ERROR])
    assert guardrail_writes(world) == writes_after
    assert len(queue.bodies()) == 3

    # another copy of a replayed event turns up later: the handler's idempotency answers, no second rollback
    queue.sqs.purge_queue(QueueUrl=queue.url)
    queue.put_dlq(mallory)
    third = replay(queue, lam)
    (result,) = third.results
    assert result.status == REPLAYED and result.deleted and third.exit_status == 0
    assert result.response == first.response  # the stored answer ("rolled-back"), not a new run
    assert guardrail_writes(world) == writes_after
    assert world.alerts() == []
    assert queue.bodies() == []
    # an empty queue: nothing to do, exit 0
    empty = replay(queue, lam)
    assert empty.results == [] and empty.exit_status == 0


def _deny_rollbacks(app) -> Any:
    """The handler's EKS client is denied DeleteAccessEntry (the bug the fix will remove)."""

    class Http:
        status_code = 403

    def deny(**kwargs: Any):
        return Http(), {"Error": {"Code": "AccessDeniedException", "Message": "not authorized: eks:DeleteAccessEntry"}, "ResponseMetadata": {"HTTPStatusCode": 403}}

    client = app.clients.client("eks", REGION)
    client.meta.events.register("before-call.eks.DeleteAccessEntry", deny)
    return lambda: client.meta.events.unregister("before-call.eks.DeleteAccessEntry", deny)


def test_failures_stay_in_the_queue_until_the_fix(world, guardrail):
    mallory = bad_changes(world)["CreateAccessEntry:mallory"]
    queue = Queue()
    queue.put_record(mallory)
    lam = InProcessLambda({FUNCTION: guardrail})
    fix = _deny_rollbacks(guardrail)

    broken = replay(queue, lam)

    (result,) = broken.results
    assert result.status == FAILED and not result.deleted
    assert result.detail.startswith("Unhandled: ") and "AccessDeniedException" in result.detail
    assert broken.exit_status == 1
    assert MALLORY in world.entries("prod")
    assert len(queue.bodies()) == 1  # kept, and visible again at once

    fix()
    fixed = replay(queue, lam)

    (result,) = fixed.results
    assert result.status == REPLAYED and result.deleted and fixed.exit_status == 0
    assert MALLORY not in world.entries("prod")
    assert queue.bodies() == []
    assert len(lam.calls) == 2


def test_dry_run_invokes_nothing_and_deletes_nothing(world, guardrail):
    events = bad_changes(world)
    queue = Queue()
    queue.put_dlq(events["CreateAccessEntry:mallory"])
    queue.put_record(events["AssociateAccessPolicy:Developer"])
    queue.put_record(events["CreateAccessEntry:mallory"])
    before = queue.bodies()

    def must_not_invoke(function: str, event: dict) -> InvokeResult:  # pragma: no cover - the point
        raise AssertionError("a dry run invoked a function")

    run = replay(queue, must_not_invoke, dry_run=True)

    assert [r.status for r in run.results] == [WOULD_REPLAY] * 3
    assert run.invocations == 0 and run.deleted == 0 and run.exit_status == 0
    assert [r.duplicate_of for r in run.results].count("") == 2
    assert queue.bodies() == before  # all still there, visible again at once
    assert MALLORY in world.entries("prod")

    queue.put_raw("garbage")
    assert replay(queue, must_not_invoke, dry_run=True).exit_status == 1  # something would be left


# --- reading messages -----------------------------------------------------------------------------

EVENT = {
    "version": "0",
    "id": "6a7e8feb-b491-4cf7-a9f1-bf3703467718",
    "detail-type": "AWS API Call via CloudTrail",
    "source": "aws.eks",
    "account": ACCOUNT,
    "time": "2025-05-06T10:11:12Z",
    "region": REGION,
    "resources": [],
    "detail": {"eventID": "ct-0001", "eventName": "CreateAccessEntry", "eventSource": "eks.amazonaws.com"},
}
STRINGS = {k: v["StringValue"] for k, v in dlq_attributes().items()}


def test_eventbridge_dlq_message_names_its_target():
    parsed = parse_message(json.dumps(EVENT), STRINGS)
    assert parsed == Replayable(
        KIND_EVENTBRIDGE, EVENT, FUNCTION_ARN, "ct-0001", "CreateAccessEntry", "NO_PERMISSIONS: Lambda returned AccessDeniedException"
    )


def test_lambda_failure_record_gives_the_payload_and_the_unqualified_function():
    parsed = parse_message(failure_record(EVENT))
    assert isinstance(parsed, Replayable)
    assert (parsed.kind, parsed.event, parsed.function) == (KIND_LAMBDA, EVENT, FUNCTION_ARN)
    assert parsed.original_error == "ClientError: rollback failed: AccessDeniedException (RetriesExhausted)"
    # a version or an alias is kept
    assert parse_message(failure_record(EVENT, function_arn=f"{FUNCTION_ARN}:live")).function == f"{FUNCTION_ARN}:live"


def test_function_option_overrides_the_target():
    other = f"arn:aws:lambda:eu-central-1:{ACCOUNT}:function:other"
    assert parse_message(json.dumps(EVENT), STRINGS, function=other).function == other
    assert parse_message(failure_record(EVENT), function="other").function == "other"
    assert parse_message(json.dumps(EVENT), {}, function="other").function == "other"


def test_event_ids_and_names_follow_the_handlers_idempotency_key():
    scheduled = {"version": "0", "id": "sched-1", "detail-type": "Scheduled Event", "source": "aws.events", "detail": {}}
    parsed = parse_message(failure_record(scheduled))
    assert (parsed.event_id, parsed.event_name) == ("sched-1", "Scheduled Event")
    bare = {"eventID": "ct-9", "eventName": "DeleteAccessEntry", "eventSource": "eks.amazonaws.com"}
    parsed = parse_message(json.dumps(bare), function=FUNCTION)
    assert (parsed.event_id, parsed.event_name, parsed.kind) == ("ct-9", "DeleteAccessEntry", KIND_EVENTBRIDGE)


@pytest.mark.parametrize(
    "body, attributes, status, reason",
    [
        ("not json at all", {}, INVALID, "not JSON"),
        ("", {}, INVALID, "not JSON"),
        ("[1, 2]", STRINGS, INVALID, "not an object"),
        ('"a string"', {}, INVALID, "not an object"),
        ("[" * 100_000, {}, INVALID, "not JSON"),
        (json.dumps({"hello": "world"}), {}, SKIPPED, "holds no EventBridge event"),
        (json.dumps({"source": "aws.eks"}), STRINGS, SKIPPED, "holds no EventBridge event"),
        (json.dumps({**EVENT, "detail": "x"}), STRINGS, SKIPPED, "holds no EventBridge event"),
        (failure_record("a string payload"), {}, SKIPPED, "requestPayload holds no"),
        (failure_record(EVENT, condition="Success"), {}, SKIPPED, "successful invocation"),
        (json.dumps(EVENT), {}, ERROR, "no target function"),
        (json.dumps(EVENT), {**STRINGS, "TARGET_ARN": f"arn:aws:events:{REGION}:{ACCOUNT}:event-bus/default"}, ERROR, "is not a Lambda function"),
        (failure_record(EVENT, function_arn="nonsense"), {}, ERROR, "requestContext.functionArn is not a Lambda function"),
    ],
)
def test_what_cannot_be_replayed_says_why(body, attributes, status, reason):
    parsed = parse_message(body, attributes)
    assert isinstance(parsed, NotReplayable)
    assert parsed.status == status and reason in parsed.reason
    assert len(parsed.reason) < 400  # echoes are bounded


def test_error_keeps_the_event_id_and_name():
    parsed = parse_message(json.dumps(EVENT), {})
    assert (parsed.status, parsed.event_id, parsed.event_name) == (ERROR, "ct-0001", "CreateAccessEntry")


# --- the loop's edges, on an in-memory queue ------------------------------------------------------


class MemoryQueue:
    def __init__(self, bodies: list[str], attributes: dict | None = None):
        self.messages = [QueueMessage(f"m{i}", f"r{i}", body, attributes or STRINGS) for i, body in enumerate(bodies)]
        self.visible = list(self.messages)
        self.deleted: list[str] = []
        self.released: list[str] = []
        self.receives = 0

    def receive(self, count: int) -> list[QueueMessage]:
        self.receives += 1
        batch, self.visible = self.visible[:count], self.visible[count:]
        return batch

    def delete(self, message: QueueMessage) -> None:
        self.deleted.append(message.message_id)

    def release(self, messages) -> None:
        self.released += [m.message_id for m in messages]


def ok(function: str, event: dict) -> InvokeResult:
    return InvokeResult({"event_id": event_id(event), "status": "evaluated", "findings": 0, "outcomes": []})


def _event(n: int) -> str:
    return json.dumps({**EVENT, "detail": {**EVENT["detail"], "eventID": f"ct-{n}"}})


def test_max_limits_the_messages_handled():
    queue = MemoryQueue([_event(n) for n in range(25)])
    run = replay_queue(receive=queue.receive, delete=queue.delete, invoke=ok, release=queue.release, max_messages=12)
    assert len(run.results) == 12 and run.invocations == 12 and len(queue.deleted) == 12
    assert run.exit_status == 0 and queue.released == []


def test_messages_seen_again_are_not_handled_twice():
    """A kept message whose visibility ran out comes back: it is not invoked again, and the run ends."""
    queue = MemoryQueue([_event(1), "garbage"])

    def receive(count: int) -> list[QueueMessage]:
        return queue.messages  # every receive returns the same two messages

    run = replay_queue(receive=receive, delete=queue.delete, invoke=ok, release=queue.release)
    assert [r.status for r in run.results] == [REPLAYED, INVALID]
    assert run.invocations == 1 and queue.released == ["m1"]


def test_copies_of_a_failed_event_are_kept_without_a_second_invocation():
    queue = MemoryQueue([_event(1), _event(1), _event(2)])
    calls = []

    def flaky(function: str, event: dict) -> InvokeResult:
        calls.append(event_id(event))
        if event_id(event) == "ct-1":
            return InvokeResult({"errorType": "RuntimeError", "errorMessage": "boom"}, "Unhandled")
        return ok(function, event)

    run = replay_queue(receive=queue.receive, delete=queue.delete, invoke=flaky, release=queue.release)
    assert calls == ["ct-1", "ct-2"]
    assert [r.status for r in run.results] == [FAILED, FAILED, REPLAYED]
    assert run.results[0].detail == "Unhandled: RuntimeError: boom"
    assert run.results[1].duplicate_of == "m0" and "not invoked again" in run.results[1].detail
    assert queue.deleted == ["m2"] and queue.released == ["m0", "m1"]


def test_a_message_that_cannot_be_deleted_is_reported_and_counted_as_left():
    queue = MemoryQueue([_event(1)])

    def delete(message: QueueMessage) -> None:
        raise QueueError("cannot delete the message: AccessDenied")

    run = replay_queue(receive=queue.receive, delete=delete, invoke=ok, release=queue.release)
    (result,) = run.results
    assert result.status == REPLAYED and not result.deleted and "not deleted: cannot delete" in result.detail
    assert run.exit_status == 1 and queue.released == ["m0"]


def test_an_unreadable_queue_stops_the_run_with_status_2():
    def receive(count: int) -> list[QueueMessage]:
        raise QueueError("queue does not exist: https://sqs.eu-west-1.amazonaws.com/123456789012/x")

    run = replay_queue(receive=receive, delete=lambda m: None, invoke=ok)
    assert run.error.startswith("queue does not exist") and run.exit_status == 2


def test_interrupted_run_hands_the_messages_back():
    queue = MemoryQueue([_event(1), _event(2), _event(3)])

    def interrupted(function: str, event: dict) -> InvokeResult:
        if event_id(event) == "ct-2":
            raise KeyboardInterrupt
        return ok(function, event)

    with pytest.raises(KeyboardInterrupt):
        replay_queue(receive=queue.receive, delete=queue.delete, invoke=interrupted, release=queue.release)
    assert queue.deleted == ["m0"] and queue.released == ["m1"]


# --- the CLI ---------------------------------------------------------------------------------------


@pytest.fixture
def aws(monkeypatch):
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    with mock_aws():
        yield


def _payload(value: Any) -> StreamingBody:
    raw = json.dumps(value).encode()
    return StreamingBody(io.BytesIO(raw), len(raw))


@pytest.fixture
def stubbed_lambda(aws, monkeypatch):
    client = boto3.client("lambda", region_name=REGION)
    stubber = Stubber(client)
    regions = []

    def lambda_client(session, region):
        regions.append(region)
        return client

    monkeypatch.setattr(replay_cli, "lambda_client", lambda_client)
    with stubber:
        yield stubber, regions
    stubber.assert_no_pending_responses()


def test_cli_replays_with_the_lambda_client_stubbed(stubbed_lambda, capsys):
    stubber, regions = stubbed_lambda
    queue = Queue()
    good = json.loads(_event(1))
    bad = json.loads(_event(2))
    queue.put_dlq(good)
    queue.put_record(bad)
    queue.put_raw("garbage")
    expected = {"FunctionName": FUNCTION_ARN, "InvocationType": "RequestResponse", "Payload": ANY}
    answer = {"event_id": "ct-1", "status": "evaluated", "findings": 1, "outcomes": [{"rule": "prefer-roles", "status": "rolled-back", "detail": ""}]}
    stubber.add_response("invoke", {"StatusCode": 200, "Payload": _payload(answer)}, expected)
    stubber.add_response(
        "invoke",
        {"StatusCode": 200, "FunctionError": "Unhandled", "Payload": _payload({"errorType": "ClientError", "errorMessage": "throttled"})},
        expected,
    )

    code = main(["replay", "--queue", queue.url, "--format", "json"])

    out = json.loads(capsys.readouterr().out)
    assert code == 1
    assert regions == [REGION]
    results = {m["event_id"] or m["status"]: m for m in out["messages"]}
    assert results["ct-1"]["status"] == "replayed" and results["ct-1"]["deleted"] and results["ct-1"]["response"] == answer
    assert results["ct-1"]["detail"] == "evaluated: 1 finding(s); prefer-roles rolled-back"
    assert results["ct-2"]["status"] == "failed" and not results["ct-2"]["deleted"]
    assert results["ct-2"]["detail"] == "Unhandled: ClientError: throttled"
    assert results["invalid"]["kind"] == ""
    assert out["summary"] == {"messages": 3, "replayed": 1, "failed": 1, "invalid": 1, "invocations": 2, "deleted": 1, "left": 2}
    assert queue.bodies() == sorted([failure_record(bad), "garbage"])


def test_cli_table_and_a_call_that_fails(stubbed_lambda, capsys):
    stubber, _ = stubbed_lambda
    queue = Queue()
    queue.put_dlq(json.loads(_event(1)))
    stubber.add_client_error("invoke", "ResourceNotFoundException", "Function not found: " + FUNCTION_ARN, 404)

    code = main(["replay", "--queue", queue.url])

    out, err = capsys.readouterr()
    assert code == 1 and err == ""
    header, row = out.splitlines()[1:3]
    assert header.split() == ["RESULT", "EVENT", "NAME", "EVENT", "ID", "FUNCTION", "DETAIL"]
    assert row.split()[:5] == ["error", "CreateAccessEntry", "ct-1", "eks-guardrail-access-entry", "cannot"]
    assert "cannot invoke eks-guardrail-access-entry: ResourceNotFoundException: Function not found" in row
    assert out.rstrip().endswith("1 error; 1 invocation(s), 0 deleted, 1 left in the queue")
    assert len(queue.bodies()) == 1


def test_cli_function_override_max_and_region(aws, monkeypatch, capsys):
    calls = []

    class FakeLambda:
        def __init__(self, region):
            self.region = region

        def invoke(self, **kwargs):
            calls.append((self.region, kwargs["FunctionName"], json.loads(kwargs["Payload"])["detail"]["eventID"]))
            return {"StatusCode": 200, "Payload": _payload({"status": "evaluated", "findings": 0})}

    monkeypatch.setattr(replay_cli, "lambda_client", lambda session, region: FakeLambda(region))
    queue = Queue()
    for n in range(5):
        queue.put_dlq(json.loads(_event(n)), target_arn=None)

    code = main(["replay", "--queue", queue.url, "--function", "fixed-fn", "--region", REGION, "--max", "3"])

    assert code == 0
    assert [(region, fn) for region, fn, _ in calls] == [(REGION, "fixed-fn")] * 3
    assert "3 replayed; 3 invocation(s), 3 deleted, 0 left in the queue" in capsys.readouterr().out
    assert len(queue.bodies()) == 2


def test_cli_dry_run_lists_and_leaves_everything(stubbed_lambda, capsys):
    queue = Queue()
    queue.put_dlq(json.loads(_event(1)))
    queue.put_record(json.loads(_event(1)))
    before = queue.bodies()

    code = main(["replay", "--queue", queue.url, "--dry-run"])  # the stub has no answer: an invoke would fail

    out = capsys.readouterr().out
    assert code == 0
    assert [line.split()[:3] for line in out.splitlines()[2:4]] == [["would-replay", "CreateAccessEntry", "ct-1"]] * 2
    assert "2 would-replay; nothing invoked, nothing deleted" in out
    assert queue.bodies() == before


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--queue", "not-a-url"], "--queue: expected a queue URL such as https://sqs.eu-west-1.amazonaws.com/111122223333/NAME (or its ARN), got 'not-a-url'"),
        (["--queue", f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/missing"], f"queue does not exist: https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/missing"),
        (["--queue", f"arn:aws:sqs:{REGION}:{ACCOUNT}:missing"], f"queue does not exist: arn:aws:sqs:{REGION}:{ACCOUNT}:missing"),
    ],
)
def test_cli_bad_queue_is_a_clean_error(aws, capsys, argv, message):
    code = main(["replay", *argv])
    out, err = capsys.readouterr()
    assert code == 2 and out == ""
    assert err.strip() == f"eks-guardrail: {message}"


def test_cli_queue_arn_is_resolved(stubbed_lambda, capsys):
    queue = Queue("named-dlq")
    code = main(["replay", "--queue", f"arn:aws:sqs:{REGION}:{ACCOUNT}:named-dlq"])
    assert code == 0 and f"queue {queue.url} (replay): 0 message(s)" in capsys.readouterr().out


@pytest.mark.parametrize("argv", [["--max", "0"], ["--max", "x"], ["--function", "not a function!"], ["--visibility-timeout", "99999"], []])
def test_cli_bad_arguments_exit_2(capsys, argv):
    queue = [] if not argv else ["--queue", f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/q"]
    with pytest.raises(SystemExit) as exit_info:
        main(["replay", *queue, *argv])
    assert exit_info.value.code == 2
    assert "Traceback" not in capsys.readouterr().err


def test_cli_without_credentials_is_a_clean_error(monkeypatch, tmp_path, capsys):
    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")

    code = main(["replay", "--queue", f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/q"])

    out, err = capsys.readouterr()
    assert code == 2 and out == ""
    assert err.strip() == "eks-guardrail: no AWS credentials: configure a profile, or set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY"


def test_help_says_it_is_safe_to_run_twice(capsys):
    with pytest.raises(SystemExit):
        main(["replay", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "Safe to run twice: the handlers are idempotent by CloudTrail event id" in text
    assert "--dry-run" in text and "Exit status: 0 every message replayed" in text


def test_progress_is_drawn_only_on_a_terminal():
    from eks_guardrail.replay import MessageResult, ReplayRun

    stream = io.StringIO()
    progress = replay_cli.ReplayProgress(total=40, stream=stream, force=True)
    run = ReplayRun(dry_run=False, results=[MessageResult("m0", REPLAYED, "", deleted=True), MessageResult("m1", FAILED, "")])
    progress(run, run.results[-1])
    progress.done()
    assert stream.getvalue() == "\rreplaying 2/40: 1 replayed, 1 left\033[K\n"
    silent = io.StringIO()
    replay_cli.ReplayProgress(stream=silent)(run, run.results[-1])
    assert silent.getvalue() == ""
