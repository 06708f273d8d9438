"""prefer-roles: STANDARD entries should map IAM roles, not long-lived IAM users."""

from __future__ import annotations

from dataclasses import dataclass

from typing import Iterator

from ..arns import matches_any, parse_principal_arn
from ..changes import AccessEntryCreated
from ..findings import Violation
from .base import ArnPattern, RuleSettings, rule, who


@dataclass(frozen=True)
class PreferRolesSettings(RuleSettings):
    #: IAM users allowed anyway (break-glass users), as ARN patterns.
    allow: tuple[ArnPattern, ...] = ()


@rule(
    "prefer-roles",
    summary="a STANDARD access entry maps an IAM user instead of a role",
    settings=PreferRolesSettings,
    handles=(AccessEntryCreated,),
    severity="medium",
)
def check(change: AccessEntryCreated, settings: PreferRolesSettings, org) -> Iterator[Violation]:
    principal = parse_principal_arn(change.principal_arn)
    if principal is None or not principal.is_user or matches_any(settings.allow, change.principal_arn):
        return
    yield Violation(
        f"{who(change)} created an access entry on cluster {change.cluster} for the IAM user "
        f"{change.principal_arn}; the organisation grants cluster access to IAM roles only "
        f"(users with long-lived keys are not on the prefer-roles allow-list)"
    )
