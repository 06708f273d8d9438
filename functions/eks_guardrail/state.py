"""What an access entry and a cluster look like right now, as read from the EKS API.

The same shapes serve the ledger (last known good state), lockout protection and the
sweep. Plain frozen dataclasses: no boto3 types leak past the adapters.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Mapping


@dataclass(frozen=True)
class Association:
    policy_arn: str
    scope_type: str  # "cluster" | "namespace"
    namespaces: tuple[str, ...] = ()
    #: When the association last changed (not kept in the ledger).
    modified_at: datetime | None = field(default=None, compare=False)

    def access_scope(self) -> dict[str, Any]:
        scope: dict[str, Any] = {"type": self.scope_type}
        if self.scope_type == "namespace":
            scope["namespaces"] = list(self.namespaces)
        return scope

    def describe(self) -> str:
        where = f"namespaces {', '.join(self.namespaces)}" if self.scope_type == "namespace" else "cluster-wide"
        return f"{self.policy_arn.rsplit('/', 1)[-1]} ({where})"


@dataclass(frozen=True)
class EntryState:
    cluster: str
    principal_arn: str
    entry_type: str
    username: str | None
    groups: tuple[str, ...]
    tags: Mapping[str, str]
    associations: tuple[Association, ...] = ()
    created_at: datetime | None = field(default=None, compare=False)
    modified_at: datetime | None = field(default=None, compare=False)
    #: The access entry's own ARN (its tags' resource); not kept in the ledger.
    arn: str | None = field(default=None, compare=False)

    def association(self, policy_arn: str) -> Association | None:
        return next((a for a in self.associations if a.policy_arn == policy_arn), None)

    def with_associations(self, associations: tuple[Association, ...]) -> "EntryState":
        return replace(self, associations=associations)


@dataclass(frozen=True)
class ClusterState:
    name: str
    authentication_mode: str | None
    tags: Mapping[str, str]
    #: CREATING, ACTIVE, UPDATING, ... (None when not known).
    status: str | None = None
    arn: str | None = None
