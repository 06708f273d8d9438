"""Lambda entry point for EKS access-entry and cluster access-config events.

Handler: `eks_guardrail.handlers.access_entry.handler`. Environment: see `HandlerSettings`.
"""

from __future__ import annotations

import os
from typing import Any

from aws_lambda_powertools import Logger, Metrics

from ..clients import ClientFactory
from .access_entry_app import NAMESPACE, AccessEntryApp
from .settings import HandlerSettings

logger = Logger(service="eks-guardrail")
metrics = Metrics(namespace=NAMESPACE, service="access-entry")
_app: AccessEntryApp | None = None


def _get_app() -> AccessEntryApp:
    global _app
    if _app is None:
        settings = HandlerSettings.from_environ(os.environ)
        _app = AccessEntryApp(settings, ClientFactory(), metrics=metrics)
        if settings.tracing:
            from aws_lambda_powertools import Tracer  # loads the X-Ray SDK: only when tracing is on

            tracer = Tracer(service="eks-guardrail")
            _app._handle_once = tracer.capture_method(_app._handle_once)
    return _app


@logger.inject_lambda_context(correlation_id_path="detail.eventID", log_event=False)
@metrics.log_metrics
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return _get_app().handle(event, context)
