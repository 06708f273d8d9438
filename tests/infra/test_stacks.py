"""Template assertions on the synthesised app (one synthesis per session, see conftest)."""

from __future__ import annotations

import json

import pytest
from aws_cdk.assertions import Match

from conftest import ACCOUNT, FORWARDER_STACK, HOME, HOME_STACK, OTHER, OTHER_STACK
from eks_guardrail.patterns import eks_access_pattern, iam_principal_pattern
from infra import naming

GUARDRAIL_STACKS = [HOME_STACK, OTHER_STACK]


def test_one_stack_per_account_and_region_plus_the_forwarder(synth):
    assert set(synth.stacks) == {HOME_STACK, OTHER_STACK, FORWARDER_STACK}
    envs = {name: (s.environment.account, s.environment.region) for name, s in synth.stacks.items()}
    assert envs == {HOME_STACK: (ACCOUNT, HOME), OTHER_STACK: (ACCOUNT, OTHER), FORWARDER_STACK: (ACCOUNT, "us-east-1")}
    deps = {name: {d.id for d in s.dependencies if d.id in synth.stacks} for name, s in synth.stacks.items()}
    assert deps[OTHER_STACK] == {HOME_STACK} and deps[FORWARDER_STACK] == {HOME_STACK}


def test_cdk_nag_reports_no_finding(synth):
    report = json.loads((synth.outdir / "validation-report.json").read_text())
    (aws_solutions,) = [r for r in report["pluginReports"] if r["pluginName"] == "AwsSolutions"]
    assert aws_solutions["conclusion"] == "success"
    assert aws_solutions["violations"] == []


# --- EventBridge ------------------------------------------------------------------------------


def _rules(synth, stack):
    return list(synth.resources(stack, "AWS::Events::Rule").values())


@pytest.mark.parametrize("stack", GUARDRAIL_STACKS)
def test_access_rule_uses_the_shared_pattern_with_retries_and_dlq(synth, stack):
    patterned = [r for r in _rules(synth, stack) if "EventPattern" in r["Properties"]]
    access = [r for r in patterned if r["Properties"]["EventPattern"] == eks_access_pattern()]
    assert len(access) == 1
    (target,) = access[0]["Properties"]["Targets"]
    assert target["RetryPolicy"] == {"MaximumRetryAttempts": 8, "MaximumEventAgeInSeconds": 7200}
    assert "Arn" in str(target["DeadLetterConfig"]) and "EventsDeadLetterQueue" in json.dumps(target["DeadLetterConfig"])
    assert "AccessEntryFunction" in json.dumps(target["Arn"])
    assert access[0]["Properties"]["EventPattern"]["detail"]["errorCode"] == [{"exists": False}]


def test_home_stack_has_the_iam_rule_and_the_sweep_schedule(synth, org):
    rules = _rules(synth, HOME_STACK)
    iam_rules = [r for r in rules if r["Properties"].get("EventPattern") == iam_principal_pattern()]
    assert len(iam_rules) == 1
    assert "EventBusName" not in iam_rules[0]["Properties"]  # the default bus, where the forwarder puts them
    assert "IamPrincipalFunction" in json.dumps(iam_rules[0]["Properties"]["Targets"])
    (schedule,) = [r for r in rules if "ScheduleExpression" in r["Properties"]]
    assert schedule["Properties"]["ScheduleExpression"] == org.deployment.sweep_schedule
    assert "SweepFunction" in json.dumps(schedule["Properties"]["Targets"])
    for rule in rules:
        (target,) = rule["Properties"]["Targets"]
        assert "DeadLetterConfig" in target and target["RetryPolicy"]["MaximumRetryAttempts"] == 8


def test_other_regions_have_only_the_access_entry_function(synth):
    assert len(_rules(synth, OTHER_STACK)) == 1
    functions = synth.resources(OTHER_STACK, "AWS::Lambda::Function")
    assert [k for k in functions] == [k for k in functions if k.startswith("AccessEntry")]
    assert synth.resources(OTHER_STACK, "AWS::CloudTrail::Trail") == {}


