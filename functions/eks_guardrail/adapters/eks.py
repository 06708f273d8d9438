"""The EKS access-entry API behind a small interface, with "not found" as a normal answer."""

from __future__ import annotations

from typing import Any, Callable, Iterator

from botocore.exceptions import ClientError

from ..state import Association, ClusterState, EntryState

NOT_FOUND = "ResourceNotFoundException"


def is_not_found(error: ClientError) -> bool:
    return error.response.get("Error", {}).get("Code") == NOT_FOUND


class EksAccessEntries:
    """Reads and writes access entries of one region's clusters through a boto3 EKS client.

    The client should be created with standard or adaptive retries (see `clients.py`):
    throttling and 5xx answers are retried there, with backoff.
    """

    def __init__(self, eks_client: Any):
        self._eks = eks_client

    # --- reads ------------------------------------------------------------------------------

    def describe_cluster(self, cluster: str) -> ClusterState | None:
        try:
            data = self._eks.describe_cluster(name=cluster)["cluster"]
        except ClientError as error:
            if is_not_found(error):
                return None
            raise
        return ClusterState(
            name=cluster,
            authentication_mode=(data.get("accessConfig") or {}).get("authenticationMode"),
            tags=data.get("tags") or {},
            status=data.get("status"),
            arn=data.get("arn"),
        )

    def list_clusters(self) -> Iterator[str]:
        for page in self._eks.get_paginator("list_clusters").paginate():
            yield from page.get("clusters", [])

    def list_principals(self, cluster: str, associated_policy_arn: str | None = None) -> list[str]:
        kwargs: dict[str, Any] = {"clusterName": cluster}
        if associated_policy_arn:
            kwargs["associatedPolicyArn"] = associated_policy_arn
        principals: list[str] = []
        for page in self._eks.get_paginator("list_access_entries").paginate(**kwargs):
            principals.extend(page.get("accessEntries", []))
        return principals

    def associations(self, cluster: str, principal_arn: str) -> tuple[Association, ...]:
        """The entry's policy associations; none when the entry does not exist (any more)."""
        try:
            pages = list(self._eks.get_paginator("list_associated_access_policies").paginate(clusterName=cluster, principalArn=principal_arn))
        except ClientError as error:
            if is_not_found(error):
                return ()
            raise
        found: list[Association] = []
        for page in pages:
            for item in page.get("associatedAccessPolicies", []):
                scope = item.get("accessScope") or {}
                found.append(
                    Association(
                        policy_arn=item["policyArn"],
                        scope_type=scope.get("type", "cluster"),
                        namespaces=tuple(scope.get("namespaces") or ()),
                        modified_at=item.get("modifiedAt"),
                    )
                )
        return tuple(found)

    def describe_entry(self, cluster: str, principal_arn: str, *, with_associations: bool = True) -> EntryState | None:
        """The entry as it is now, or None when it does not exist."""
        try:
            data = self._eks.describe_access_entry(clusterName=cluster, principalArn=principal_arn)["accessEntry"]
            entry = EntryState(
                cluster=cluster,
                principal_arn=data["principalArn"],
                entry_type=data.get("type", "STANDARD"),
                username=data.get("username"),
                groups=tuple(data.get("kubernetesGroups") or ()),
                tags=data.get("tags") or {},
                created_at=data.get("createdAt"),
                modified_at=data.get("modifiedAt"),
                arn=data.get("accessEntryArn"),
            )
            if with_associations and entry.entry_type == "STANDARD":
                entry = entry.with_associations(self.associations(cluster, principal_arn))
            return entry
        except ClientError as error:
            if is_not_found(error):
                return None
            raise

    # --- writes: each returns False when the target was already gone ---------------------------

    def delete_entry(self, cluster: str, principal_arn: str) -> bool:
        try:
            self._eks.delete_access_entry(clusterName=cluster, principalArn=principal_arn)
            return True
        except ClientError as error:
            if is_not_found(error):
                return False
            raise

    def update_entry(self, cluster: str, principal_arn: str, *, username: str | None, groups: tuple[str, ...]) -> bool:
        kwargs: dict[str, Any] = {"clusterName": cluster, "principalArn": principal_arn, "kubernetesGroups": list(groups)}
        if username:
            kwargs["username"] = username
        try:
            self._eks.update_access_entry(**kwargs)
            return True
        except ClientError as error:
            if is_not_found(error):
                return False
            raise

    def create_entry(self, entry: EntryState, *, with_associations: bool = True) -> None:
        kwargs: dict[str, Any] = {"clusterName": entry.cluster, "principalArn": entry.principal_arn, "type": entry.entry_type}
        if entry.entry_type == "STANDARD":
            if entry.username:
                kwargs["username"] = entry.username
            if entry.groups:
                kwargs["kubernetesGroups"] = list(entry.groups)
        if entry.tags:
            kwargs["tags"] = dict(entry.tags)
        self._eks.create_access_entry(**kwargs)
        for association in entry.associations if with_associations else ():
            self.associate(entry.cluster, entry.principal_arn, association)

    def associate(self, cluster: str, principal_arn: str, association: Association) -> None:
        self._eks.associate_access_policy(
            clusterName=cluster,
            principalArn=principal_arn,
            policyArn=association.policy_arn,
            accessScope=association.access_scope(),
        )

    def tags_of(self, resource_arn: str) -> dict[str, str] | None:
        """The resource's tags now; None when it no longer exists."""
        try:
            return dict(self._eks.list_tags_for_resource(resourceArn=resource_arn).get("tags") or {})
        except ClientError as error:
            if is_not_found(error):
                return None
            raise

    def untag(self, resource_arn: str, keys: list[str]) -> bool:
        try:
            self._eks.untag_resource(resourceArn=resource_arn, tagKeys=keys)
            return True
        except ClientError as error:
            if is_not_found(error):
                return False
            raise

    def disassociate(self, cluster: str, principal_arn: str, policy_arn: str) -> bool:
        try:
            self._eks.disassociate_access_policy(clusterName=cluster, principalArn=principal_arn, policyArn=policy_arn)
            return True
        except ClientError as error:
            if is_not_found(error):
                return False
            raise


def eks_access_for(clients: Any) -> Callable[[str], EksAccessEntries]:
    """`region -> EksAccessEntries` over a `ClientFactory` (one cached client per region)."""
    return lambda region: EksAccessEntries(clients.client("eks", region))
