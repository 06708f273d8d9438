"""State and validation of the emulated EKS access entries (one backend per account and region).

Messages come from ``docs/aws-facts.md`` part E where AWS (or a public error report) shows them;
the others are marked "(not published by AWS)" and are plausible wordings only.
"""

from __future__ import annotations

import base64
import re
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from moto.core.base_backend import BackendDict, BaseBackend
from moto.eks.exceptions import (
    EKSError,
    InvalidParameterException as _MotoInvalidParameterException,
    InvalidRequestException as _MotoInvalidRequestException,
    ResourceInUseException as _MotoResourceInUseException,
    ResourceNotFoundException as _MotoResourceNotFoundException,
)

from eks_guardrail.aws_catalog import (
    ACCESS_ENTRY_TYPES,
    ACCESS_POLICY_ARN_PREFIX,
    ACCESS_POLICY_NAMES,
    SERVICE_LINKED_ONLY_POLICIES,
    AUTHENTICATION_MODES,
    AWS_RESERVED_PREFIXES,
    CLUSTER_ADMIN_POLICY,
    DEFAULT_AUTHENTICATION_MODE,
    DEFAULT_BOOTSTRAP_CLUSTER_CREATOR_ADMIN,
    NODE_ENTRY_TYPES,
    STANDARD,
    policy_arn,
)

# --------------------------------------------------------------------------------------------
# Errors: moto's EKS exceptions already answer in the rest-json form botocore parses
# (status, `x-amzn-ErrorType` header, JSON body with `message`).


def _error(cls: type, message: str, cluster_name: str | None = None) -> Exception:
    return cls(clusterName=cluster_name, message=message)


def invalid_parameter(message: str, cluster_name: str | None = None) -> Exception:
    return _error(_MotoInvalidParameterException, message, cluster_name)


def invalid_request(message: str, cluster_name: str | None = None) -> Exception:
    return _error(_MotoInvalidRequestException, message, cluster_name)


def resource_in_use(message: str, cluster_name: str | None = None) -> Exception:
    return _error(_MotoResourceInUseException, message, cluster_name)


def not_found(message: str, cluster_name: str | None = None) -> Exception:
    return _error(_MotoResourceNotFoundException, message, cluster_name)


class NotFoundException(EKSError):
    """What the tagging operations answer for an unknown resource (botocore: 404, `message`)."""

    TYPE = "NotFoundException"
    STATUS = 404


# aws-facts E (published).
MSG_ENTRY_IN_USE = "The specified access entry resource is already in use on this cluster."
MSG_AUTH_MODE = (
    "The cluster's authentication mode must be set to one of [API, API_AND_CONFIG_MAP] "
    "to perform this operation."
)
MSG_INVALID_PRINCIPAL = "The specified principalArn is invalid: invalid principal."
MSG_SERVICE_LINKED = (
    "The caller is not allowed to modify access entries with a principalArn value of a "
    "Service Linked Role"
)
MSG_SYSTEM_GROUP = "The kubernetes group name {group} is invalid, it cannot start with system:"
MSG_ONLY_STANDARD = (
    'This operation can only be performed on Access Entries with a type of "STANDARD".'
)
MSG_MODE_UPDATE = "Unsupported authentication mode update from {old} to {new}"
MSG_BOOTSTRAP_CONFIG_MAP = (
    "bootstrapClusterCreatorAdminPermissions must be true if cluster authentication mode "
    "is set to CONFIG_MAP"
)
# moto's own wording for a missing cluster (also what moto's DescribeCluster says).
MSG_CLUSTER_NOT_FOUND = "No cluster found for name: {name}."
# (not published by AWS)
MSG_ENTRY_NOT_FOUND = (
    "The specified access entry resource can't be found on cluster {name} "
    "for principalArn {principal}."
)
# (not published by AWS)
MSG_POLICY_NOT_ASSOCIATED = (
    "The specified access policy {policy} is not associated with the access entry for "
    "principalArn {principal}."
)
# (not published by AWS)
MSG_RESERVED_USERNAME = (
    "The username {username} is invalid, it cannot start with any of "
    + ", ".join(AWS_RESERVED_PREFIXES)
)
# (not published by AWS)
MSG_SESSION_NAME_COLON = (
    "The username {username} is invalid: {{{{SessionName}}}} and {{{{SessionNameRaw}}}} must "
    "be preceded by a colon somewhere in the username."
)
# (not published by AWS)
MSG_INVALID_TYPE = "The access entry type {type} is invalid. Valid types are: " + ", ".join(
    ACCESS_ENTRY_TYPES
)
# (not published by AWS)
MSG_NODE_TYPE_NEEDS_ROLE = (
    "Access entries of type {type} require an IAM role from the cluster's account "
    "as principalArn."
)
# (not published by AWS)
MSG_GROUPS_ONLY_STANDARD = (
    "kubernetesGroups can only be set on Access Entries with a type of \"STANDARD\"."
)
# (not published by AWS)
MSG_USERNAME_ONLY_STANDARD = "username can only be set on Access Entries with a type of \"STANDARD\"."
# (not published by AWS)
MSG_UNKNOWN_POLICY = "The specified policyArn {policy} is invalid: unknown access policy."
# (not published by AWS)
MSG_SERVICE_LINKED_ONLY_POLICY = (
    "The access policy {policy} can only be associated with AWS service-linked roles."  # (not published by AWS)
)
MSG_EMPTY_USERNAME = "username must not be empty."  # (not published by AWS)
MSG_NAMESPACES_REQUIRED = "accessScope.namespaces must be specified when accessScope.type is namespace."
# (not published by AWS)
MSG_NAMESPACES_NOT_ALLOWED = "accessScope.namespaces can't be specified when accessScope.type is cluster."
# (not published by AWS)
MSG_SCOPE_TYPE = "accessScope.type must be one of [cluster, namespace]."
# (not published by AWS)
MSG_AUTH_MODE_INVALID = "authenticationMode {mode} is invalid. Valid values are: " + ", ".join(
    AUTHENTICATION_MODES
)
# (not published by AWS)
MSG_RESOURCE_NOT_FOUND = "Resource was not found: {arn}"
# (not published by AWS)
MSG_NEXT_TOKEN = "The nextToken provided is invalid."
# (not published by AWS)
MSG_MAX_RESULTS = "maxResults must be between 1 and 100."

