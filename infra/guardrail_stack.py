"""`EksGuardrail-<account>-<region>`: the guardrail in one account and region.

Every region: the access-entry function behind an EventBridge rule (`eks_access_pattern()`),
the alert topic, the idempotency table, dead-letter queues and alarms. The home region also
holds the IAM-principal function behind a rule receiving IAM events (forwarded from
us-east-1 unless home is us-east-1), the sweep (fanned out: the scheduled function lists the
clusters of every region and sends one message per cluster to the sweep queue, a worker
function sweeps one cluster per message), the ledger global table (replicated to every other
region) and, if asked, the CloudTrail trail.
"""

from __future__ import annotations

import json
from typing import Any, Mapping

from aws_cdk import Duration, Stack, Token
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as event_sources
from constructs import Construct

from eks_guardrail.config import Deployment, OrgRules
from eks_guardrail.patterns import eks_access_pattern, iam_principal_pattern

from . import naming
from .constructs.alerting import AlertTopic, grant_central_publish
from .constructs.guardrail_function import SPECS, GuardrailFunction, function_code
from .constructs.queues import dead_letter_queue, work_queue
from .constructs.storage import grant_idempotency, grant_ledger, idempotency_table, ledger_global_table
from .constructs.trail import GuardrailTrail
from .lambda_layer import build_dependencies_layer, staging_directory

#: Lambda's limit on all environment variables of a function together.
LAMBDA_ENV_BUDGET = 4096
#: Size assumed for a value only known at deploy time (table names, topic ARN).
TOKEN_VALUE_SIZE = 256
#: Where the config layer puts the org rules (layers are extracted under /opt).
CONFIG_FILE_IN_LAYER = "/opt/eks-guardrail/config.json"

#: EventBridge -> Lambda delivery: retried by EventBridge, then the events dead-letter queue.
TARGET_RETRY_ATTEMPTS = 8
TARGET_MAX_EVENT_AGE = Duration.hours(2)

#: The sweep's fan-out: a cluster's message is received this many times (the first try and two retries)
#: before it goes to the sweep's dead-letter queue; the worker is told (`SWEEP_MAX_RECEIVES`).
SWEEP_MAX_RECEIVES = 3
#: Service (metrics dimension) -> what its `SweepErrors` count means.
SWEEP_READ_ERRORS = {"sweep": "the sweep could not read a region or cluster", "sweep-worker": "the sweep worker could not read a cluster"}
#: AWS's guidance for an SQS event source: the queue's visibility timeout is at least six times the function's timeout.
SWEEP_VISIBILITY_TIMEOUT_FACTOR = 6


def event_pattern(pattern: Mapping[str, Any]) -> events.EventPattern:
    """A pattern from `patterns.py`, as is (failed calls already excluded there)."""
    known = {"source", "detail-type", "detail"}
    unknown = set(pattern) - known
    if unknown:
        raise ValueError(f"pattern keys not handled: {sorted(unknown)}")
    return events.EventPattern(source=pattern["source"], detail_type=pattern["detail-type"], detail=pattern["detail"])


def environment_size(env: Mapping[str, str]) -> int:
    """Bytes Lambda counts for the environment, with deploy-time values at their assumed size."""
    return sum(len(k) + (TOKEN_VALUE_SIZE if Token.is_unresolved(v) else len(v.encode())) for k, v in env.items())


