"""The sweep's fan-out on SQS (home region only): queue, dead-letter queue, alarm, worker, event source mapping, grants.

The scheduled sweep function lists the clusters and sends one message per cluster to the queue
`eks-guardrail-sweep` (`SWEEP_QUEUE_URL`, `sqs:SendMessage`); the worker function
(`eks_guardrail.handlers.sweep_worker.handler`) sweeps one cluster per message, with the sweep's
permissions. Checked on the infra-test app (conftest), on the StackSet member templates
(`org_app.py`, non-default settings) and on an app with other settings.
"""

from __future__ import annotations

import json

import pytest

from conftest import ACCOUNT, HOME, HOME_STACK, OTHER, OTHER_STACK
from eks_guardrail.permissions import eks_permissions, iam_permissions
from infra import naming

WORKER_HANDLER = "eks_guardrail.handlers.sweep_worker.handler"
SWEEP_HANDLER = "eks_guardrail.handlers.sweep.handler"
MAX_RECEIVES = 3


def _listify(value):
    return value if isinstance(value, list) else [value]


class View:
    """One template's fan-out pieces, by what they are rather than by logical id."""

    def __init__(self, template: dict):
        self.template = template
        self.all = template["Resources"]

    def of(self, type_: str) -> dict[str, dict]:
        return {k: v for k, v in self.all.items() if v["Type"] == type_}

    def function_id(self, handler: str) -> str:
        (found,) = [k for k, v in self.of("AWS::Lambda::Function").items() if v["Properties"]["Handler"] == handler]
        return found

    def function(self, handler: str) -> dict:
        return self.all[self.function_id(handler)]["Properties"]

    def queue_id(self, name: str) -> str:
        (found,) = [k for k, v in self.of("AWS::SQS::Queue").items() if v["Properties"].get("QueueName") == name]
        return found

    def queue(self, name: str) -> dict:
        return self.all[self.queue_id(name)]["Properties"]

    def role_id(self, handler: str) -> str:
        return self.function(handler)["Role"]["Fn::GetAtt"][0]

    def statements(self, handler: str) -> list[dict]:
        role = self.role_id(handler)
        found = []
        for policy in self.of("AWS::IAM::Policy").values():
            if {"Ref": role} in policy["Properties"]["Roles"]:
                found += policy["Properties"]["PolicyDocument"]["Statement"]
        assert not self.all[role]["Properties"].get("ManagedPolicyArns")
        return found

    def mappings(self) -> list[dict]:
        return [v["Properties"] for v in self.of("AWS::Lambda::EventSourceMapping").values()]


@pytest.fixture(scope="module")
def home(synth):
    return View(synth.raw[HOME_STACK])


@pytest.fixture(scope="module")
def other(synth):
    return View(synth.raw[OTHER_STACK])


@pytest.fixture(scope="module")
def member():
    from org_app import org_synth

    org = org_synth()
    return View(org.members["eks-guardrail-home"]), View(org.members["eks-guardrail-regions"])


@pytest.fixture(scope="module")
def tuned(tmp_path_factory):
    """An app with non-default fan-out settings (home us-east-1: no forwarder), cdk-nag included."""
    from infra.app_builder import build_app

    directory = tmp_path_factory.mktemp("fanout")
    config = directory / "guardrail.yaml"
    config.write_text(
        'deployment: {accounts: ["111122223333"], regions: [us-east-1, eu-west-1], sweep_max_concurrency: 250, sweep_worker_threads: 16}\n'
    )
    assembly = build_app(config, outdir=str(directory / "out")).synth()
    stacks = {s.stack_name: View(s.template) for s in assembly.stacks}
    return stacks["EksGuardrail-111122223333-us-east-1"], stacks["EksGuardrail-111122223333-eu-west-1"]


# --- the queue and its dead-letter queue ----------------------------------------------------------