TAG_MAX_COUNT = 50
TAG_KEY_MAX = 128
TAG_VALUE_MAX = 256
# (not published by AWS; follow the model's TagMap constraints, aws-facts A)
MSG_TAGS_COUNT = "Tags must contain between 1 and 50 entries."
MSG_TAG_KEY = "Tag keys must be between 1 and 128 characters long: {key}"
MSG_TAG_VALUE = "Tag values can be at most 256 characters long (key {key})."

_PRINCIPAL_RE = re.compile(
    r"^arn:(?P<partition>aws[a-z-]*):iam::(?P<account>\d{12}):"
    r"(?P<kind>role|user)(?P<path>/(?:[^/]+/)*)(?P<name>[^/]+)$"
)
_ROOT_RE = re.compile(r"^arn:(?P<partition>aws[a-z-]*):iam::(?P<account>\d{12}):root$")
_STS_RE = re.compile(r"^arn:aws[a-z-]*:sts::")

NODE_DEFAULT_GROUPS: dict[str, list[str]] = {
    "EC2_LINUX": ["system:nodes", "system:bootstrappers"],
    "EC2_WINDOWS": ["system:nodes"],
}
NODE_DEFAULT_USERNAMES: dict[str, str] = {
    "EC2_LINUX": "system:node:{{EC2PrivateDNSName}}",
    "EC2_WINDOWS": "system:node:{{EC2PrivateDNSName}}",
    "EC2": "system:node:{{EC2PrivateDNSName}}",  # (inferred) Auto Mode node classes
    "FARGATE_LINUX": "system:node:{{SessionName}}",
    "HYBRID_LINUX": "system:node:{{SessionName}}",
    "HYPERPOD_LINUX": "system:node:{{SessionName}}",  # (inferred)
}


def now() -> datetime:
    return datetime.now(timezone.utc)


@dataclass
class Principal:
    arn: str
    account: str
    kind: str  # "role" | "user" | "root"
    name: str
    path: str = "/"


def parse_principal(arn: str) -> Principal | None:
    m = _PRINCIPAL_RE.match(arn or "")
    if m:
        return Principal(arn, m["account"], m["kind"], m["name"], m["path"])
    m = _ROOT_RE.match(arn or "")
    if m:
        return Principal(arn, m["account"], "root", "root", "/")
    return None


