"""required-tags: access entries carry the tags the org requires (owner, ticket, ...)."""

from __future__ import annotations

from dataclasses import dataclass

from typing import Iterator

from ..changes import AccessEntryCreated
from ..findings import Violation
from .base import AlertOnlySettings, rule, who


@dataclass(frozen=True)
class RequiredTagsSettings(AlertOnlySettings):
    tags: tuple[str, ...] = ()


@rule(
    "required-tags",
    summary="an access entry lacks tags the organisation requires",
    settings=RequiredTagsSettings,
    handles=(AccessEntryCreated,),
    severity="low",
    judges_node_entries=True,
)
def check(change: AccessEntryCreated, settings: RequiredTagsSettings, org) -> Iterator[Violation]:
    missing = [tag for tag in settings.tags if tag not in change.tags]
    if missing:
        yield Violation(
            f"{who(change)} created the access entry of {change.principal_arn} on cluster {change.cluster} "
            f"without the required tag(s) {', '.join(missing)}"
        )
