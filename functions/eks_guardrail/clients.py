"""boto3 clients with the retry behaviour the guardrail relies on, created on demand."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import boto3
from botocore.config import Config

#: Throttling and 5xx answers are retried with exponential backoff and jitter by botocore.
HANDLER_RETRIES = Config(retries={"mode": "standard", "max_attempts": 6}, connect_timeout=5, read_timeout=20)
#: The sweep makes many calls in a row: adaptive mode also rate-limits on the client side.
SWEEP_RETRIES = Config(retries={"mode": "adaptive", "max_attempts": 10}, connect_timeout=5, read_timeout=30)


class ClientFactory:
    """One client per (service, region), created the first time it is needed."""

    def __init__(self, session: boto3.session.Session | None = None, config: Config = HANDLER_RETRIES):
        self._session = session
        self._config = config
        self.client = lru_cache(maxsize=None)(self._make)

    def _make(self, service: str, region: str | None = None) -> Any:
        # One session for every client: each new session reloads botocore's endpoint data.
        if self._session is None:
            self._session = boto3.session.Session()
        return self._session.client(service, region_name=region, config=self._config)
