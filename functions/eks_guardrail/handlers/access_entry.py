"""Lambda entry point for EKS access-entry and cluster access-config events.

Handler: `eks_guardrail.handlers.access_entry.handler`. Environment: see `HandlerSettings`.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics

from ..clients import ClientFactory
from .access_entry_app import AccessEntryApp
from .lazy import LazyApp
from .reporting import NAMESPACE

logger = Logger(service="eks-guardrail")
metrics = Metrics(namespace=NAMESPACE, service="access-entry")
app = LazyApp(lambda settings: AccessEntryApp(settings, ClientFactory(), metrics=metrics), logger)


@logger.inject_lambda_context(correlation_id_path="detail.eventID", log_event=False)
@metrics.log_metrics
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return app.handle(event, context)
