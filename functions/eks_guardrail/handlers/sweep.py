"""Lambda entry point for the scheduled sweep (EventBridge schedule, hourly by default).

Handler: `eks_guardrail.handlers.sweep.handler`. Environment: see `HandlerSettings`.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics

from .lazy import LazyApp
from .reporting import NAMESPACE
from .sweep_app import SweepApp, sweep_clients

logger = Logger(service="eks-guardrail")
metrics = Metrics(namespace=NAMESPACE, service="sweep")
app = LazyApp(lambda settings: SweepApp(settings, sweep_clients(), metrics=metrics), logger)


@logger.inject_lambda_context(log_event=False)
@metrics.log_metrics
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return app.handle(event, context)
