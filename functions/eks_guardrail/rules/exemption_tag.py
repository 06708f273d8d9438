"""exemption-tag: only the principals of `exemptions.tag.set_by` may set the exemption tag.

Tags are self-service for anyone allowed `eks:TagResource`: an exemption tag anyone could
set would let them exempt their own later changes. The guardrail honours the tag only where
an allowed principal set it; set by anyone else, the tag is itself a violation (rollback:
remove it).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

from ..arns import matches_any
from ..changes import AccessEntryCreated, ClusterCreated, ResourceTagged
from ..findings import Violation
from .base import RuleSettings, rule, who


@dataclass(frozen=True)
class ExemptionTagSettings(RuleSettings):
    pass


@rule(
    "exemption-tag",
    summary="the exemption tag is set by a principal not allowed to set it (exemptions.tag.set_by)",
    settings=ExemptionTagSettings,
    handles=(ResourceTagged, AccessEntryCreated, ClusterCreated),
    severity="high",
    judges_node_entries=True,
)
def check(change: ResourceTagged | AccessEntryCreated | ClusterCreated, settings: ExemptionTagSettings, org) -> Iterator[Violation]:
    tag = org.exemptions.tag
    if tag is None or tag.key not in change.tags:
        return
    if change.meta.actor.identity_type == "Sweep" or may_set_exemption_tag(org, change.meta.actor.principal_arn):
        return
    if isinstance(change, ResourceTagged):
        where = change.resource_arn
    elif isinstance(change, AccessEntryCreated):
        where = f"the new access entry of {change.principal_arn} on cluster {change.cluster}"
    else:
        where = f"the new cluster {change.cluster}"
    yield Violation(
        f"{who(change)} set the exemption tag {tag.key}={change.tags[tag.key]} on {where}; only "
        f"{', '.join(tag.set_by)} may set it, so it is not honoured"
    )


def may_set_exemption_tag(org, principal_arn: str) -> bool:
    tag = org.exemptions.tag
    return tag is not None and bool(principal_arn) and matches_any(tag.set_by, principal_arn)