def test_the_sweep_queue_is_named_encrypted_and_sends_to_its_dead_letter_queue_after_three_receives(home):
    queue = home.queue(naming.SWEEP_QUEUE_NAME)
    assert naming.SWEEP_QUEUE_NAME == "eks-guardrail-sweep"
    assert queue["SqsManagedSseEnabled"] is True
    assert queue["RedrivePolicy"] == {
        "deadLetterTargetArn": {"Fn::GetAtt": [home.queue_id(naming.SWEEP_DEAD_LETTER_QUEUE_NAME), "Arn"]},
        "maxReceiveCount": MAX_RECEIVES,
    }
    dlq = home.queue(naming.SWEEP_DEAD_LETTER_QUEUE_NAME)
    assert dlq["SqsManagedSseEnabled"] is True
    assert dlq["MessageRetentionPeriod"] == 14 * 24 * 3600
    assert "RedrivePolicy" not in dlq


def test_the_visibility_timeout_is_six_times_the_workers_timeout(home):
    worker = home.function(WORKER_HANDLER)
    assert worker["Timeout"] == 600
    assert home.queue(naming.SWEEP_QUEUE_NAME)["VisibilityTimeout"] == 6 * worker["Timeout"]


def test_both_queues_refuse_requests_without_tls(home):
    for name in (naming.SWEEP_QUEUE_NAME, naming.SWEEP_DEAD_LETTER_QUEUE_NAME):
        queue_id = home.queue_id(name)
        (policy,) = [p["Properties"] for p in home.of("AWS::SQS::QueuePolicy").values() if p["Properties"]["Queues"] == [{"Ref": queue_id}]]
        assert {
            "Action": "sqs:*",
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            "Effect": "Deny",
            "Principal": {"AWS": "*"},
            "Resource": {"Fn::GetAtt": [queue_id, "Arn"]},
        } in policy["PolicyDocument"]["Statement"]
        # nobody else is let in by a resource policy: the functions' roles have their own grants
        assert [s for s in policy["PolicyDocument"]["Statement"] if s["Effect"] == "Allow"] == []


def test_an_alarm_on_the_dead_letter_queue_publishes_to_the_alert_topic(home):
    dlq_id = home.queue_id(naming.SWEEP_DEAD_LETTER_QUEUE_NAME)
    alarms = [
        a["Properties"] for a in home.of("AWS::CloudWatch::Alarm").values()
        if a["Properties"].get("Dimensions") == [{"Name": "QueueName", "Value": {"Fn::GetAtt": [dlq_id, "QueueName"]}}]
    ]
    (alarm,) = alarms
    assert alarm["Namespace"] == "AWS/SQS" and alarm["MetricName"] == "ApproximateNumberOfMessagesVisible"
    assert alarm["Threshold"] == 1 and alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
    assert alarm["EvaluationPeriods"] == 1 and alarm["Statistic"] == "Maximum" and alarm["TreatMissingData"] == "notBreaching"
    (topic_id,) = home.of("AWS::SNS::Topic")
    assert alarm["AlarmActions"] == [{"Ref": topic_id}]  # as the other dead-letter queues' alarms
    assert naming.SWEEP_DEAD_LETTER_QUEUE_NAME in alarm["AlarmDescription"]
    # the sweep queue itself is not alarmed on its depth: it is full after every scheduled run
    queue_id = home.queue_id(naming.SWEEP_QUEUE_NAME)
    assert queue_id not in json.dumps([a["Properties"].get("Dimensions") for a in home.of("AWS::CloudWatch::Alarm").values()])


# --- the event source mapping ---------------------------------------------------------------------


def test_the_worker_takes_one_cluster_at_a_time_reports_item_failures_at_most_five_at_once(home):
    (mapping,) = home.mappings()
    assert mapping["EventSourceArn"] == {"Fn::GetAtt": [home.queue_id(naming.SWEEP_QUEUE_NAME), "Arn"]}
    assert mapping["FunctionName"] == {"Ref": home.function_id(WORKER_HANDLER)}
    assert mapping["BatchSize"] == 1
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert mapping["ScalingConfig"] == {"MaximumConcurrency": 5}  # the default of deployment.sweep_max_concurrency
    assert mapping.get("Enabled", True) is True


