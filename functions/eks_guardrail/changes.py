"""Typed, immutable changes parsed from CloudTrail records of EKS and IAM calls.

One frozen dataclass per event name. Parsing happens once, at the edge: everything
downstream (rules, enforcement, alerts) works on these, never on raw dicts.

Accepted input: a full EventBridge event ("AWS API Call via CloudTrail") or a bare
CloudTrail record as found in trail files. What AWS really records, and we follow:
- the cluster is `requestParameters.name` (older records: `clusterName`);
- `principalArn` / `policyArn` are URL-encoded where they are URL path parameters;
- `CreateCluster` without `accessConfig` means the API defaults (CONFIG_MAP, creator admin);
- IAM `DeleteRole` / `DeleteUser` carry only the name.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping, Union
from urllib.parse import unquote

from .aws_catalog import (
    DEFAULT_AUTHENTICATION_MODE,
    DEFAULT_BOOTSTRAP_CLUSTER_CREATOR_ADMIN,
    STANDARD,
)

CLOUDTRAIL_DETAIL_TYPE = "AWS API Call via CloudTrail"


class EventParseError(ValueError):
    """An event is malformed: names the missing or bad field (and the file, when known)."""

    def __init__(self, field_path: str, problem: str, *, source: str | None = None):
        self.field_path = field_path
        self.problem = problem
        self.source = source
        super().__init__(self._text())

    def _text(self) -> str:
        where = f"{self.source}: " if self.source else ""
        return f"{where}{self.field_path}: {self.problem}"

    def located(self, source: str) -> "EventParseError":
        """The same error, naming where the event came from (a file, `event 3 of x.json`)."""
        return EventParseError(self.field_path, self.problem, source=source)


@dataclass(frozen=True)
class Actor:
    """Who made the call, from CloudTrail's `userIdentity`."""

    identity_type: str
    arn: str
    account_id: str
    #: For an assumed role, the role behind the session (`sessionContext.sessionIssuer.arn`).
    session_issuer_arn: str | None = None

    @property
    def principal_arn(self) -> str:
        """The IAM principal to compare with (the role for assumed-role sessions)."""
        return self.session_issuer_arn or self.arn


@dataclass(frozen=True)
class EventMeta:
    """What every change carries about the call that made it."""

    event_id: str
    event_name: str
    event_source: str
    event_time: str
    account: str
    region: str
    actor: Actor
    source_ip: str = ""
    user_agent: str = ""


@dataclass(frozen=True)
class AccessScope:
    type: str  # "cluster" | "namespace"
    namespaces: tuple[str, ...] = ()


# --- EKS access entries -------------------------------------------------------------------


@dataclass(frozen=True)
class AccessEntryCreated:
    meta: EventMeta
    cluster: str
    principal_arn: str
    entry_type: str
    #: What the caller asked for; None means "AWS's default mapping".
    username: str | None
    kubernetes_groups: tuple[str, ...]
    tags: Mapping[str, str] = field(default_factory=dict)
    #: What AWS answered (the assigned username, entry ARN), when the record has it.
    assigned_username: str | None = None
    access_entry_arn: str | None = None


@dataclass(frozen=True)
class AccessEntryUpdated:
    meta: EventMeta
    cluster: str
    principal_arn: str
    #: None means "not changed by this call".
    username: str | None
    kubernetes_groups: tuple[str, ...] | None
    entry_type: str | None = None


@dataclass(frozen=True)
class AccessEntryDeleted:
    meta: EventMeta
    cluster: str
    principal_arn: str


@dataclass(frozen=True)
class AccessPolicyAssociated:
    meta: EventMeta
    cluster: str
    principal_arn: str
    policy_arn: str
    scope: AccessScope


@dataclass(frozen=True)
class AccessPolicyDisassociated:
    meta: EventMeta
    cluster: str
    principal_arn: str
    policy_arn: str


# --- EKS clusters -------------------------------------------------------------------------


@dataclass(frozen=True)
class ClusterCreated:
    meta: EventMeta
    cluster: str
    authentication_mode: str
    bootstrap_cluster_creator_admin: bool
    #: True when the record had no `accessConfig` and the API defaults applied.
    access_config_defaulted: bool
    tags: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ClusterConfigUpdated:
    meta: EventMeta
    cluster: str
    #: None when this update did not touch `accessConfig` (logging, endpoint access, ...).
    authentication_mode: str | None


# --- EKS tags (exemption tags must not be self-served) ------------------------------------


@dataclass(frozen=True)
class ResourceTagged:
    meta: EventMeta
    #: A cluster or access-entry ARN (decoded: CloudTrail keeps path parameters URL-encoded).
    resource_arn: str
    tags: Mapping[str, str]


