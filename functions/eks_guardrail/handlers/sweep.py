"""Lambda entry point for the scheduled sweep (EventBridge schedule, hourly by default).

Handler: `eks_guardrail.handlers.sweep.handler`. Environment: see `HandlerSettings`.
"""

from __future__ import annotations

import os
from typing import Any

from aws_lambda_powertools import Logger, Metrics

from .reporting import NAMESPACE
from .settings import HandlerSettings
from .sweep_app import SweepApp, sweep_clients

logger = Logger(service="eks-guardrail")
metrics = Metrics(namespace=NAMESPACE, service="sweep")
_app: SweepApp | None = None


def _get_app() -> SweepApp:
    global _app
    if _app is None:
        _app = SweepApp(HandlerSettings.from_environ(os.environ), sweep_clients(), metrics=metrics)
    return _app


@logger.inject_lambda_context(log_event=False)
@metrics.log_metrics
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return _get_app().handle(event, context)
