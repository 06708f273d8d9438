"""The access-entry guardrail wired together: enforcer, ledger, alert channels, metrics.

Built once per Lambda container, on the first event (never at import), from
`HandlerSettings`; tests and the demo build it with their own clients.
"""

from __future__ import annotations

import logging
from typing import Any, Callable

from aws_lambda_powertools.metrics import MetricUnit, single_metric

from ..adapters.eks import EksAccessEntries
from ..adapters.ledger import DynamoDbLedger
from ..alerts.channels import Channel, Dispatcher, SlackChannel, SnsChannel, post_json
from ..alerts.render import render
from ..changes import Skipped, parse_event
from ..clients import ClientFactory
from ..enforcement.enforcer import Enforcer, Report
from .settings import HandlerSettings

log = logging.getLogger(__name__)
NAMESPACE = "EksGuardrail"

#: Outcome status -> metric counted for it.
OUTCOME_METRICS = {"rolled-back": "Rollbacks", "refused": "RefusedRollbacks", "failed": "RollbackFailures", "not-undone": "RollbacksNotUndone"}


class AccessEntryApp:
    def __init__(
        self,
        settings: HandlerSettings,
        clients: ClientFactory,
        *,
        metrics: Any = None,
        slack_post: Callable[[str, dict[str, Any]], None] = post_json,
    ):
        self.settings = settings
        self.metrics = metrics
        self.enforcer = Enforcer(
            org=settings.org,
            eks_for_region=lambda region: EksAccessEntries(clients.client("eks", region)),
            ledger=DynamoDbLedger(clients.client("dynamodb"), settings.ledger_table),
            own_principals=settings.own_principals,
        )
        channels: list[Channel] = []
        if settings.alert_topic_arn:
            region = settings.alert_topic_arn.split(":")[3]
            channels.append(SnsChannel(lambda: clients.client("sns", region), settings.alert_topic_arn))
        if settings.slack_secret_name:
            channels.append(SlackChannel(read_secret=self._secret_reader(clients, settings.slack_secret_name), post=slack_post))
        self.dispatcher = Dispatcher(channels, on_failure=self._alert_failed)
        self._handle_once = self._idempotent(clients) if settings.idempotency_table else self._handle

    def handle(self, event: dict[str, Any], lambda_context: Any = None) -> dict[str, Any]:
        """Handle one EventBridge event; raises when a rollback failed (Lambda retries it)."""
        outcome = parse_event(event)
        if isinstance(outcome, Skipped):
            log.info("skipped %s %s: %s", outcome.event_name, outcome.event_id, outcome.reason)
            return {"event_id": outcome.event_id, "status": "skipped", "reason": outcome.reason}
        if lambda_context is not None and hasattr(self, "_idempotency_config"):
            self._idempotency_config.register_lambda_context(lambda_context)
        return self._handle_once(event=event)

    # --- the work, done once per CloudTrail event id ---------------------------------------

    def _handle(self, event: dict[str, Any]) -> dict[str, Any]:
        change = parse_event(event)
        assert not isinstance(change, Skipped)
        report = self.enforcer.handle(change)
        if report.skipped_reason:
            log.info("skipped %s %s: %s", change.meta.event_name, change.meta.event_id, report.skipped_reason)
            return {"event_id": change.meta.event_id, "status": "skipped", "reason": report.skipped_reason}
        failed_channels = self._alert(report)
        summary = {
            "event_id": change.meta.event_id,
            "status": "evaluated",
            "findings": len(report.findings),
            "outcomes": [{"rule": o.finding.rule, "status": o.status, "detail": o.detail} for o in report.outcomes],
            "alert_failures": failed_channels,
        }
        log.info("evaluated %s %s", change.meta.event_name, change.meta.event_id, extra={"summary": summary})
        if report.error is not None:
            raise report.error
        return summary

    def _alert(self, report: Report) -> list[str]:
        failed: list[str] = []
        for outcome in report.outcomes:
            self._count("Findings", rule=outcome.finding.rule)
            metric = OUTCOME_METRICS.get(outcome.status)
            if metric:
                self._count(metric, rule=outcome.finding.rule)
            failed += self.dispatcher.send(render(outcome))
        return failed

    def _alert_failed(self, channel: str, error: Exception) -> None:
        self._count("AlertFailures", channel=channel)

    def _count(self, name: str, **dimensions: str) -> None:
        if self.metrics is None:
            return
        self.metrics.add_metric(name=name, unit=MetricUnit.Count, value=1)
        with single_metric(name=name, unit=MetricUnit.Count, value=1, namespace=NAMESPACE) as metric:
            for key, value in dimensions.items():
                metric.add_dimension(name=key, value=value)

    # --- wiring -----------------------------------------------------------------------------

    def _idempotent(self, clients: ClientFactory) -> Callable[..., dict[str, Any]]:
        from aws_lambda_powertools.utilities.idempotency import (
            DynamoDBPersistenceLayer,
            IdempotencyConfig,
            idempotent_function,
        )

        self._idempotency_config = IdempotencyConfig(
            event_key_jmespath='detail.eventID || id',
            raise_on_no_idempotency_key=True,
            expires_after_seconds=7 * 24 * 3600,
        )
        store = DynamoDBPersistenceLayer(table_name=self.settings.idempotency_table, boto3_client=clients.client("dynamodb"))
        return idempotent_function(data_keyword_argument="event", persistence_store=store, config=self._idempotency_config)(self._handle)

    @staticmethod
    def _secret_reader(clients: ClientFactory, name: str) -> Callable[[], str]:
        from aws_lambda_powertools.utilities.parameters import SecretsProvider

        provider = SecretsProvider(boto3_client=clients.client("secretsmanager"))
        return lambda: str(provider.get(name, max_age=300))