@dataclass(frozen=True)
class ResourceUntagged:
    meta: EventMeta
    resource_arn: str
    tag_keys: tuple[str, ...]


# --- IAM principals -----------------------------------------------------------------------


@dataclass(frozen=True)
class IamPrincipalCreated:
    meta: EventMeta
    kind: str  # "role" | "user"
    name: str
    path: str
    arn: str | None
    unique_id: str | None
    create_date: str | None


@dataclass(frozen=True)
class IamPrincipalDeleted:
    meta: EventMeta
    kind: str  # "role" | "user"
    #: Only the name: the record carries neither path nor ARN.
    name: str


Change = Union[
    AccessEntryCreated,
    AccessEntryUpdated,
    AccessEntryDeleted,
    AccessPolicyAssociated,
    AccessPolicyDisassociated,
    ClusterCreated,
    ClusterConfigUpdated,
    ResourceTagged,
    ResourceUntagged,
    IamPrincipalCreated,
    IamPrincipalDeleted,
]

ACCESS_ENTRY_CHANGES = (
    AccessEntryCreated,
    AccessEntryUpdated,
    AccessEntryDeleted,
    AccessPolicyAssociated,
    AccessPolicyDisassociated,
)


@dataclass(frozen=True)
class Skipped:
    """An event we read but that changed nothing we judge."""

    event_id: str
    event_name: str
    reason: str


# --- parsing ------------------------------------------------------------------------------


class _Record:
    """A CloudTrail record with field access that reports the full path of what is missing."""

    def __init__(self, data: Mapping[str, Any], prefix: str):
        self._data = data
        self._prefix = prefix

    def path(self, name: str) -> str:
        return f"{self._prefix}{name}"

    def optional(self, *names: str, default: Any = None) -> Any:
        value: Any = self._data
        for name in names:
            if not isinstance(value, Mapping) or value.get(name) is None:
                return default
            value = value[name]
        return value

    def require(self, *names: str) -> Any:
        value = self.optional(*names)
        if value is None or value == "":
            raise EventParseError(self.path(".".join(names)), "missing")
        return value

    def string(self, *names: str, required: bool = True) -> str | None:
        value = self.require(*names) if required else self.optional(*names)
        if value is not None and not isinstance(value, str):
            raise EventParseError(self.path(".".join(names)), f"expected a string, got {value!r}")
        return value

    def mapping(self, *names: str) -> Mapping[str, Any]:
        value = self.optional(*names, default={})
        if not isinstance(value, Mapping):
            raise EventParseError(self.path(".".join(names)), f"expected an object, got {value!r}")
        return value

    def string_list(self, *names: str) -> tuple[str, ...] | None:
        value = self.optional(*names)
        if value is None:
            return None
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise EventParseError(self.path(".".join(names)), f"expected a list of strings, got {value!r}")
        return tuple(value)

    def string_map(self, *names: str) -> dict[str, str]:
        value = self.mapping(*names)
        if not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
            raise EventParseError(self.path(".".join(names)), "expected an object of strings")
        return dict(value)


def _split_envelope(event: Mapping[str, Any]) -> tuple[Mapping[str, Any], Mapping[str, Any], str]:
    """Return (record, envelope, field prefix) for an EventBridge event or a bare record."""
    if not isinstance(event, Mapping):
        raise EventParseError("(event)", f"expected a JSON object, got {type(event).__name__}")
    if "detail" in event and "eventName" not in event:
        detail_type = event.get("detail-type")
        if detail_type != CLOUDTRAIL_DETAIL_TYPE:
            raise EventParseError("detail-type", f"expected {CLOUDTRAIL_DETAIL_TYPE!r}, got {detail_type!r}")
        detail = event["detail"]
        if not isinstance(detail, Mapping):
            raise EventParseError("detail", "expected an object")
        return detail, event, "detail."
    return event, {}, ""


def _actor(record: _Record, account: str) -> Actor:
    identity = record.mapping("userIdentity")
    issuer = identity.get("sessionContext", {}) or {}
    issuer_arn = (issuer.get("sessionIssuer") or {}).get("arn") if isinstance(issuer, Mapping) else None
    identity_type = str(identity.get("type") or "Unknown")
    arn = identity.get("arn")
    if not arn and identity_type == "AWSService":
        arn = str(identity.get("invokedBy") or "")
    return Actor(
        identity_type=identity_type,
        arn=str(arn or ""),
        account_id=str(identity.get("accountId") or account),
        session_issuer_arn=issuer_arn if identity_type == "AssumedRole" and issuer_arn else None,
    )