def test_the_maximum_concurrency_and_threads_come_from_the_config(tuned):
    tuned_home, tuned_other = tuned
    (mapping,) = tuned_home.mappings()
    assert mapping["ScalingConfig"] == {"MaximumConcurrency": 250}
    assert tuned_home.function(WORKER_HANDLER)["Environment"]["Variables"]["SWEEP_WORKER_THREADS"] == "16"
    assert tuned_other.mappings() == []


def test_an_out_of_range_maximum_concurrency_stops_synthesis(tmp_path):
    from eks_guardrail.config import ConfigError
    from infra.app_builder import build_app

    for value in (1, 1001):
        config = tmp_path / f"g{value}.yaml"
        config.write_text(f'deployment: {{accounts: ["111122223333"], regions: [eu-west-1], sweep_max_concurrency: {value}}}\n')
        with pytest.raises(ConfigError) as raised:
            build_app(config, outdir=str(tmp_path / f"out{value}"))
        (problem,) = raised.value.problems
        assert problem == (
            "deployment.sweep_max_concurrency: the maximum concurrency of the sweep's SQS event source (AWS's limits) "
            f"must be from 2 to 1000, got {value}"
        )


# --- the worker function --------------------------------------------------------------------------


def test_the_worker_runs_the_sweeps_code_layers_and_settings(home):
    worker, sweep = home.function(WORKER_HANDLER), home.function(SWEEP_HANDLER)
    assert worker["Handler"] == WORKER_HANDLER
    for key in ("Code", "Layers", "Runtime", "Architectures", "MemorySize", "TracingConfig"):
        assert worker[key] == sweep[key], key
    assert worker["Timeout"] == 600
    # its own log group, kept as long as the sweep's
    logs = home.of("AWS::Logs::LogGroup")
    worker_logs, sweep_logs = (logs[f["LoggingConfig"]["LogGroup"]["Ref"]]["Properties"] for f in (worker, sweep))
    assert worker_logs["RetentionInDays"] == sweep_logs["RetentionInDays"] == 365


def test_the_workers_environment_is_the_sweeps_with_its_receives_and_threads(home, org):
    worker = home.function(WORKER_HANDLER)["Environment"]["Variables"]
    sweep = home.function(SWEEP_HANDLER)["Environment"]["Variables"]
    assert worker["SWEEP_MAX_RECEIVES"] == str(MAX_RECEIVES)
    assert worker["SWEEP_MAX_RECEIVES"] == str(home.queue(naming.SWEEP_QUEUE_NAME)["RedrivePolicy"]["maxReceiveCount"])
    assert worker["SWEEP_WORKER_THREADS"] == "4" == str(org.deployment.sweep_worker_threads)
    assert worker["POWERTOOLS_SERVICE_NAME"] == "sweep-worker" and sweep["POWERTOOLS_SERVICE_NAME"] == "sweep"
    assert "SWEEP_QUEUE_URL" not in worker
    same = {k: v for k, v in worker.items() if k not in ("SWEEP_MAX_RECEIVES", "SWEEP_WORKER_THREADS", "POWERTOOLS_SERVICE_NAME")}
    assert same == {k: v for k, v in sweep.items() if k not in ("SWEEP_QUEUE_URL", "POWERTOOLS_SERVICE_NAME")}
    for key in ("GUARDRAIL_CONFIG", "LEDGER_TABLE", "ALERT_TOPIC_ARN", "SLACK_SECRET_NAME", "GUARDRAIL_ROLE_ARNS", "GUARDRAIL_REGIONS"):
        assert key in worker, key
    assert worker["GUARDRAIL_REGIONS"] == f"{HOME},{OTHER}"
    assert json.loads(worker["GUARDRAIL_CONFIG"]) == org.handler_config()


def test_the_worker_is_not_invoked_asynchronously(home):
    worker_id = home.function_id(WORKER_HANDLER)
    configs = [c["Properties"]["FunctionName"] for c in home.of("AWS::Lambda::EventInvokeConfig").values()]
    assert {"Ref": worker_id} not in configs and {"Ref": home.function_id(SWEEP_HANDLER)} in configs


