"""Assertions shared by the conformance tests."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

ADMIN = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy"
VIEW = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy"
EDIT = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSEditPolicy"


def expect_error(call: Any, code: str, status: int, message: str | None = None, **kwargs: Any) -> ClientError:
    with pytest.raises(ClientError) as info:
        call(**kwargs)
    err = info.value
    assert err.response["Error"]["Code"] == code, err.response
    assert err.response["ResponseMetadata"]["HTTPStatusCode"] == status
    if message is not None:
        assert err.response["Error"]["Message"] == message
    return err


def output_members(client: Any, operation: str, *path: str) -> set[str]:
    """Member names of an operation's output shape (optionally of a nested structure)."""
    shape = client.meta.service_model.operation_model(operation).output_shape
    for name in path:
        shape = shape.members[name]
        if shape.type_name == "list":
            shape = shape.member
    return set(shape.members)