def iam_unique_id(principal: Principal) -> str | None:
    """The principal's current RoleId/UserId in moto's IAM (None if it does not exist)."""
    from moto.iam.models import iam_backends

    if principal.kind == "root":
        return principal.account
    iam = iam_backends[principal.account]["aws"]
    if principal.kind == "role":
        for role in iam.roles.values():
            if role.arn == principal.arn:
                return role.id
        return None
    for user in iam.users.values():
        if user.arn == principal.arn:
            return user.id
    return None


@dataclass
class Association:
    policy_arn: str
    access_scope: dict[str, Any]
    associated_at: datetime
    modified_at: datetime

    def to_dict(self) -> dict[str, Any]:
        return {
            "policyArn": self.policy_arn,
            "accessScope": self.access_scope,
            "associatedAt": self.associated_at,
            "modifiedAt": self.modified_at,
        }


@dataclass
class AccessEntry:
    cluster_name: str
    principal_arn: str
    type: str
    username: str
    kubernetes_groups: list[str]
    access_entry_arn: str
    created_at: datetime
    modified_at: datetime
    tags: dict[str, str]
    #: the IAM principal's unique id when the entry was created (hidden, as AWS keeps it)
    principal_id: str | None
    associations: dict[str, Association] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "clusterName": self.cluster_name,
            "principalArn": self.principal_arn,
            "kubernetesGroups": list(self.kubernetes_groups),
            "accessEntryArn": self.access_entry_arn,
            "createdAt": self.created_at,
            "modifiedAt": self.modified_at,
            "tags": dict(self.tags),
            "username": self.username,
            "type": self.type,
        }


def _encode_token(index: int) -> str:
    return base64.urlsafe_b64encode(f"v1:{index}".encode()).decode()


def _decode_token(token: str | None) -> int:
    if not token:
        return 0
    try:
        text = base64.urlsafe_b64decode(token.encode()).decode()
        prefix, index = text.split(":", 1)
        if prefix != "v1" or int(index) < 0:
            raise ValueError(token)
        return int(index)
    except (ValueError, UnicodeDecodeError, TypeError) as exc:
        raise invalid_parameter(MSG_NEXT_TOKEN) from exc


def paginate(items: list[Any], max_results: int | None, next_token: str | None) -> tuple[list[Any], str | None]:
    if max_results is None:
        max_results = 100
    if not 1 <= max_results <= 100:
        raise invalid_parameter(MSG_MAX_RESULTS)
    start = _decode_token(next_token)
    page = items[start : start + max_results]
    end = start + max_results
    return page, (_encode_token(end) if end < len(items) else None)


def validate_tags(tags: dict[str, str] | None, cluster_name: str | None = None) -> None:
    if tags is None:
        return
    if not 1 <= len(tags) <= TAG_MAX_COUNT:
        raise invalid_parameter(MSG_TAGS_COUNT, cluster_name)
    for key, value in tags.items():
        if not 1 <= len(key) <= TAG_KEY_MAX:
            raise invalid_parameter(MSG_TAG_KEY.format(key=key), cluster_name)
        if value is not None and len(value) > TAG_VALUE_MAX:
            raise invalid_parameter(MSG_TAG_VALUE.format(key=key), cluster_name)


def validate_username(username: str, cluster_name: str) -> None:
    if username == "":
        raise invalid_parameter(MSG_EMPTY_USERNAME, cluster_name)
    if any(username.startswith(p) for p in AWS_RESERVED_PREFIXES):
        raise invalid_parameter(MSG_RESERVED_USERNAME.format(username=username), cluster_name)
    for placeholder in ("{{SessionName}}", "{{SessionNameRaw}}"):
        pos = username.find(placeholder)
        if pos >= 0 and ":" not in username[:pos]:
            raise invalid_parameter(MSG_SESSION_NAME_COLON.format(username=username), cluster_name)


def validate_groups(groups: list[str], cluster_name: str) -> None:
    for group in groups:
        if group.startswith("system:"):
            raise invalid_parameter(MSG_SYSTEM_GROUP.format(group=group), cluster_name)


def default_username(principal: Principal, entry_type: str) -> str:
    if entry_type != STANDARD:
        return NODE_DEFAULT_USERNAMES.get(entry_type, "system:node:{{SessionName}}")
    if principal.kind == "role":
        return f"arn:aws:sts::{principal.account}:assumed-role/{principal.name}/{{{{SessionName}}}}"
    return principal.arn  # IAM user (and account root): the ARN itself