def test_forwarder_sends_iam_events_to_the_home_default_bus(synth):
    template = synth.template(FORWARDER_STACK)
    bus = f"arn:aws:events:{HOME}:{ACCOUNT}:event-bus/default"
    template.has_resource_properties(
        "AWS::Events::Rule",
        {
            "EventPattern": iam_principal_pattern(),
            "Targets": [Match.object_like({"Arn": bus, "RoleArn": Match.any_value(), "DeadLetterConfig": Match.any_value()})],
        },
    )
    template.has_resource_properties(
        "AWS::IAM::Policy",
        {"PolicyDocument": {"Statement": Match.array_with([Match.object_like({"Action": "events:PutEvents", "Effect": "Allow", "Resource": bus})])}},
    )
    (policy,) = synth.resources(FORWARDER_STACK, "AWS::IAM::Policy").values()
    assert {a for s in policy["Properties"]["PolicyDocument"]["Statement"] for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])} == {"events:PutEvents"}
    template.resource_count_is("AWS::CloudWatch::Alarm", 1)


def test_no_forwarder_when_home_is_us_east_1_and_stacks_per_account(tmp_path):
    from infra.app_builder import build_app

    config = tmp_path / "g.yaml"
    config.write_text('deployment: {accounts: ["111122223333", "444455556666"], regions: [us-east-1, eu-west-1]}\n')
    app = build_app(config, outdir=str(tmp_path / "out"))
    names = sorted(c.node.id for c in app.node.children if hasattr(c, "stack_name"))
    assert names == [
        "EksGuardrail-111122223333-eu-west-1",
        "EksGuardrail-111122223333-us-east-1",
        "EksGuardrail-444455556666-eu-west-1",
        "EksGuardrail-444455556666-us-east-1",
    ]


# --- Lambda -----------------------------------------------------------------------------------

HANDLERS = {
    "AccessEntry": "eks_guardrail.handlers.access_entry.handler",
    "IamPrincipal": "eks_guardrail.handlers.iam_principal.handler",
    "SweepWorker": "eks_guardrail.handlers.sweep_worker.handler",  # before "Sweep": logical ids are matched by prefix
    "Sweep": "eks_guardrail.handlers.sweep.handler",
}


def _functions(synth, stack):
    return {next(p for p in HANDLERS if k.startswith(p)): v["Properties"] for k, v in synth.resources(stack, "AWS::Lambda::Function").items()}


def test_functions_runtime_architecture_layer_and_handler(synth):
    functions = _functions(synth, HOME_STACK)
    assert set(functions) == set(HANDLERS)
    for name, props in functions.items():
        assert props["Handler"] == HANDLERS[name]
        assert props["Runtime"] == "python3.13"
        assert props["Architectures"] == ["arm64"]
        assert props["Layers"][0] == {"Ref": _logical_id(synth, HOME_STACK, "AWS::Lambda::LayerVersion", "Dependencies")}
        assert 128 <= props["MemorySize"] <= 1024 and 30 <= props["Timeout"] <= 900
    assert functions["AccessEntry"]["Timeout"] <= 120 and functions["Sweep"]["Timeout"] == 900
    assert functions["SweepWorker"]["Timeout"] == 600 and functions["SweepWorker"]["MemorySize"] == functions["Sweep"]["MemorySize"]
    (other,) = _functions(synth, OTHER_STACK).values()
    assert other["Layers"] == [{"Ref": _logical_id(synth, OTHER_STACK, "AWS::Lambda::LayerVersion", "Dependencies")}]


def _logical_id(synth, stack, type_, prefix):
    (logical_id,) = [k for k in synth.resources(stack, type_) if k.startswith(prefix)]
    return logical_id


def test_tracing_on_when_deployment_asks_for_it(synth):
    for name, props in _functions(synth, HOME_STACK).items():
        assert props["TracingConfig"] == {"Mode": "Active"}, name
        assert props["Environment"]["Variables"]["GUARDRAIL_TRACING"] == "true"


def test_function_environment_carries_the_validated_config(synth, org):
    functions = _functions(synth, HOME_STACK)
    own = naming.own_role_arns(ACCOUNT, org.deployment.regions, HOME)
    for name, props in functions.items():
        env = props["Environment"]["Variables"]
        assert json.loads(env["GUARDRAIL_CONFIG"]) == org.handler_config()
        assert env["LEDGER_TABLE"] == naming.LEDGER_TABLE_NAME
        assert env["SLACK_SECRET_NAME"] == "eks-guardrail/slack-webhook"
        assert env["GUARDRAIL_ROLE_ARNS"].split(",") == own
        assert env["POWERTOOLS_METRICS_NAMESPACE"] == "EksGuardrail" and env["POWERTOOLS_LOG_LEVEL"] == "INFO"
        assert "Ref" in env["ALERT_TOPIC_ARN"]
    assert functions["AccessEntry"]["Environment"]["Variables"]["POWERTOOLS_SERVICE_NAME"] == "access-entry"
    assert "IDEMPOTENCY_TABLE" in functions["AccessEntry"]["Environment"]["Variables"]
    for name in ("IamPrincipal", "Sweep", "SweepWorker"):
        assert functions[name]["Environment"]["Variables"]["GUARDRAIL_REGIONS"] == "eu-west-1,eu-central-1"