def test_the_workers_role_has_a_fixed_name_every_function_skips(synth, home):
    role = home.all[home.role_id(WORKER_HANDLER)]["Properties"]
    assert role["RoleName"] == naming.role_name("sweep-worker", HOME) == f"eks-guardrail-sweep-worker-{HOME}"
    arn = naming.role_arn(ACCOUNT, "sweep-worker", HOME)
    for stack in (HOME_STACK, OTHER_STACK):
        for function in synth.resources(stack, "AWS::Lambda::Function").values():
            assert arn in function["Properties"]["Environment"]["Variables"]["GUARDRAIL_ROLE_ARNS"].split(",")


def test_the_worker_alarms_on_errors_and_its_handler_counts(home):
    worker_id = home.function_id(WORKER_HANDLER)
    alarms = [a["Properties"] for a in home.of("AWS::CloudWatch::Alarm").values()]
    assert [a for a in alarms if a.get("MetricName") == "Errors" and a["Dimensions"] == [{"Name": "FunctionName", "Value": {"Ref": worker_id}}]]
    custom = {(a["MetricName"], a["Dimensions"][0]["Value"]) for a in alarms if a.get("Namespace") == "EksGuardrail"}
    for metric in ("RollbackFailures", "RefusedRollbacks", "RejectedEvents", "SweepErrors"):
        assert (metric, "sweep-worker") in custom and (metric, "sweep") in custom


# --- grants ---------------------------------------------------------------------------------------


def _allowed(statements: list[dict]) -> set[str]:
    return {a for s in statements if s["Effect"] == "Allow" for a in _listify(s["Action"])}


def test_the_lister_sends_to_the_queue_and_keeps_its_environment(home):
    sweep = home.function(SWEEP_HANDLER)
    queue_id = home.queue_id(naming.SWEEP_QUEUE_NAME)
    assert sweep["Environment"]["Variables"]["SWEEP_QUEUE_URL"] == {"Ref": queue_id}
    on_queue = [s for s in home.statements(SWEEP_HANDLER) if queue_id in json.dumps(s["Resource"])]
    assert on_queue == [{"Action": "sqs:SendMessage", "Effect": "Allow", "Resource": {"Fn::GetAtt": [queue_id, "Arn"]}, "Sid": "SweepQueueSend"}]
    for key in ("GUARDRAIL_CONFIG", "LEDGER_TABLE", "ALERT_TOPIC_ARN", "SLACK_SECRET_NAME", "GUARDRAIL_ROLE_ARNS", "GUARDRAIL_REGIONS"):
        assert key in sweep["Environment"]["Variables"], key


def test_the_worker_consumes_the_queue_and_sends_nothing(home):
    queue_id = home.queue_id(naming.SWEEP_QUEUE_NAME)
    on_queue = [s for s in home.statements(WORKER_HANDLER) if queue_id in json.dumps(s["Resource"])]
    assert {a for s in on_queue for a in _listify(s["Action"])} == {
        "sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility", "sqs:GetQueueAttributes", "sqs:GetQueueUrl",
    }
    assert all(s["Resource"] == {"Fn::GetAtt": [queue_id, "Arn"]} for s in on_queue)
    assert "sqs:SendMessage" not in _allowed(home.statements(WORKER_HANDLER))  # not to the failed-invocations queue either


def _comparable(view: View, handler: str) -> list[str]:
    """The statements of a function's role, less those that are its own (log group, queues)."""
    own = [view.function(handler)["LoggingConfig"]["LogGroup"]["Ref"]] + list(view.of("AWS::SQS::Queue"))
    kept = [s for s in view.statements(handler) if not any(q in json.dumps(s["Resource"]) for q in own)]
    return sorted(json.dumps(s, sort_keys=True) for s in kept)


