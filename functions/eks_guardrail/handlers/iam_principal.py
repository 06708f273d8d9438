"""Lambda entry point for IAM CreateRole/CreateUser/DeleteRole/DeleteUser (forwarded from us-east-1).

Handler: `eks_guardrail.handlers.iam_principal.handler`. Environment: see `HandlerSettings`.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics

from ..clients import ClientFactory
from .iam_principal_app import IamPrincipalApp
from .lazy import LazyApp
from .reporting import NAMESPACE

logger = Logger(service="eks-guardrail")
metrics = Metrics(namespace=NAMESPACE, service="iam-principal")
app = LazyApp(lambda settings: IamPrincipalApp(settings, ClientFactory(), metrics=metrics), logger)


@logger.inject_lambda_context(correlation_id_path="detail.eventID", log_event=False)
@metrics.log_metrics
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return app.handle(event, context)