class AccessEntryBackend(BaseBackend):
    """Access entries of every cluster of one account in one region."""

    def __init__(self, region_name: str, account_id: str):
        super().__init__(region_name, account_id)
        self.entries: dict[str, dict[str, AccessEntry]] = {}

    # -- clusters -------------------------------------------------------------------------
    def _eks(self) -> Any:
        from moto.eks.models import eks_backends

        return eks_backends[self.account_id][self.region_name]

    def get_cluster(self, name: str) -> Any:
        cluster = self._eks().clusters.get(name)
        if cluster is None:
            raise not_found(MSG_CLUSTER_NOT_FOUND.format(name=name), name)
        return cluster

    @staticmethod
    def access_config(cluster: Any) -> dict[str, Any]:
        config = getattr(cluster, "access_config", None)
        if config is None:
            config = {
                "bootstrapClusterCreatorAdminPermissions": DEFAULT_BOOTSTRAP_CLUSTER_CREATOR_ADMIN,
                "authenticationMode": DEFAULT_AUTHENTICATION_MODE,
            }
            cluster.access_config = config
        return config

    @staticmethod
    def validate_create_access_config(access_config: dict[str, Any] | None, name: str) -> dict[str, Any]:
        access_config = dict(access_config or {})
        mode = access_config.get("authenticationMode", DEFAULT_AUTHENTICATION_MODE)
        bootstrap = access_config.get(
            "bootstrapClusterCreatorAdminPermissions", DEFAULT_BOOTSTRAP_CLUSTER_CREATOR_ADMIN
        )
        if mode not in AUTHENTICATION_MODES:
            raise invalid_parameter(MSG_AUTH_MODE_INVALID.format(mode=mode), name)
        if mode == "CONFIG_MAP" and not bootstrap:
            raise invalid_parameter(MSG_BOOTSTRAP_CONFIG_MAP, name)
        return {"bootstrapClusterCreatorAdminPermissions": bool(bootstrap), "authenticationMode": mode}

    def cluster_created(self, cluster: Any, access_config: dict[str, Any], creator_arn: str | None) -> None:
        """Store accessConfig on moto's cluster and bootstrap the creator's admin entry."""
        cluster.access_config = access_config
        self.entries[cluster.name] = {}
        if access_config["bootstrapClusterCreatorAdminPermissions"] and creator_arn:
            principal = parse_principal(creator_arn)
            if principal is None:
                return
            entry = self._new_entry(cluster.name, principal, STANDARD, None, None, None)
            ts = entry.created_at
            entry.associations[policy_arn(CLUSTER_ADMIN_POLICY)] = Association(
                policy_arn(CLUSTER_ADMIN_POLICY), {"type": "cluster", "namespaces": []}, ts, ts
            )
            self.entries[cluster.name][principal.arn] = entry

    def cluster_deleted(self, name: str) -> None:
        self.entries.pop(name, None)

    def update_access_config(self, name: str, access_config: dict[str, Any]) -> dict[str, Any]:
        cluster = self.get_cluster(name)
        config = self.access_config(cluster)
        new = access_config.get("authenticationMode")
        old = config["authenticationMode"]
        if new is None:
            new = old  # nothing to change (the call may carry other settings)
        elif new not in AUTHENTICATION_MODES:
            raise invalid_parameter(MSG_AUTH_MODE_INVALID.format(mode=new), name)
        allowed = {("CONFIG_MAP", "API_AND_CONFIG_MAP"), ("API_AND_CONFIG_MAP", "API")}
        if (old, new) not in allowed:
            # Published for CONFIG_MAP -> API; same wording assumed for the other refused moves.
            raise invalid_parameter(MSG_MODE_UPDATE.format(old=old, new=new), name)
        config["authenticationMode"] = new
        return {
            "id": str(uuid.uuid4()),
            "status": "Successful",
            "type": "AccessConfigUpdate",
            "params": [{"type": "AuthenticationMode", "value": new}],
            "createdAt": now(),
            "errors": [],
        }

    # -- access entries ---------------------------------------------------------------------
    def _api_cluster(self, name: str) -> dict[str, AccessEntry]:
        cluster = self.get_cluster(name)
        if self.access_config(cluster)["authenticationMode"] not in ("API", "API_AND_CONFIG_MAP"):
            raise invalid_request(MSG_AUTH_MODE, name)
        return self.entries.setdefault(name, {})

    def _entry(self, name: str, principal_arn: str) -> AccessEntry:
        entries = self._api_cluster(name)
        entry = entries.get(principal_arn)
        if entry is None:
            raise not_found(MSG_ENTRY_NOT_FOUND.format(name=name, principal=principal_arn), name)
        return entry

    def _new_entry(
        self,
        name: str,
        principal: Principal,
        entry_type: str,
        username: str | None,
        groups: list[str] | None,
        tags: dict[str, str] | None,
    ) -> AccessEntry:
        ts = now()
        if groups is None:
            groups = list(NODE_DEFAULT_GROUPS.get(entry_type, []))
        arn = (
            f"arn:{self.partition}:eks:{self.region_name}:{self.account_id}:access-entry/"
            f"{name}/{principal.kind}/{principal.account}/{principal.name}/{uuid.uuid4()}"
        )
        return AccessEntry(
            cluster_name=name,
            principal_arn=principal.arn,
            type=entry_type,
            username=username if username is not None else default_username(principal, entry_type),
            kubernetes_groups=list(groups),
            access_entry_arn=arn,
            created_at=ts,
            modified_at=ts,
            tags=dict(tags or {}),
            principal_id=iam_unique_id(principal),
        )

    def create_access_entry(
        self,
        name: str,
        principal_arn: str,
        kubernetes_groups: list[str] | None = None,
        tags: dict[str, str] | None = None,
        username: str | None = None,
        entry_type: str | None = None,
    ) -> AccessEntry:
        entries = self._api_cluster(name)
        entry_type = entry_type or STANDARD
        validate_tags(tags, name)
        if entry_type not in ACCESS_ENTRY_TYPES:
            raise invalid_parameter(MSG_INVALID_TYPE.format(type=entry_type), name)
        if principal_arn and "/aws-service-role/" in principal_arn and ":role/" in principal_arn:
            raise invalid_parameter(MSG_SERVICE_LINKED, name)
        if _STS_RE.match(principal_arn or ""):
            # STS session (assumed-role) ARNs are never valid principals (aws-facts A.0).
            raise invalid_parameter(MSG_INVALID_PRINCIPAL, name)
        principal = parse_principal(principal_arn)
        if principal is None:
            raise invalid_parameter(MSG_INVALID_PRINCIPAL, name)
        if entry_type in NODE_ENTRY_TYPES and (
            principal.kind != "role" or principal.account != self.account_id
        ):
            raise invalid_parameter(MSG_NODE_TYPE_NEEDS_ROLE.format(type=entry_type), name)
        if principal.account == self.account_id and iam_unique_id(principal) is None:
            raise invalid_parameter(MSG_INVALID_PRINCIPAL, name)
        if entry_type != STANDARD and kubernetes_groups:
            raise invalid_parameter(MSG_GROUPS_ONLY_STANDARD, name)
        if entry_type != STANDARD and username is not None:
            raise invalid_parameter(MSG_USERNAME_ONLY_STANDARD, name)
        if kubernetes_groups:
            validate_groups(kubernetes_groups, name)
        if username is not None:
            validate_username(username, name)
        if principal.arn in entries:
            raise resource_in_use(MSG_ENTRY_IN_USE, name)
        entry = self._new_entry(name, principal, entry_type, username, kubernetes_groups, tags)
        entries[principal.arn] = entry
        return entry

    def describe_access_entry(self, name: str, principal_arn: str) -> AccessEntry:
        return self._entry(name, principal_arn)

    def update_access_entry(
        self,
        name: str,
        principal_arn: str,
        kubernetes_groups: list[str] | None = None,
        username: str | None = None,
    ) -> AccessEntry:
        entry = self._entry(name, principal_arn)
        if entry.type != STANDARD and kubernetes_groups is not None:
            raise invalid_parameter(MSG_GROUPS_ONLY_STANDARD, name)
        if entry.type != STANDARD and username is not None:
            raise invalid_parameter(MSG_USERNAME_ONLY_STANDARD, name)
        if kubernetes_groups is not None:
            validate_groups(kubernetes_groups, name)
        if username is not None:
            validate_username(username, name)
            entry.username = username
        if kubernetes_groups is not None:
            entry.kubernetes_groups = list(kubernetes_groups)
        entry.modified_at = now()
        return entry

    def delete_access_entry(self, name: str, principal_arn: str) -> None:
        self._entry(name, principal_arn)
        # Deleting an entry deletes its policy associations with it (aws-facts B).
        del self.entries[name][principal_arn]

    def list_access_entries(
        self,
        name: str,
        associated_policy_arn: str | None = None,
        max_results: int | None = None,
        next_token: str | None = None,
    ) -> tuple[list[str], str | None]:
        entries = self._api_cluster(name)
        arns = [
            arn
            for arn, entry in entries.items()
            if associated_policy_arn is None or associated_policy_arn in entry.associations
        ]
        return paginate(arns, max_results, next_token)

    def _standard_entry(self, name: str, principal_arn: str) -> AccessEntry:
        entry = self._entry(name, principal_arn)
        if entry.type != STANDARD:
            raise invalid_parameter(MSG_ONLY_STANDARD, name)
        return entry

    def associate_access_policy(
        self, name: str, principal_arn: str, policy: str, access_scope: dict[str, Any]
    ) -> Association:
        entry = self._standard_entry(name, principal_arn)
        if not policy.startswith(ACCESS_POLICY_ARN_PREFIX) or policy[len(ACCESS_POLICY_ARN_PREFIX):] not in ACCESS_POLICY_NAMES:
            raise invalid_parameter(MSG_UNKNOWN_POLICY.format(policy=policy), name)
        if policy[len(ACCESS_POLICY_ARN_PREFIX):] in SERVICE_LINKED_ONLY_POLICIES:
            # Access entries of service-linked roles cannot be created by callers at all
            # (aws-facts B), so no caller-made entry may hold these (aws-facts C).
            raise invalid_parameter(MSG_SERVICE_LINKED_ONLY_POLICY.format(policy=policy), name)
        scope_type = (access_scope or {}).get("type")
        namespaces = list((access_scope or {}).get("namespaces") or [])
        if scope_type not in ("cluster", "namespace"):
            raise invalid_parameter(MSG_SCOPE_TYPE, name)
        if scope_type == "namespace" and not namespaces:
            raise invalid_parameter(MSG_NAMESPACES_REQUIRED, name)
        if scope_type == "cluster" and namespaces:
            raise invalid_parameter(MSG_NAMESPACES_NOT_ALLOWED, name)
        scope = {"type": scope_type, "namespaces": namespaces}
        ts = now()
        assoc = entry.associations.get(policy)
        if assoc is None:
            assoc = Association(policy, scope, ts, ts)
            entry.associations[policy] = assoc
        else:
            # Re-associating changes the scope; associatedAt stays (aws-facts B).
            assoc.access_scope = scope
            assoc.modified_at = ts
        return assoc

    def disassociate_access_policy(self, name: str, principal_arn: str, policy: str) -> None:
        entry = self._standard_entry(name, principal_arn)
        if policy not in entry.associations:
            raise not_found(
                MSG_POLICY_NOT_ASSOCIATED.format(policy=policy, principal=principal_arn), name
            )
        del entry.associations[policy]

    def list_associated_access_policies(
        self, name: str, principal_arn: str, max_results: int | None, next_token: str | None
    ) -> tuple[list[Association], str | None]:
        # ACK met the "STANDARD only" error while reading policies of a node entry (aws-facts E).
        entry = self._standard_entry(name, principal_arn)
        return paginate(list(entry.associations.values()), max_results, next_token)

    # -- tags on access entries (TagResource & co. take the accessEntryArn) ------------------
    def entry_by_arn(self, arn: str) -> AccessEntry:
        for entries in self.entries.values():
            for entry in entries.values():
                if entry.access_entry_arn == arn:
                    return entry
        raise NotFoundException(message=MSG_RESOURCE_NOT_FOUND.format(arn=arn))

    def tag_entry(self, arn: str, tags: dict[str, str]) -> None:
        entry = self.entry_by_arn(arn)
        merged = {**entry.tags, **(tags or {})}
        validate_tags(merged, entry.cluster_name)
        entry.tags = merged

    def untag_entry(self, arn: str, keys: list[str]) -> None:
        entry = self.entry_by_arn(arn)
        entry.tags = {k: v for k, v in entry.tags.items() if k not in set(keys or [])}

    @staticmethod
    def list_access_policies(
        max_results: int | None, next_token: str | None
    ) -> tuple[list[dict[str, str]], str | None]:
        policies = [{"name": n, "arn": policy_arn(n)} for n in ACCESS_POLICY_NAMES]
        return paginate(policies, max_results, next_token)


access_entry_backends: BackendDict[AccessEntryBackend] = BackendDict(AccessEntryBackend, "eks")