def test_the_worker_has_exactly_the_sweeps_permissions(home):
    assert _comparable(home, WORKER_HANDLER) == _comparable(home, SWEEP_HANDLER)
    granted = _allowed(home.statements(WORKER_HANDLER))
    declared = eks_permissions("sweep")
    assert {a for a in granted if a.startswith("eks:")} == declared["read"] | declared["write"]
    assert {a for a in granted if a.startswith("iam:")} == set(iam_permissions("sweep"))
    assert {"securityhub:BatchImportFindings", "secretsmanager:GetSecretValue", "sns:Publish"} <= granted


def test_the_ledger_grant_includes_update_item(home):
    from infra.constructs.storage import LEDGER_ACTIONS

    assert "dynamodb:UpdateItem" in LEDGER_ACTIONS
    for handler in (WORKER_HANDLER, SWEEP_HANDLER):
        (ledger,) = [s for s in home.statements(handler) if s.get("Sid") == "Ledger"]
        assert "dynamodb:UpdateItem" in ledger["Action"]
        assert ledger["Resource"] == f"arn:aws:dynamodb:{HOME}:{ACCOUNT}:table/{naming.LEDGER_TABLE_NAME}"


# --- home region only, StackSet members included --------------------------------------------------


def _fan_out_traces(view: View) -> list[str]:
    found = [k for k, v in view.of("AWS::SQS::Queue").items() if "QueueName" in v["Properties"]]
    found += list(view.of("AWS::Lambda::EventSourceMapping"))
    found += [k for k, v in view.of("AWS::Lambda::Function").items() if v["Properties"]["Handler"] in (WORKER_HANDLER, SWEEP_HANDLER)]
    found += [k for k, v in view.of("AWS::Lambda::Function").items() if any(e.startswith("SWEEP_") for e in v["Properties"]["Environment"]["Variables"])]
    found += [k for k in view.all if k.startswith("Sweep")]
    return found


def test_nothing_of_the_fan_out_in_another_region(other, tuned):
    assert _fan_out_traces(other) == []
    assert len(other.of("AWS::SQS::Queue")) == 2  # the events and failed-invocations dead-letter queues
    assert "sqs:ReceiveMessage" not in json.dumps(other.template)
    assert _fan_out_traces(tuned[1]) == []


def test_the_stack_set_home_member_has_the_fan_out_with_the_organizations_settings(member):
    home_member, regions_member = member
    from org_app import CENTRAL_TOPIC

    (mapping,) = home_member.mappings()
    assert mapping["ScalingConfig"] == {"MaximumConcurrency": 10}  # guardrail.org-test.yaml
    assert mapping["BatchSize"] == 1 and mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    queue = home_member.queue(naming.SWEEP_QUEUE_NAME)
    assert queue["RedrivePolicy"]["maxReceiveCount"] == MAX_RECEIVES and queue["VisibilityTimeout"] == 3600
    worker = home_member.function(WORKER_HANDLER)["Environment"]["Variables"]
    assert worker["SWEEP_WORKER_THREADS"] == "6" and worker["SWEEP_MAX_RECEIVES"] == "3"
    assert worker["ALERT_TOPIC_ARN"] == CENTRAL_TOPIC  # findings to the central topic, as the sweep's
    sweep = home_member.function(SWEEP_HANDLER)["Environment"]["Variables"]
    assert sweep["SWEEP_QUEUE_URL"] == {"Ref": home_member.queue_id(naming.SWEEP_QUEUE_NAME)}
    assert _comparable(home_member, WORKER_HANDLER) == _comparable(home_member, SWEEP_HANDLER)
    # the alarm on the dead-letter queue goes to the member's own topic (CloudWatch publishes in its account)
    dlq_id = home_member.queue_id(naming.SWEEP_DEAD_LETTER_QUEUE_NAME)
    (topic_id,) = home_member.of("AWS::SNS::Topic")
    (alarm,) = [a["Properties"] for a in home_member.of("AWS::CloudWatch::Alarm").values() if dlq_id in json.dumps(a["Properties"].get("Dimensions"))]
    assert alarm["AlarmActions"] == [{"Ref": topic_id}]
    assert _fan_out_traces(regions_member) == []
