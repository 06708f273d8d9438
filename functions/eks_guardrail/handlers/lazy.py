"""Build a handler's app on its first event, never at import (cold start, testability)."""

from __future__ import annotations

import os
from typing import Any, Callable, Generic, TypeVar

from .settings import HandlerSettings

App = TypeVar("App")


class LazyApp(Generic[App]):
    """`build(settings)` on the first event; the package's module loggers then write through
    the entry point's Powertools Logger (structured JSON with the correlation id)."""

    def __init__(self, build: Callable[[HandlerSettings], App], logger: Any = None):
        self._build = build
        self._logger = logger
        self._app: App | None = None

    def get(self) -> App:
        if self._app is None:
            if self._logger is not None:
                from aws_lambda_powertools.logging.utils import copy_config_to_registered_loggers

                copy_config_to_registered_loggers(source_logger=self._logger, include={"eks_guardrail"})
            settings = HandlerSettings.from_environ(os.environ)
            app = self._build(settings)
            if settings.tracing:
                from aws_lambda_powertools import Tracer  # loads the X-Ray SDK: only when tracing is on

                app.handle = Tracer(service="eks-guardrail").capture_method(app.handle)  # type: ignore[attr-defined]
            self._app = app
        return self._app

    def handle(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        return self.get().handle(event, context)  # type: ignore[attr-defined]