def _meta(record: _Record, envelope: Mapping[str, Any], event_name: str) -> EventMeta:
    account = (
        record.optional("recipientAccountId")
        or envelope.get("account")
        or record.optional("userIdentity", "accountId")
        or ""
    )
    return EventMeta(
        event_id=str(record.optional("eventID") or envelope.get("id") or ""),
        event_name=event_name,
        event_source=str(record.optional("eventSource") or ""),
        event_time=str(record.optional("eventTime") or envelope.get("time") or ""),
        account=str(account),
        region=str(record.optional("awsRegion") or envelope.get("region") or ""),
        actor=_actor(record, str(account)),
        source_ip=str(record.optional("sourceIPAddress") or ""),
        user_agent=str(record.optional("userAgent") or ""),
    )


def _cluster_name(record: _Record) -> str:
    name = record.optional("requestParameters", "name") or record.optional("requestParameters", "clusterName")
    if not name:
        raise EventParseError(record.path("requestParameters.name"), "missing (nor clusterName)")
    if not isinstance(name, str):
        raise EventParseError(record.path("requestParameters.name"), f"expected a string, got {name!r}")
    return name


def _decoded(record: _Record, *names: str) -> str:
    """A path parameter as the API saw it: CloudTrail keeps these URL-encoded."""
    value = record.string(*names)
    assert value is not None
    return unquote(value)


def _arn(record: _Record, *names: str) -> str:
    value = _decoded(record, *names)
    if not value.startswith("arn:"):
        raise EventParseError(record.path(".".join(names)), f"expected an ARN, got {value!r}")
    return value


def _parse_create_access_entry(r: _Record, meta: EventMeta) -> AccessEntryCreated:
    response_entry = r.mapping("responseElements", "accessEntry")
    return AccessEntryCreated(
        meta=meta,
        cluster=_cluster_name(r),
        principal_arn=_arn(r, "requestParameters", "principalArn"),
        entry_type=r.string("requestParameters", "type", required=False)
        or str(response_entry.get("type") or STANDARD),
        username=r.string("requestParameters", "username", required=False) or None,
        kubernetes_groups=r.string_list("requestParameters", "kubernetesGroups") or (),
        tags=r.string_map("requestParameters", "tags"),
        assigned_username=response_entry.get("username"),
        access_entry_arn=response_entry.get("accessEntryArn"),
    )


def _parse_update_access_entry(r: _Record, meta: EventMeta) -> AccessEntryUpdated:
    return AccessEntryUpdated(
        meta=meta,
        cluster=_cluster_name(r),
        principal_arn=_arn(r, "requestParameters", "principalArn"),
        username=r.string("requestParameters", "username", required=False),
        kubernetes_groups=r.string_list("requestParameters", "kubernetesGroups"),
        entry_type=r.optional("responseElements", "accessEntry", "type"),
    )


def _parse_delete_access_entry(r: _Record, meta: EventMeta) -> AccessEntryDeleted:
    return AccessEntryDeleted(meta=meta, cluster=_cluster_name(r), principal_arn=_arn(r, "requestParameters", "principalArn"))


def _parse_associate(r: _Record, meta: EventMeta) -> AccessPolicyAssociated:
    scope_type = r.string("requestParameters", "accessScope", "type")
    if scope_type not in ("cluster", "namespace"):
        raise EventParseError(r.path("requestParameters.accessScope.type"), f"expected 'cluster' or 'namespace', got {scope_type!r}")
    namespaces = r.string_list("requestParameters", "accessScope", "namespaces") or ()
    return AccessPolicyAssociated(
        meta=meta,
        cluster=_cluster_name(r),
        principal_arn=_arn(r, "requestParameters", "principalArn"),
        policy_arn=_arn(r, "requestParameters", "policyArn"),
        scope=AccessScope(type=scope_type, namespaces=namespaces),
    )


def _parse_disassociate(r: _Record, meta: EventMeta) -> AccessPolicyDisassociated:
    return AccessPolicyDisassociated(
        meta=meta,
        cluster=_cluster_name(r),
        principal_arn=_arn(r, "requestParameters", "principalArn"),
        policy_arn=_arn(r, "requestParameters", "policyArn"),
    )


def _parse_create_cluster(r: _Record, meta: EventMeta) -> ClusterCreated:
    access_config = r.mapping("requestParameters", "accessConfig")
    mode = access_config.get("authenticationMode") or DEFAULT_AUTHENTICATION_MODE
    bootstrap = access_config.get("bootstrapClusterCreatorAdminPermissions")
    if bootstrap is not None and not isinstance(bootstrap, bool):
        raise EventParseError(
            r.path("requestParameters.accessConfig.bootstrapClusterCreatorAdminPermissions"),
            f"expected true or false, got {bootstrap!r}",
        )
    return ClusterCreated(
        meta=meta,
        cluster=_cluster_name(r),
        authentication_mode=str(mode),
        bootstrap_cluster_creator_admin=DEFAULT_BOOTSTRAP_CLUSTER_CREATOR_ADMIN if bootstrap is None else bootstrap,
        access_config_defaulted=not access_config,
        tags=r.string_map("requestParameters", "tags"),
    )


