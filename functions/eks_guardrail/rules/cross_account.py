"""cross-account: access only for principals of this account or trusted accounts."""

from __future__ import annotations

from dataclasses import dataclass

from typing import Iterator

from ..arns import parse_principal_arn
from ..changes import AccessEntryCreated
from ..findings import Violation
from .base import RuleSettings, rule, who


@dataclass(frozen=True)
class CrossAccountSettings(RuleSettings):
    pass


@rule(
    "cross-account",
    summary="the principal lives in an account that is not trusted",
    settings=CrossAccountSettings,
    handles=(AccessEntryCreated,),
    severity="critical",
    judges_node_entries=True,
)
def check(change: AccessEntryCreated, settings: CrossAccountSettings, org) -> Iterator[Violation]:
    principal = parse_principal_arn(change.principal_arn)
    if principal is None or not change.meta.account:
        return  # a partial record without its account cannot be judged
    if principal.account != change.meta.account and principal.account not in org.trusted_accounts:
        yield Violation(
            f"{who(change)} granted {change.principal_arn} from account {principal.account} access to cluster "
            f"{change.cluster} in account {change.meta.account}; that account is not in trusted_accounts"
        )
