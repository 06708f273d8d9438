"""Lambda entry point for IAM CreateRole/CreateUser/DeleteRole/DeleteUser (forwarded from us-east-1).

Handler: `eks_guardrail.handlers.iam_principal.handler`. Environment: see `HandlerSettings`.
"""

from __future__ import annotations

import os
from typing import Any

from aws_lambda_powertools import Logger, Metrics

from ..clients import ClientFactory
from .iam_principal_app import IamPrincipalApp
from .reporting import NAMESPACE
from .settings import HandlerSettings

logger = Logger(service="eks-guardrail")
metrics = Metrics(namespace=NAMESPACE, service="iam-principal")
_app: IamPrincipalApp | None = None


def _get_app() -> IamPrincipalApp:
    global _app
    if _app is None:
        _app = IamPrincipalApp(HandlerSettings.from_environ(os.environ), ClientFactory(), metrics=metrics)
    return _app


@logger.inject_lambda_context(correlation_id_path="detail.eventID", log_event=False)
@metrics.log_metrics
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return _get_app().handle(event, context)