class GuardrailStack(Stack):
    def __init__(self, scope: Construct, construct_id: str, *, org: OrgRules, deployment: Deployment, home: bool, **kwargs: Any):
        super().__init__(scope, construct_id, **kwargs)
        self.deployment = deployment
        account, region = self.account, self.region
        self.is_home = home
        self.security_hub = org.security_hub
        self.config_json = json.dumps(org.handler_config(), separators=(",", ":"), sort_keys=True)
        self._config_layer: lambda_.LayerVersion | None = None
        # Findings go to the organization's central topic when there is one (StackSets), else to this stack's topic.
        organization = deployment.organization
        self.central_topic_arn = organization.central_alert_topic_arn if organization else None
        self.central_key_arn = organization.central_alert_key_arn if organization else None

        # --- alerts, queues, tables -------------------------------------------------------------
        self.alerts = AlertTopic(
            self,
            "Alerts",
            emails=deployment.alert_emails,
            chatbot_slack=deployment.chatbot_slack,
            chatbot_name=f"eks-guardrail-{region}",
        )
        self.events_dlq = dead_letter_queue(self, "EventsDeadLetterQueue", "the guardrail's EventBridge rules (undeliverable events)")
        self.failure_queue = dead_letter_queue(
            self, "FailedInvocationsQueue", "the guardrail's functions (events still failing after Lambda's retries)"
        )
        self.idempotency = idempotency_table(self, "IdempotencyTable")
        self.ledger = None
        if home:
            others = [r for r in deployment.regions if r != deployment.home]
            self.ledger = ledger_global_table(self, "Ledger", replica_regions=others)

        self.code = function_code()
        self.dependencies_layer = self._dependencies_layer()
        own_roles = ",".join(naming.own_role_arns(account, deployment.regions, deployment.home))

        def common_env(service: str) -> dict[str, str]:
            env = {
                "LEDGER_TABLE": naming.LEDGER_TABLE_NAME,
                "ALERT_TOPIC_ARN": self.central_topic_arn or self.alerts.topic.topic_arn,
                "GUARDRAIL_ROLE_ARNS": own_roles,
                "POWERTOOLS_SERVICE_NAME": service,
                "POWERTOOLS_METRICS_NAMESPACE": naming.METRICS_NAMESPACE,
                "POWERTOOLS_LOG_LEVEL": "INFO",
            }
            if deployment.slack_secret_name:
                env["SLACK_SECRET_NAME"] = deployment.slack_secret_name
            if deployment.tracing:
                env["GUARDRAIL_TRACING"] = "true"
            return env

        # --- the access-entry function, every region --------------------------------------------
        env = common_env("access-entry")
        env["IDEMPOTENCY_TABLE"] = self.idempotency.table_name
        self.access_entry = self._function("AccessEntry", "access-entry", env, regions=[region])
        grant_idempotency(self.idempotency, self.access_entry.role)
        self.access_rule = events.Rule(
            self,
            "AccessEntryRule",
            description="EKS access-entry and cluster access-config changes (CloudTrail), failed calls excluded",
            event_pattern=event_pattern(eks_access_pattern()),
        )
        self.access_rule.add_target(self._target(self.access_entry))
        self.functions = [self.access_entry]

        # --- home region: IAM principals, sweep, trail ------------------------------------------
        if home:
            env = common_env("iam-principal")
            env["GUARDRAIL_REGIONS"] = ",".join(deployment.regions)
            self.iam_principal = self._function("IamPrincipal", "iam-principal", env, regions=deployment.regions)
            self.iam_rule = events.Rule(
                self,
                "IamPrincipalRule",
                description="IAM role/user creations and deletions (forwarded from us-east-1), failed calls excluded",
                event_pattern=event_pattern(iam_principal_pattern()),
            )
            self.iam_rule.add_target(self._target(self.iam_principal))

            self._sweep(deployment, common_env)
            self.functions += [self.iam_principal, self.sweep, self.sweep_worker]
            if deployment.create_trail:
                self.trail = GuardrailTrail(self, "Trail")

        self._alarms()

    # --- pieces -----------------------------------------------------------------------------------

    def _sweep(self, deployment: Deployment, common_env) -> None:
        """The sweep, fanned out on SQS: the scheduled function (lister) sends one message per cluster, the worker sweeps it.

        The event source mapping's maximum concurrency (`deployment.sweep_max_concurrency`) bounds how many
        clusters are swept at once, so the account stays under EKS's API rate limits; a cluster that keeps
        failing is received `SWEEP_MAX_RECEIVES` times, then waits in the dead-letter queue (alarmed).
        """
        worker_timeout = SPECS["sweep-worker"][2]
        self.sweep_dlq = dead_letter_queue(
            self,
            "SweepDeadLetterQueue",
            "the sweep queue (clusters whose sweep failed every time)",
            queue_name=naming.SWEEP_DEAD_LETTER_QUEUE_NAME,
        )
        self.sweep_queue = work_queue(
            self,
            "SweepQueue",
            queue_name=naming.SWEEP_QUEUE_NAME,
            visibility_timeout=Duration.seconds(worker_timeout.to_seconds() * SWEEP_VISIBILITY_TIMEOUT_FACTOR),
            dead_letter_queue=self.sweep_dlq,
            max_receive_count=SWEEP_MAX_RECEIVES,
        )

        sweep_env = {**common_env("sweep"), "GUARDRAIL_REGIONS": ",".join(deployment.regions)}
        self.sweep = self._function(
            "Sweep", "sweep", {**sweep_env, "SWEEP_QUEUE_URL": self.sweep_queue.queue_url}, regions=deployment.regions
        )
        # SendMessageBatch is authorised as sqs:SendMessage.
        self.sweep.role.add_to_principal_policy(
            iam.PolicyStatement(sid="SweepQueueSend", actions=["sqs:SendMessage"], resources=[self.sweep_queue.queue_arn])
        )
        self.sweep_rule = events.Rule(
            self,
            "SweepSchedule",
            description="Scheduled sweep of every cluster's access entries (one message per cluster to the sweep queue)",
            schedule=events.Schedule.expression(deployment.sweep_schedule),
        )
        self.sweep_rule.add_target(self._target(self.sweep))

        worker_env = {
            **sweep_env,
            "POWERTOOLS_SERVICE_NAME": "sweep-worker",
            "SWEEP_MAX_RECEIVES": str(SWEEP_MAX_RECEIVES),
            "SWEEP_WORKER_THREADS": str(deployment.sweep_worker_threads),
        }
        self.sweep_worker = self._function("SweepWorker", "sweep-worker", worker_env, regions=deployment.regions, asynchronous=False)
        # Lambda polls the queue with the worker's role (receive, delete, change visibility: CDK's grant).
        self.sweep_worker.function.add_event_source(
            event_sources.SqsEventSource(
                self.sweep_queue,
                batch_size=1,
                report_batch_item_failures=True,
                max_concurrency=deployment.sweep_max_concurrency,
            )
        )

    def _function(
        self, construct_id: str, function: str, env: dict[str, str], *, regions, asynchronous: bool = True
    ) -> GuardrailFunction:
        with_config = {**env, "GUARDRAIL_CONFIG": self.config_json}
        layers: list[lambda_.ILayerVersion] = [self.dependencies_layer]
        if environment_size(with_config) <= LAMBDA_ENV_BUDGET:
            env = with_config
        else:
            env = {**env, "GUARDRAIL_CONFIG_FILE": CONFIG_FILE_IN_LAYER}
            layers.append(self.config_layer())
        fn = GuardrailFunction(
            self,
            construct_id,
            function=function,
            environment=env,
            layers=layers,
            code=self.code,
            failure_queue=self.failure_queue,
            regions=regions,
            tracing=self.deployment.tracing,
            asynchronous=asynchronous,
        )
        grant_ledger(self, fn.role)
        if self.central_topic_arn:
            grant_central_publish(fn.role, self.central_topic_arn, self.central_key_arn)
        else:
            self.alerts.grant_publish(fn.role)
        if self.security_hub:
            fn.role.add_to_principal_policy(
                iam.PolicyStatement(
                    sid="SecurityHubImport",
                    actions=["securityhub:BatchImportFindings"],
                    # The account's default product, in each region whose findings this function reports.
                    resources=[f"arn:aws:securityhub:{r}:{self.account}:product/{self.account}/default" for r in regions],
                )
            )
        deployment = self.deployment
        if deployment.slack_secret_name:
            fn.role.add_to_principal_policy(
                iam.PolicyStatement(
                    sid="SlackWebhookSecret",
                    actions=["secretsmanager:GetSecretValue"],
                    # Secrets Manager appends six random characters to a secret's name in its ARN.
                    resources=[
                        f"arn:aws:secretsmanager:{self.region}:{self.account}:secret:{deployment.slack_secret_name}-??????"
                    ],
                )
            )
        return fn

    def _dependencies_layer(self) -> lambda_.LayerVersion:
        """Powertools and what it needs, from the pinned distributions the tests ran (`infra/lambda_layer.py`)."""
        built = build_dependencies_layer()
        return lambda_.LayerVersion(
            self,
            "Dependencies",
            description=built.description,
            code=lambda_.Code.from_asset(str(built.directory)),
            compatible_runtimes=[lambda_.Runtime.PYTHON_3_13],
            compatible_architectures=[lambda_.Architecture.ARM_64],
        )

    def config_layer(self) -> lambda_.LayerVersion:
        """The org rules as a file in a layer, when they do not fit in the environment."""
        if self._config_layer is None:
            directory = staging_directory("eks-guardrail-config-")
            (directory / "eks-guardrail").mkdir()
            (directory / "eks-guardrail" / "config.json").write_text(self.config_json, encoding="utf-8")
            self._config_layer = lambda_.LayerVersion(
                self,
                "ConfigLayer",
                description="eks-guardrail org rules (validated at synth)",
                code=lambda_.Code.from_asset(str(directory)),
                compatible_runtimes=[lambda_.Runtime.PYTHON_3_13],
                compatible_architectures=[lambda_.Architecture.ARM_64],
            )
        return self._config_layer

    def _target(self, fn: GuardrailFunction) -> targets.LambdaFunction:
        return targets.LambdaFunction(
            fn.function,
            dead_letter_queue=self.events_dlq,
            retry_attempts=TARGET_RETRY_ATTEMPTS,
            max_event_age=TARGET_MAX_EVENT_AGE,
        )

    def _alarms(self) -> None:
        action = cw_actions.SnsAction(self.alerts.topic)
        period = Duration.minutes(5)

        def alarm(construct_id: str, metric: cloudwatch.IMetric, description: str, threshold: float = 1) -> None:
            created = cloudwatch.Alarm(
                self,
                construct_id,
                metric=metric,
                threshold=threshold,
                evaluation_periods=1,
                comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
                alarm_description=description,
            )
            created.add_alarm_action(action)

        for queue_id, queue in (("EventsDeadLetterQueue", self.events_dlq), ("FailedInvocationsQueue", self.failure_queue)):
            alarm(
                f"{queue_id}NotEmpty",
                queue.metric_approximate_number_of_messages_visible(period=period, statistic="Maximum"),
                f"eks-guardrail: events wait in {queue_id} ({self.region}); see the README on replaying them",
            )
        if self.is_home:
            alarm(
                "SweepDeadLetterQueueNotEmpty",
                self.sweep_dlq.metric_approximate_number_of_messages_visible(period=period, statistic="Maximum"),
                f"eks-guardrail: clusters the sweep could not sweep after {SWEEP_MAX_RECEIVES} tries wait in "
                f"{naming.SWEEP_DEAD_LETTER_QUEUE_NAME} ({self.region}); see the README on the sweep's dead-letter queue",
            )
        for fn in self.functions:
            name = fn.function_id
            prefix = "".join(part.title() for part in name.split("-"))
            alarm(f"{prefix}Errors", fn.function.metric_errors(period=period, statistic="Sum"), f"eks-guardrail: the {name} handler failed")
            for metric_name, what in (
                ("RollbackFailures", "a rollback failed"),
                ("RefusedRollbacks", "a rollback was refused (lockout protection)"),
                ("RejectedEvents", "a malformed event was rejected"),
            ):
                alarm(f"{prefix}{metric_name}", self._metric(metric_name, name, period), f"eks-guardrail {name}: {what}")
            if name in SWEEP_READ_ERRORS:
                alarm(f"{prefix}ReadErrors", self._metric("SweepErrors", name, period), f"eks-guardrail: {SWEEP_READ_ERRORS[name]}")

    @staticmethod
    def _metric(metric_name: str, service: str, period: Duration) -> cloudwatch.Metric:
        """A handler's count, as Powertools Metrics emits it: namespace EksGuardrail, dimension `service`."""
        return cloudwatch.Metric(
            namespace=naming.METRICS_NAMESPACE,
            metric_name=metric_name,
            dimensions_map={"service": service},
            statistic="Sum",
            period=period,
        )