def _parse_update_cluster_config(r: _Record, meta: EventMeta) -> ClusterConfigUpdated:
    return ClusterConfigUpdated(
        meta=meta,
        cluster=_cluster_name(r),
        authentication_mode=r.optional("requestParameters", "accessConfig", "authenticationMode"),
    )


def _parse_tag_resource(r: _Record, meta: EventMeta) -> ResourceTagged:
    return ResourceTagged(meta=meta, resource_arn=_arn(r, "requestParameters", "resourceArn"), tags=r.string_map("requestParameters", "tags"))


def _parse_untag_resource(r: _Record, meta: EventMeta) -> ResourceUntagged:
    return ResourceUntagged(
        meta=meta, resource_arn=_arn(r, "requestParameters", "resourceArn"), tag_keys=r.string_list("requestParameters", "tagKeys") or ()
    )


def _iam_created(kind: str):
    def parse(r: _Record, meta: EventMeta) -> IamPrincipalCreated:
        name_key = "roleName" if kind == "role" else "userName"
        response = r.mapping("responseElements", kind)
        return IamPrincipalCreated(
            meta=meta,
            kind=kind,
            name=str(r.string("requestParameters", name_key)),
            path=str(r.optional("requestParameters", "path") or response.get("path") or "/"),
            arn=response.get("arn"),
            unique_id=response.get("roleId" if kind == "role" else "userId"),
            create_date=response.get("createDate"),
        )

    return parse


def _iam_deleted(kind: str):
    def parse(r: _Record, meta: EventMeta) -> IamPrincipalDeleted:
        name_key = "roleName" if kind == "role" else "userName"
        return IamPrincipalDeleted(meta=meta, kind=kind, name=str(r.string("requestParameters", name_key)))

    return parse


#: (eventSource, eventName) -> parser. The single list of what we handle.
PARSERS = {
    ("eks.amazonaws.com", "CreateAccessEntry"): _parse_create_access_entry,
    ("eks.amazonaws.com", "UpdateAccessEntry"): _parse_update_access_entry,
    ("eks.amazonaws.com", "DeleteAccessEntry"): _parse_delete_access_entry,
    ("eks.amazonaws.com", "AssociateAccessPolicy"): _parse_associate,
    ("eks.amazonaws.com", "DisassociateAccessPolicy"): _parse_disassociate,
    ("eks.amazonaws.com", "CreateCluster"): _parse_create_cluster,
    ("eks.amazonaws.com", "UpdateClusterConfig"): _parse_update_cluster_config,
    ("eks.amazonaws.com", "TagResource"): _parse_tag_resource,
    ("eks.amazonaws.com", "UntagResource"): _parse_untag_resource,
    ("iam.amazonaws.com", "CreateRole"): _iam_created("role"),
    ("iam.amazonaws.com", "CreateUser"): _iam_created("user"),
    ("iam.amazonaws.com", "DeleteRole"): _iam_deleted("role"),
    ("iam.amazonaws.com", "DeleteUser"): _iam_deleted("user"),
}

EKS_EVENT_NAMES: tuple[str, ...] = tuple(name for source, name in PARSERS if source == "eks.amazonaws.com")
IAM_EVENT_NAMES: tuple[str, ...] = tuple(name for source, name in PARSERS if source == "iam.amazonaws.com")


def parse_event(event: Mapping[str, Any]) -> Change | Skipped:
    """Parse one EventBridge event or bare CloudTrail record.

    Returns the typed change, or `Skipped` for failed calls and events we do not handle.
    Raises `EventParseError` naming the bad field for malformed input.
    """
    data, envelope, prefix = _split_envelope(event)
    record = _Record(data, prefix)
    event_name = record.string("eventName")
    event_source = record.string("eventSource")
    assert event_name is not None and event_source is not None
    event_id = str(record.optional("eventID") or envelope.get("id") or "")
    error_code = record.optional("errorCode")
    if error_code:
        message = record.optional("errorMessage") or ""
        reason = f"the call failed ({error_code}{': ' + message if message else ''}); it changed nothing"
        return Skipped(event_id=event_id, event_name=event_name, reason=reason)
    parser = PARSERS.get((event_source, event_name))
    if parser is None:
        return Skipped(event_id=event_id, event_name=event_name, reason=f"unsupported event {event_source} {event_name}")
    meta = _meta(record, envelope, event_name)
    return parser(record, meta)
