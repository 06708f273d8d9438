"""Offline AWS for eks-guardrail: moto plus the EKS access-entry APIs, ``accessConfig``,
CloudTrail events on EventBridge and CloudTrail's ``LookupEvents`` (Event history, see
:mod:`eks_guardrail.local.history`).

In-process::

    from eks_guardrail.local import mock_aws
    with mock_aws():
        eks = boto3.client("eks", region_name="eu-west-1")
        ...

As an endpoint: ``eks-guardrail local-aws --port 5000`` (see :mod:`eks_guardrail.local.server`).
"""

from __future__ import annotations

import inspect
from typing import Any, Callable, TypeVar

from moto.core.models import DEFAULT_ACCOUNT_ID, MockAWS

from . import responses as _responses
from .backend import access_entry_backends, iam_unique_id, parse_principal
from .history import (
    inject_lookup_throttles,
    lookup_throttles_answered,
    record_history,
    recorded_events,
    set_lookup_rate_limit,
)

__all__ = [
    "DEFAULT_ACCOUNT_ID",
    "EmulatorMock",
    "entry_authenticates",
    "inject_lookup_throttles",
    "install",
    "lookup_throttles_answered",
    "mock_aws",
    "record_history",
    "recorded_events",
    "set_lookup_rate_limit",
    "uninstall",
]

T = TypeVar("T")

install = _responses.install
uninstall = _responses.uninstall


class EmulatorMock:
    """``moto.mock_aws()`` plus the access-entry emulator.

    Usable as a context manager, a function decorator and a class decorator. On start it
    installs the emulator into moto, on stop it removes it again, so plain ``moto.mock_aws``
    elsewhere is unaffected. Emulator state lives in moto ``BackendDict``s and is reset with
    moto's own backends.
    """

    def __init__(self, config: Any = None) -> None:
        self._moto = MockAWS(config)

    def start(self, reset: bool = True) -> None:
        install()
        try:
            self._moto.start(reset=reset)
        except BaseException:
            uninstall()
            raise

    def stop(self, remove_data: bool = True) -> None:
        try:
            self._moto.stop(remove_data=remove_data)
        finally:
            uninstall()

    def __enter__(self) -> "EmulatorMock":
        self.start()
        return self

    def __exit__(self, *args: Any) -> None:
        self.stop()

    def __call__(self, func: Callable[..., T], reset: bool = True, remove_data: bool = True) -> Any:
        if inspect.isclass(func):
            # moto's class decoration only calls back into self(...) for each method
            return MockAWS._decorate_class(self, func)  # type: ignore[arg-type]

        def wrapper(*args: Any, **kwargs: Any) -> T:
            self.start(reset=reset)
            try:
                return func(*args, **kwargs)
            finally:
                self.stop(remove_data=remove_data)

        import functools

        functools.update_wrapper(wrapper, func)
        return wrapper


def mock_aws(func: Callable[..., T] | None = None, config: Any = None) -> Any:
    """Like ``moto.mock_aws``: ``with mock_aws(): ...``, ``@mock_aws`` or ``@mock_aws()``."""
    mock = EmulatorMock(config)
    if func is not None:
        return mock(func)
    return mock


def entry_authenticates(
    cluster_name: str,
    principal_arn: str,
    region: str,
    account_id: str = DEFAULT_ACCOUNT_ID,
) -> bool:
    """Whether the cluster's access entry for ``principal_arn`` still authenticates it.

    AWS records the IAM principal's unique id (RoleId/UserId) when the entry is created; a
    principal deleted and recreated under the same ARN gets a new id and the old entry no
    longer matches it. False also when the entry or the principal does not exist.
    """
    backend = access_entry_backends[account_id][region]
    entry = backend.entries.get(cluster_name, {}).get(principal_arn)
    if entry is None:
        return False
    principal = parse_principal(principal_arn)
    if principal is None:
        return False
    current = iam_unique_id(principal)
    return current is not None and current == entry.principal_id