def test_role_names_match_the_arns_the_functions_skip(synth, org):
    names = {r["Properties"].get("RoleName") for r in synth.resources(HOME_STACK, "AWS::IAM::Role").values()}
    for fn in ("access-entry", "iam-principal", "sweep", "sweep-worker"):
        assert naming.role_name(fn, HOME) in names
    other = {r["Properties"].get("RoleName") for r in synth.resources(OTHER_STACK, "AWS::IAM::Role").values()}
    assert naming.role_name("access-entry", OTHER) in other


@pytest.mark.parametrize("stack", GUARDRAIL_STACKS)
def test_async_invocation_retries_then_failure_queue(synth, stack):
    configs = synth.resources(stack, "AWS::Lambda::EventInvokeConfig")
    # every function but the sweep worker, which polls the sweep queue (that queue has its own dead-letter queue)
    asynchronous = [k for k in synth.resources(stack, "AWS::Lambda::Function") if not k.startswith("SweepWorker")]
    assert len(configs) == len(asynchronous)
    assert {c["Properties"]["FunctionName"]["Ref"] for c in configs.values()} == set(asynchronous)
    for config in configs.values():
        props = config["Properties"]
        assert props["MaximumRetryAttempts"] == 2
        assert "FailedInvocationsQueue" in json.dumps(props["DestinationConfig"]["OnFailure"])


# --- alerts, storage, trail -------------------------------------------------------------------


@pytest.mark.parametrize("stack", GUARDRAIL_STACKS + [FORWARDER_STACK])
def test_topic_is_kms_encrypted_tls_only_with_email_subscriptions(synth, stack):
    template = synth.template(stack)
    template.has_resource_properties("AWS::SNS::Topic", {"KmsMasterKeyId": Match.any_value()})
    template.has_resource_properties("AWS::KMS::Key", {"EnableKeyRotation": True})
    template.has_resource_properties(
        "AWS::SNS::TopicPolicy",
        {
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [Match.object_like({"Effect": "Deny", "Condition": {"Bool": {"aws:SecureTransport": "false"}}})]
                )
            }
        },
    )
    emails = sorted(s["Properties"]["Endpoint"] for s in synth.resources(stack, "AWS::SNS::Subscription").values())
    assert emails == ["platform-oncall@example.com", "security@example.com"]


@pytest.mark.parametrize("stack", GUARDRAIL_STACKS)
def test_chatbot_slack_channel_on_the_topic(synth, stack):
    (chatbot,) = synth.resources(stack, "AWS::Chatbot::SlackChannelConfiguration").values()
    props = chatbot["Properties"]
    assert props["SlackWorkspaceId"] == "T0123ABCD" and props["SlackChannelId"] == "C0123ABCD"
    assert "AlertsTopic" in json.dumps(props["SnsTopicArns"])


@pytest.mark.parametrize("stack", GUARDRAIL_STACKS + [FORWARDER_STACK])
def test_queues_encrypted_and_tls_only(synth, stack):
    template = synth.template(stack)
    for queue in synth.resources(stack, "AWS::SQS::Queue").values():
        assert queue["Properties"]["SqsManagedSseEnabled"] is True
    template.has_resource_properties(
        "AWS::SQS::QueuePolicy",
        {"PolicyDocument": {"Statement": Match.array_with([Match.object_like({"Effect": "Deny", "Condition": {"Bool": {"aws:SecureTransport": "false"}}})])}},
    )


