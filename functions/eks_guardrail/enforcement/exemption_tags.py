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

#: EKS writes the tag guard makes.
PERMISSIONS: tuple[str, ...] = ("eks:UntagResource",)


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
