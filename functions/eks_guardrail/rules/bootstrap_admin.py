"""bootstrap-admin: cluster creators should not get a permanent cluster-admin entry."""

from __future__ import annotations

from dataclasses import dataclass

from typing import Iterator

from ..changes import ClusterCreated
from ..findings import Violation
from .base import RuleSettings, rule, who


@dataclass(frozen=True)
class BootstrapAdminSettings(RuleSettings):
    pass


@rule(
    "bootstrap-admin",
    summary="a cluster is created with bootstrapClusterCreatorAdminPermissions=true",
    settings=BootstrapAdminSettings,
    handles=(ClusterCreated,),
    severity="medium",
)
def check(change: ClusterCreated, settings: BootstrapAdminSettings, org) -> Iterator[Violation]:
    if change.bootstrap_cluster_creator_admin:
        default = " (the API default, as accessConfig was not given)" if change.access_config_defaulted else ""
        yield Violation(
            f"{who(change)} created cluster {change.cluster} with bootstrapClusterCreatorAdminPermissions=true"
            f"{default}: the creator {change.meta.actor.principal_arn} holds AmazonEKSClusterAdminPolicy "
            f"through an access entry nobody asked for",
            principal_arn=change.meta.actor.principal_arn or None,
        )
