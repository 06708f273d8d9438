"""Which condition keys each EKS action carries, and of what type: the table every statement is checked against.

Source: docs/aws-facts.md D (the Service Authorization Reference for Amazon EKS, through its
generated copies). An action carries its own *request* keys, and, when it targets an existing
access entry, the keys of the `access-entry` resource (`eks:principalArn`, `eks:username`,
`eks:kubernetesGroups`, `eks:accessEntryType`, `eks:clusterName`, `aws:ResourceTag/…`). On
those actions the entry keys describe **the entry as it is**, not what the request asks
for: on `UpdateAccessEntry`, `eks:username` is the old username, never the new one.

`eks:TagResource` is not in docs/aws-facts.md D; its keys (`aws:RequestTag/…`, `aws:TagKeys`,
and the access-entry keys of a tagged entry) come from the same generated copy of the
Service Authorization Reference (udondan/iam-floyd `lib/generated/policy-statements/eks.ts`,
"Applies to actions" of each key).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

KeyType = Literal["ARN", "String", "Bool", "ArrayOfString"]


@dataclass(frozen=True)
class ConditionKey:
    name: str
    type: KeyType

    @property
    def multi_valued(self) -> bool:
        return self.type.startswith("ArrayOf")


KEYS: dict[str, ConditionKey] = {
    key.name.lower(): key
    for key in (
        ConditionKey("eks:principalArn", "ARN"),
        ConditionKey("eks:policyArn", "ARN"),
        ConditionKey("eks:kubernetesGroups", "ArrayOfString"),
        ConditionKey("eks:namespaces", "ArrayOfString"),
        ConditionKey("eks:accessScope", "String"),
        ConditionKey("eks:accessEntryType", "String"),
        ConditionKey("eks:username", "String"),
        ConditionKey("eks:clusterName", "String"),
        ConditionKey("eks:authenticationMode", "String"),
        ConditionKey("eks:bootstrapClusterCreatorAdminPermissions", "Bool"),
        ConditionKey("aws:TagKeys", "ArrayOfString"),
        ConditionKey("aws:RequestTag/", "String"),  # aws:RequestTag/${TagKey}
        ConditionKey("aws:ResourceTag/", "String"),  # aws:ResourceTag/${TagKey}
        # Global keys: in the context of every request.
        ConditionKey("aws:PrincipalArn", "ARN"),
        ConditionKey("aws:PrincipalAccount", "String"),
    )
}

GLOBAL_KEYS = frozenset({"aws:principalarn", "aws:principalaccount"})

#: The keys of the `access-entry` resource type: available on every action that targets an
#: existing entry, where they describe the entry as it is.
ACCESS_ENTRY_KEYS = frozenset(
    {"eks:principalarn", "eks:username", "eks:kubernetesgroups", "eks:accessentrytype", "eks:clustername", "aws:resourcetag/"}
)

#: action -> the keys it carries (lower case; `aws:RequestTag/` stands for every tag key).
ACTION_KEYS: dict[str, frozenset[str]] = {
    # Request keys: what the new entry will be.
    "eks:CreateAccessEntry": frozenset(
        {"eks:principalarn", "eks:kubernetesgroups", "eks:username", "eks:accessentrytype", "aws:requesttag/", "aws:tagkeys"}
    ),
    "eks:AssociateAccessPolicy": frozenset({"eks:accessscope", "eks:namespaces", "eks:policyarn"}) | ACCESS_ENTRY_KEYS,
    "eks:DisassociateAccessPolicy": frozenset({"eks:accessscope", "eks:namespaces", "eks:policyarn"}) | ACCESS_ENTRY_KEYS,
    # No request keys at all: not the new username, not the new groups.
    "eks:UpdateAccessEntry": ACCESS_ENTRY_KEYS,
    "eks:DeleteAccessEntry": ACCESS_ENTRY_KEYS,
    "eks:DescribeAccessEntry": ACCESS_ENTRY_KEYS,
    "eks:ListAssociatedAccessPolicies": ACCESS_ENTRY_KEYS,
    "eks:CreateCluster": frozenset(
        {"eks:authenticationmode", "eks:bootstrapclustercreatoradminpermissions", "aws:requesttag/", "aws:tagkeys"}
    ),
    # The bootstrap key exists only on CreateCluster.
    "eks:UpdateClusterConfig": frozenset({"eks:authenticationmode"}),
    "eks:TagResource": frozenset({"aws:requesttag/", "aws:tagkeys"}) | ACCESS_ENTRY_KEYS,
}


def key_of(name: str) -> ConditionKey | None:
    """The table's entry for a key name (case-insensitive, as IAM reads them); tag keys by their prefix."""
    lowered = name.lower()
    for prefix in ("aws:requesttag/", "aws:resourcetag/"):
        if lowered.startswith(prefix) and len(lowered) > len(prefix):
            return KEYS[prefix]
    return KEYS.get(lowered)


def supports(action: str, key_name: str) -> bool:
    """Whether `action` carries `key_name` (global keys: every action)."""
    key = key_of(key_name)
    if key is None:
        return False
    table_name = key.name.lower()
    return table_name in GLOBAL_KEYS or table_name in ACTION_KEYS.get(action, frozenset())
