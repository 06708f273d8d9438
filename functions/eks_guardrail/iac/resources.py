"""A planned resource as the typed changes the event path builds, and the builders the
shared `planned_changes.py` does not have (clusters, entry updates and deletions)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

from ..changes import (
    AccessEntryDeleted,
    AccessEntryUpdated,
    AccessPolicyDisassociated,
    Actor,
    Change,
    ClusterConfigUpdated,
    ClusterCreated,
    EventMeta,
    ResourceTagged,
)
from ..planned_changes import planned_meta

#: The unknown "field" when neither --account nor the input says which account the cluster is in
#: (only cross-account reads it).
UNKNOWN_ACCOUNT = "account"
#: A cluster name only ever appears in messages: unknown, it is shown as this, never judged.
UNKNOWN_NAME = "(known after apply)"

#: Neither a plan nor a template says who will apply it: rules print "an unknown caller", no
#: exemption by principal or by a tag `set_by` someone applies to the creator.
IAC_ACTOR_TYPE = "Unknown"


def dig(value: Any, path: tuple[str | int, ...]) -> Any:
    """The value at `path` in nested mappings and lists (keys and indexes), None where it stops."""
    for step in path:
        if isinstance(step, int):
            value = value[step] if isinstance(value, list) and len(value) > step else None
        else:
            value = value.get(step) if isinstance(value, Mapping) else None
        if value is None:
            return None
    return value


def dotted(path: tuple[str | int, ...]) -> str:
    """`Properties.AccessPolicies[0].PolicyArn` for a path of keys and indexes."""
    return "".join(f"[{step}]" if isinstance(step, int) else f".{step}" for step in path).lstrip(".")


@dataclass(frozen=True)
class Where:
    """Where a resource is written: the file, its Terraform address or CloudFormation logical id, a line."""

    file: str
    resource: str
    line: int | None = None


@dataclass(frozen=True)
class PlannedResource:
    where: Where
    #: What applying it does, as the changes CloudTrail would record (empty: nothing a rule judges).
    changes: tuple[Change, ...] = ()
    #: Fields a rule would read whose values are not known before applying: the resource is undecided.
    unknown: tuple[str, ...] = ()


@dataclass(frozen=True)
class Context:
    """What the command line says about where the IaC will be applied."""

    account: str = ""
    region: str = ""
    parameters: Mapping[str, str] = field(default_factory=dict)


def iac_meta(event_name: str, where: Where, *, account: str, region: str) -> EventMeta:
    actor = Actor(IAC_ACTOR_TYPE, "", account)
    return planned_meta(event_name, ref=f"{where.file}#{where.resource}", account=account, region=region, actor=actor)


def planned_cluster(
    *, name: str, authentication_mode: str, bootstrap_admin: bool, defaulted: bool, tags: Mapping[str, str], meta: EventMeta
) -> ClusterCreated:
    return ClusterCreated(
        meta=meta, cluster=name, authentication_mode=authentication_mode, bootstrap_cluster_creator_admin=bootstrap_admin,
        access_config_defaulted=defaulted, tags=dict(tags),
    )


def planned_cluster_update(*, name: str, authentication_mode: str | None, meta: EventMeta) -> ClusterConfigUpdated:
    return ClusterConfigUpdated(meta=meta, cluster=name, authentication_mode=authentication_mode)


def planned_entry_update(
    *, cluster: str, principal_arn: str, username: str | None, groups: tuple[str, ...] | None, entry_type: str | None, meta: EventMeta
) -> AccessEntryUpdated:
    return AccessEntryUpdated(
        meta=meta, cluster=cluster, principal_arn=principal_arn, username=username, kubernetes_groups=groups, entry_type=entry_type
    )


def planned_entry_deletion(*, cluster: str, principal_arn: str, meta: EventMeta) -> AccessEntryDeleted:
    return AccessEntryDeleted(meta=meta, cluster=cluster, principal_arn=principal_arn)


def planned_disassociation(*, cluster: str, principal_arn: str, policy_arn: str, meta: EventMeta) -> AccessPolicyDisassociated:
    return AccessPolicyDisassociated(meta=meta, cluster=cluster, principal_arn=principal_arn, policy_arn=policy_arn)


def planned_tagging(*, resource_arn: str, tags: Mapping[str, str], meta: EventMeta) -> ResourceTagged:
    return ResourceTagged(meta=meta, resource_arn=resource_arn, tags=dict(tags))
