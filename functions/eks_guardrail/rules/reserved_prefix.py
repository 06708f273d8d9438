"""reserved-prefix: usernames and groups must not claim prefixes AWS or the org reserve."""

from __future__ import annotations

from dataclasses import dataclass

from typing import Iterator

from ..aws_catalog import AWS_RESERVED_PREFIXES
from ..changes import AccessEntryCreated, AccessEntryUpdated
from ..findings import Violation
from .base import RuleSettings, rule, who


@dataclass(frozen=True)
class ReservedPrefixSettings(RuleSettings):
    #: Added to AWS's own (`system:`, `eks:`, `aws:`, `amazon:`, `iam:`), e.g. `platform:`.
    prefixes: tuple[str, ...] = ()


@rule(
    "reserved-prefix",
    summary="username or Kubernetes group starts with a reserved prefix",
    settings=ReservedPrefixSettings,
    handles=(AccessEntryCreated, AccessEntryUpdated),
    severity="high",
)
def check(change: AccessEntryCreated | AccessEntryUpdated, settings: ReservedPrefixSettings, org) -> Iterator[Violation]:
    prefixes = AWS_RESERVED_PREFIXES + settings.prefixes
    verb = "created" if isinstance(change, AccessEntryCreated) else "updated"
    if change.username:
        prefix = _reserved(change.username, prefixes)
        if prefix:
            yield Violation(
                f"{who(change)} {verb} the access entry of {change.principal_arn} on cluster {change.cluster} "
                f"with username {change.username!r}, which starts with the reserved prefix {prefix!r}"
            )
    for group in change.kubernetes_groups or ():
        prefix = _reserved(group, prefixes)
        if prefix:
            yield Violation(
                f"{who(change)} {verb} the access entry of {change.principal_arn} on cluster {change.cluster} "
                f"with Kubernetes group {group!r}, which starts with the reserved prefix {prefix!r}"
            )


def _reserved(name: str, prefixes: tuple[str, ...]) -> str | None:
    return next((p for p in prefixes if name.startswith(p)), None)
