"""Alerts and metrics for every handler: one message per outcome, failures isolated and counted."""

from __future__ import annotations

import logging
from typing import Any, Callable, Iterable

from aws_lambda_powertools.metrics import MetricUnit, single_metric

from ..alerts.channels import Channel, Dispatcher, SlackChannel, SnsChannel, post_json
from ..alerts.render import render
from ..clients import ClientFactory
from ..enforcement.enforcer import Outcome
from .settings import HandlerSettings

NAMESPACE = "EksGuardrail"
log = logging.getLogger(__name__)

#: Outcome status -> metric counted for it.
OUTCOME_METRICS = {
    "rolled-back": "Rollbacks",
    "refused": "RefusedRollbacks",
    "failed": "RollbackFailures",
    "not-undone": "RollbacksNotUndone",
    "deferred": "RollbacksDeferred",
}


class Reporter:
    def __init__(
        self,
        settings: HandlerSettings,
        clients: ClientFactory,
        *,
        metrics: Any = None,
        slack_post: Callable[[str, dict[str, Any]], None] = post_json,
    ):
        self.metrics = metrics
        channels: list[Channel] = []
        if settings.alert_topic_arn:
            region = settings.alert_topic_arn.split(":")[3]
            channels.append(SnsChannel(lambda: clients.client("sns", region), settings.alert_topic_arn))
        if settings.slack_secret_name:
            channels.append(SlackChannel(read_secret=_secret_reader(clients, settings.slack_secret_name), post=slack_post))
        self.dispatcher = Dispatcher(channels, on_failure=lambda channel, error: self.count("AlertFailures", channel=channel))
        self.security_hub = None
        if settings.org.security_hub:  # imported only when configured
            from ..alerts.security_hub import SecurityHubSink

            self.security_hub = SecurityHubSink(
                lambda region: clients.client("securityhub", region), on_failure=lambda n: self.count("AlertFailures", channel="security-hub")
            )

    def report(self, outcomes: Iterable[Outcome]) -> list[str]:
        """Alert every outcome; return the names of channels that failed."""
        failed: list[str] = []
        documents = []
        for outcome in outcomes:
            self.count("Findings", rule=outcome.finding.rule)
            metric = OUTCOME_METRICS.get(outcome.status)
            if metric:
                self.count(metric, rule=outcome.finding.rule)
            failed += self.dispatcher.send(render(outcome))
            if self.security_hub is not None:
                from ..alerts.security_hub import asff_finding

                documents.append(asff_finding(outcome))
        if documents and self.security_hub is not None and self.security_hub.send(documents):
            failed.append("security-hub")
        return failed

    def resolve(self, account: str, gone: Iterable[tuple[str, str, str | None, str | None]]) -> list[str]:
        """Security Hub: resolve the findings (region, rule, cluster, principal) the sweep no longer sees."""
        if self.security_hub is None:
            return []
        from ..alerts.security_hub import resolved_finding

        documents = [resolved_finding(account, region, cluster, principal, rule) for region, rule, cluster, principal in gone]
        return ["security-hub"] if documents and self.security_hub.send(documents) else []

    def gauge(self, name: str, value: float, unit: str = "Count") -> None:
        """One value of a metric (e.g. a sweep run's duration)."""
        if self.metrics is None:
            return
        with single_metric(name=name, unit=_unit(unit), value=value, namespace=NAMESPACE):
            pass

    def count(self, name: str, **dimensions: str) -> None:
        if self.metrics is None:
            return
        self.metrics.add_metric(name=name, unit=MetricUnit.Count, value=1)
        with single_metric(name=name, unit=MetricUnit.Count, value=1, namespace=NAMESPACE) as metric:
            for key, value in dimensions.items():
                metric.add_dimension(name=key, value=value)


def _unit(name: str) -> Any:
    return getattr(MetricUnit, name)


def reject(error: Exception, reporter: "Reporter") -> dict[str, Any]:
    """A malformed event: a clean, bounded result, logged and counted (`RejectedEvents`, alarmed),
    never an exception (a retry would fail the same way; the DLQ would only hide it)."""
    event_id = ""
    reason = str(error)[:1000]
    log.error("rejected a malformed event: %s", reason)
    reporter.count("RejectedEvents")
    return {"event_id": event_id, "status": "rejected", "reason": reason}


def _secret_reader(clients: ClientFactory, name: str) -> Callable[[], str]:
    from aws_lambda_powertools.utilities.parameters import SecretsProvider
    from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError, TransformParameterError

    provider = SecretsProvider(boto3_client=clients.client("secretsmanager"))

    def read() -> str:
        try:
            return str(provider.get(name, max_age=300))
        except (GetParameterError, TransformParameterError) as error:
            # A channel failure like any other (ValueError): counted, logged by type, never blocking.
            raise ValueError(f"cannot read the Slack secret {name}: {type(error).__name__}") from None

    return read
