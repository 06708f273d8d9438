"""Exemption tags that cannot be self-served: honoured only where an allowed principal set them.

The handler watches `TagResource`/`UntagResource` (and the tags given at creation). When a
principal of `exemptions.tag.set_by` sets the exemption tag, the resource is recorded as
granted; set by anyone else, the tag is not honoured, the grant (if any) is revoked, and in
`enforce` the tag is removed again (`exemption-tag: rollback`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Protocol

from ..adapters.eks import EksAccessEntries
from ..changes import AccessEntryCreated, Change, ClusterCreated, ResourceTagged, ResourceUntagged
from ..config import OrgRules
from ..findings import Finding
from ..rules.exemption_tag import may_set_exemption_tag
from .reconcile import Remedy
from .rollbacks.base import ALREADY_UNDONE, ROLLED_BACK, RollbackResult

#: EKS calls the tag guard makes (reading a resource's tags again when it retries a removal).
PERMISSIONS: tuple[str, ...] = ("eks:UntagResource", "eks:ListTagsForResource")


def cluster_of(resource_arn: str) -> str:
    """The cluster of `arn:...:cluster/NAME` or `arn:...:access-entry/NAME/...`."""
    return resource_arn.split(":", 5)[-1].partition("/")[2].split("/", 1)[0]


class Grants(Protocol):
    def granted(self, resource_arn: str, value: str) -> bool: ...
    def grant(self, resource_arn: str, value: str, *, set_by: str) -> None: ...
    def revoke(self, resource_arn: str) -> None: ...


@dataclass
class TagGuard:
    org: OrgRules
    grants: Grants

    def handles(self, change: Change) -> bool:
        return isinstance(change, (ResourceTagged, ResourceUntagged))

    def trusted(self, resource_arn: str | None, tags: Mapping[str, str]) -> Mapping[str, str]:
        """`tags`, without the exemption tag unless an allowed principal set it on this resource."""
        tag = self.org.exemptions.tag
        if tag is None or tag.key not in tags:
            return tags
        if resource_arn and self.grants.granted(resource_arn, tags[tag.key]):
            return tags
        return {k: v for k, v in tags.items() if k != tag.key}

    def enforce(self, change: Any, findings: list[Finding], eks: EksAccessEntries) -> list[Remedy]:
        """A `TagResource`/`UntagResource` event, or a create event's tags."""
        tag = self.org.exemptions.tag
        if tag is None:
            return []
        if isinstance(change, ResourceUntagged):
            if tag.key in change.tag_keys:
                self.grants.revoke(change.resource_arn)
            return []
        if tag.key not in change.tags:
            return []
        resource = self._resource_arn(change, eks)
        actor = change.meta.actor.principal_arn
        if may_set_exemption_tag(self.org, actor):
            if resource:
                self.grants.grant(resource, change.tags[tag.key], set_by=actor)
            return []
        if resource:
            self.grants.revoke(resource)
        to_undo = [f for f in findings if f.rule == "exemption-tag" and f.action == "rollback"]
        if not to_undo or not resource:
            return []
        if eks.untag(resource, [tag.key]):
            result = RollbackResult(ROLLED_BACK, f"removed the exemption tag {tag.key} from {resource}")
        else:
            result = RollbackResult(ALREADY_UNDONE, f"{resource} no longer exists")
        return [Remedy("exemption-tag", None, result)]

    def remove_untrusted(self, resource_arn: str, eks: EksAccessEntries) -> Remedy | None:
        """Retry of a removal that failed: the tag as it is now, removed unless an allowed
        principal set it since (None: nothing left to do)."""
        tag = self.org.exemptions.tag
        if tag is None:
            return None
        tags = eks.tags_of(resource_arn)
        if tags is None or tag.key not in tags or self.grants.granted(resource_arn, tags[tag.key]):
            return None
        eks.untag(resource_arn, [tag.key])
        return Remedy("exemption-tag", None, RollbackResult(ROLLED_BACK, f"removed the exemption tag {tag.key} from {resource_arn}"))

    def owner(self, resource_arn: str, eks: EksAccessEntries) -> tuple[str, str]:
        """(cluster, pending-decision key) of a tagged resource: the entry's principal, or
        `tag:<ARN>` for a cluster (or an entry that is gone)."""
        cluster = cluster_of(resource_arn)
        if ":access-entry/" in resource_arn:
            for principal in eks.list_principals(cluster):
                entry = eks.describe_entry(cluster, principal, with_associations=False)
                if entry is not None and entry.arn == resource_arn:
                    return cluster, principal
        return cluster, f"tag:{resource_arn}"

    def _resource_arn(self, change: Any, eks: EksAccessEntries) -> str | None:
        if isinstance(change, ResourceTagged):
            return change.resource_arn
        if isinstance(change, AccessEntryCreated):
            if change.access_entry_arn:
                return change.access_entry_arn
            entry = eks.describe_entry(change.cluster, change.principal_arn, with_associations=False)
            return entry.arn if entry else None
        if isinstance(change, ClusterCreated):
            cluster = eks.describe_cluster(change.cluster)
            return cluster.arn if cluster else None
        return None
