"""custom-username: leave the username to AWS's default mapping."""

from __future__ import annotations

from dataclasses import dataclass

from typing import Iterator

from ..changes import AccessEntryCreated, AccessEntryUpdated
from ..findings import Violation
from .base import AlertOnlySettings, rule, who


@dataclass(frozen=True)
class CustomUsernameSettings(AlertOnlySettings):
    pass


@rule(
    "custom-username",
    summary="a Kubernetes username is set by hand instead of AWS's default mapping",
    settings=CustomUsernameSettings,
    handles=(AccessEntryCreated, AccessEntryUpdated),
    severity="low",
)
def check(change: AccessEntryCreated | AccessEntryUpdated, settings: CustomUsernameSettings, org) -> Iterator[Violation]:
    if change.username:
        yield Violation(
            f"{who(change)} set the Kubernetes username {change.username!r} on the access entry of "
            f"{change.principal_arn} on cluster {change.cluster}; the organisation uses AWS's default "
            f"username mapping, so audit logs name the IAM principal"
        )
