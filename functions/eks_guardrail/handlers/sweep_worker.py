"""Lambda entry point of the sweep's worker: one cluster per SQS message (`sweep_fanout.py`).

Handler: `eks_guardrail.handlers.sweep_worker.handler`. Event source: the sweep queue, with
`ReportBatchItemFailures`: a cluster that could not be swept is reported failed alone and
delivered again, then kept by the dead-letter queue. Environment: see `HandlerSettings`.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics

from .lazy import LazyApp
from .reporting import NAMESPACE
from .sweep_app import SweepApp, sweep_clients
from .sweep_fanout import SweepWorker

logger = Logger(service="eks-guardrail")
metrics = Metrics(namespace=NAMESPACE, service="sweep-worker")
app = LazyApp(lambda settings: SweepWorker(SweepApp(settings, sweep_clients(), metrics=metrics)), logger)


@logger.inject_lambda_context(log_event=False)
@metrics.log_metrics
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return app.handle(event, context)