def test_ledger_is_a_global_table_replicated_to_every_region(synth):
    (ledger,) = synth.resources(HOME_STACK, "AWS::DynamoDB::GlobalTable").values()
    props = ledger["Properties"]
    assert props["TableName"] == naming.LEDGER_TABLE_NAME
    assert props["KeySchema"] == [{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}]
    assert {r["Region"] for r in props["Replicas"]} == {HOME, OTHER}
    for replica in props["Replicas"]:
        assert replica["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True
    assert props["SSESpecification"]["SSEEnabled"] is True
    assert ledger["DeletionPolicy"] == "Retain"
    assert synth.resources(OTHER_STACK, "AWS::DynamoDB::GlobalTable") == {}


@pytest.mark.parametrize("stack", GUARDRAIL_STACKS)
def test_idempotency_table_ttl_pitr_encryption(synth, stack):
    synth.template(stack).has_resource_properties(
        "AWS::DynamoDB::Table",
        {
            "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}],
            "TimeToLiveSpecification": {"AttributeName": "expiration", "Enabled": True},
            "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
            "SSESpecification": {"SSEEnabled": True},
        },
    )


def test_trail_only_in_the_home_stack(synth):
    (trail,) = synth.resources(HOME_STACK, "AWS::CloudTrail::Trail").values()
    props = trail["Properties"]
    assert props["IsMultiRegionTrail"] is True and props["IncludeGlobalServiceEvents"] is True
    assert props["EnableLogFileValidation"] is True
    assert props["EventSelectors"][0]["IncludeManagementEvents"] is True
    for bucket in synth.resources(HOME_STACK, "AWS::S3::Bucket").values():
        assert bucket["Properties"]["BucketEncryption"]
        assert bucket["Properties"]["PublicAccessBlockConfiguration"]["BlockPublicPolicy"] is True


# --- alarms -----------------------------------------------------------------------------------


def _alarms(synth, stack):
    return list(synth.resources(stack, "AWS::CloudWatch::Alarm").values())


def test_alarms_publish_to_the_topic(synth):
    for stack in GUARDRAIL_STACKS + [FORWARDER_STACK]:
        for alarm in _alarms(synth, stack):
            assert "AlertsTopic" in json.dumps(alarm["Properties"]["AlarmActions"]), alarm


def test_alarm_coverage_in_the_home_stack(synth):
    alarms = _alarms(synth, HOME_STACK)
    errors = [a for a in alarms if a["Properties"].get("MetricName") == "Errors"]
    assert len(errors) == 4
    queues = [a for a in alarms if a["Properties"].get("MetricName") == "ApproximateNumberOfMessagesVisible"]
    assert len(queues) == 3  # the events and failed-invocations dead-letter queues, the sweep's dead-letter queue
    for alarm in queues:
        assert alarm["Properties"]["Threshold"] == 1
        assert alarm["Properties"]["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
    custom = {
        (a["Properties"]["MetricName"], a["Properties"]["Dimensions"][0]["Value"])
        for a in alarms
        if a["Properties"].get("Namespace") == "EksGuardrail"
    }
    for service in ("access-entry", "iam-principal", "sweep", "sweep-worker"):
        assert ("RollbackFailures", service) in custom and ("RefusedRollbacks", service) in custom
        assert ("RejectedEvents", service) in custom
    assert ("SweepErrors", "sweep") in custom and ("SweepErrors", "sweep-worker") in custom
    for alarm in alarms:
        if alarm["Properties"].get("Namespace") == "EksGuardrail":
            assert alarm["Properties"]["Dimensions"][0]["Name"] == "service"


def test_alarm_coverage_in_other_regions(synth):
    alarms = _alarms(synth, OTHER_STACK)
    names = sorted(a["Properties"]["MetricName"] for a in alarms)
    assert names == ["ApproximateNumberOfMessagesVisible"] * 2 + ["Errors", "RefusedRollbacks", "RejectedEvents", "RollbackFailures"]


def test_code_asset_is_functions_without_the_offline_packages(synth):
    (asset,) = {p.parent.parent for p in synth.outdir.glob("asset.*/eks_guardrail/handlers")}
    package = asset / "eks_guardrail"
    for module in ("access_entry", "iam_principal", "sweep", "sweep_worker"):
        assert (package / "handlers" / f"{module}.py").is_file()
    for offline in ("local", "demo", "migration", "scp", "iac"):
        assert not (package / offline).exists(), offline
    # bytecode: the runtime's only (compiled at synthesis, infra/bytecode.py), never this machine's
    assert not [p for p in asset.rglob("*.pyc") if not p.name.endswith(".cpython-313.pyc")] and not list(asset.glob("*.egg-info"))
    assert not [p for p in asset.iterdir() if p.name != "eks_guardrail"]
