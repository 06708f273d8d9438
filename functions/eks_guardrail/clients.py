"""AWS clients with the retry behaviour the guardrail relies on, created on first use.

The handlers build their clients from one plain botocore session: a boto3 client *is* a
botocore client, and `import boto3` adds s3transfer and the resource layer, which no
function uses, to every cold start. Tests and the CLI may pass a boto3 session instead.
"""

from __future__ import annotations

import threading
from typing import Any

from botocore.config import Config

#: Throttling and 5xx answers are retried with exponential backoff and jitter by botocore.
HANDLER_RETRIES = Config(retries={"mode": "standard", "max_attempts": 6}, connect_timeout=5, read_timeout=20)
#: The sweep makes many calls in a row from a pool of threads: adaptive mode also rate-limits
#: on the client side, and each client keeps a connection per thread.
SWEEP_RETRIES = Config(retries={"mode": "adaptive", "max_attempts": 10}, connect_timeout=5, read_timeout=30, max_pool_connections=32)


class ClientFactory:
    """One client per (service, region), created the first time it is needed (thread-safe:
    the sweep's threads share the factory)."""

    def __init__(self, session: Any = None, config: Config = HANDLER_RETRIES):
        self._session = session
        self._config = config
        self._clients: dict[tuple[str, str | None], Any] = {}
        self._lock = threading.Lock()

    def client(self, service: str, region: str | None = None) -> Any:
        key = (service, region)
        made = self._clients.get(key)
        if made is None:
            with self._lock:  # botocore sessions are not safe to create clients from concurrently
                made = self._clients.get(key)
                if made is None:
                    made = self._clients[key] = self._make(service, region)
        return made

    def _make(self, service: str, region: str | None) -> Any:
        # One session for every client: each new session reloads botocore's endpoint data.
        if self._session is None:
            import botocore.session

            self._session = botocore.session.get_session()
        if hasattr(self._session, "create_client"):  # botocore
            return self._session.create_client(service, region_name=region, config=self._config)
        return self._session.client(service, region_name=region, config=self._config)  # boto3
