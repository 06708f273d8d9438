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

import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Mapping, Union
from urllib.parse import unquote

from .aws_catalog import (
    DEFAULT_AUTHENTICATION_MODE,
    DEFAULT_BOOTSTRAP_CLUSTER_CREATOR_ADMIN,
    STANDARD,
)

CLOUDTRAIL_DETAIL_TYPE = "AWS API Call via CloudTrail"


#: Hostile input must never make an error message unbounded (logs, alerts, terminals).
SHOWN_LIMIT = 80


def shown(value: Any) -> str:
    """`repr(value)`, cut to a bounded length with the full length said."""
    text = repr(value)
    if len(text) <= SHOWN_LIMIT:
        return text
    return f"{text[:SHOWN_LIMIT]}… ({len(text)} characters)"


class EventParseError(ValueError):
    """An event is malformed: names the missing or bad field (and the file, when known)."""

    def __init__(self, field_path: str, problem: str, *, source: str | None = None):
        self.field_path = field_path[:200]
        self.problem = problem[:500]
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
            raise EventParseError(self.path(".".join(names)), f"expected a string, got {shown(value)}")
        return value

    def mapping(self, *names: str) -> Mapping[str, Any]:
        value = self.optional(*names, default={})
        if not isinstance(value, Mapping):
            raise EventParseError(self.path(".".join(names)), f"expected an object, got {shown(value)}")
        return value

    def string_list(self, *names: str) -> tuple[str, ...] | None:
        value = self.optional(*names)
        if value is None:
            return None
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise EventParseError(self.path(".".join(names)), f"expected a list of strings, got {shown(value)}")
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
            raise EventParseError("detail-type", f"expected {CLOUDTRAIL_DETAIL_TYPE!r}, got {shown(detail_type)}")
        detail = event["detail"]
        if not isinstance(detail, Mapping):
            raise EventParseError("detail", "expected an object")
        return detail, event, "detail."
    return event, {}, ""


def _actor(record: _Record, account: str) -> Actor:
    """Who made the call; every field type-checked (loop prevention and exemptions compare it)."""
    record.mapping("userIdentity")
    record.mapping("userIdentity", "sessionContext")
    record.mapping("userIdentity", "sessionContext", "sessionIssuer")
    identity_type = record.string("userIdentity", "type", required=False) or "Unknown"
    arn = record.string("userIdentity", "arn", required=False)
    if not arn and identity_type == "AWSService":
        arn = record.string("userIdentity", "invokedBy", required=False)
    issuer_arn = record.string("userIdentity", "sessionContext", "sessionIssuer", "arn", required=False)
    identity_account = record.string("userIdentity", "accountId", required=False)
    return Actor(
        identity_type=identity_type,
        arn=arn or "",
        account_id=identity_account or account,
        session_issuer_arn=issuer_arn if identity_type == "AssumedRole" and issuer_arn else None,
    )


_REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d{1,2}$")
_ACCOUNT = re.compile(r"^\d{12}$")


def _first(record: _Record, envelope: Mapping[str, Any], name: str, envelope_name: str) -> tuple[str, Any]:
    """A field of the record, else of the EventBridge envelope: (its path, its value)."""
    value = record.optional(name)
    if value is not None and value != "":
        return record.path(name), value
    return envelope_name, envelope.get(envelope_name)


def _checked(path: str, value: Any, pattern: re.Pattern[str] | None, what: str, *, required: bool) -> str:
    if value is None or value == "":
        if required:
            raise EventParseError(path, "missing")
        return ""
    if not isinstance(value, str) or (pattern is not None and not pattern.match(value)):
        raise EventParseError(path, f"expected {what}, got {shown(value)}")
    return value


def _event_time(path: str, value: Any) -> str:
    """CloudTrail writes UTC ISO-8601 (`2024-08-01T13:37:41Z`); anything else is rejected."""
    text = _checked(path, value, None, "an ISO-8601 time", required=False)
    if not text:
        return ""  # redacted samples; the Lambda path insists (`check_actionable`)
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise EventParseError(path, f"expected an ISO-8601 time such as 2024-08-01T13:37:41Z, got {shown(value)}") from None
    if moment.tzinfo is None:
        raise EventParseError(path, f"expected a time with its zone (Z), got {shown(value)}")
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _meta(record: _Record, envelope: Mapping[str, Any], event_name: str) -> EventMeta:
    account_path, account = _first(record, envelope, "recipientAccountId", "account")
    if account is None or account == "":
        account_path, account = record.path("userIdentity.accountId"), record.optional("userIdentity", "accountId")
    account = _checked(account_path, account, _ACCOUNT, "a 12-digit account id", required=False)
    # Published samples redact these; the Lambda path insists on them (`check_actionable`).
    event_id = _checked(*_first(record, envelope, "eventID", "id"), None, "an event id", required=False)
    region = _checked(*_first(record, envelope, "awsRegion", "region"), None, "an AWS region such as eu-west-1", required=False)
    return EventMeta(
        event_id=event_id[:200],
        event_name=event_name,
        event_source=str(record.string("eventSource", required=False) or ""),
        event_time=_event_time(*_first(record, envelope, "eventTime", "time")),
        account=account,
        region=region,
        actor=_actor(record, account),
        source_ip=str(record.optional("sourceIPAddress") or "")[:200],
        user_agent=str(record.optional("userAgent") or "")[:500],
    )


def _cluster_name(record: _Record) -> str:
    name = record.optional("requestParameters", "name") or record.optional("requestParameters", "clusterName")
    if not name:
        raise EventParseError(record.path("requestParameters.name"), "missing (nor clusterName)")
    if not isinstance(name, str):
        raise EventParseError(record.path("requestParameters.name"), f"expected a string, got {shown(name)}")
    return name


def _decoded(record: _Record, *names: str) -> str:
    """A path parameter as the API saw it: CloudTrail keeps these URL-encoded."""
    value = record.string(*names)
    assert value is not None
    return unquote(value)


def _arn(record: _Record, *names: str) -> str:
    value = _decoded(record, *names)
    if not value.startswith("arn:"):
        raise EventParseError(record.path(".".join(names)), f"expected an ARN, got {shown(value)}")
    return value


def _parse_create_access_entry(r: _Record, meta: EventMeta) -> AccessEntryCreated:
    r.mapping("responseElements")
    r.mapping("responseElements", "accessEntry")
    return AccessEntryCreated(
        meta=meta,
        cluster=_cluster_name(r),
        principal_arn=_arn(r, "requestParameters", "principalArn"),
        entry_type=r.string("requestParameters", "type", required=False)
        or r.string("responseElements", "accessEntry", "type", required=False)
        or STANDARD,
        username=r.string("requestParameters", "username", required=False) or None,
        kubernetes_groups=r.string_list("requestParameters", "kubernetesGroups") or (),
        tags=r.string_map("requestParameters", "tags"),
        assigned_username=r.string("responseElements", "accessEntry", "username", required=False),
        access_entry_arn=r.string("responseElements", "accessEntry", "accessEntryArn", required=False),
    )


def _parse_update_access_entry(r: _Record, meta: EventMeta) -> AccessEntryUpdated:
    return AccessEntryUpdated(
        meta=meta,
        cluster=_cluster_name(r),
        principal_arn=_arn(r, "requestParameters", "principalArn"),
        username=r.string("requestParameters", "username", required=False),
        kubernetes_groups=r.string_list("requestParameters", "kubernetesGroups"),
        entry_type=r.string("responseElements", "accessEntry", "type", required=False) if isinstance(r.optional("responseElements", "accessEntry"), Mapping) else None,
    )


def _parse_delete_access_entry(r: _Record, meta: EventMeta) -> AccessEntryDeleted:
    return AccessEntryDeleted(meta=meta, cluster=_cluster_name(r), principal_arn=_arn(r, "requestParameters", "principalArn"))


def _parse_associate(r: _Record, meta: EventMeta) -> AccessPolicyAssociated:
    scope_type = r.string("requestParameters", "accessScope", "type")
    if scope_type not in ("cluster", "namespace"):
        raise EventParseError(r.path("requestParameters.accessScope.type"), f"expected 'cluster' or 'namespace', got {shown(scope_type)}")
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
    mode = r.string("requestParameters", "accessConfig", "authenticationMode", required=False) or DEFAULT_AUTHENTICATION_MODE
    bootstrap = access_config.get("bootstrapClusterCreatorAdminPermissions")
    if bootstrap is not None and not isinstance(bootstrap, bool):
        raise EventParseError(
            r.path("requestParameters.accessConfig.bootstrapClusterCreatorAdminPermissions"),
            f"expected true or false, got {shown(bootstrap)}",
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
        authentication_mode=r.string("requestParameters", "accessConfig", "authenticationMode", required=False)
        if isinstance(r.optional("requestParameters", "accessConfig"), Mapping)
        else None,
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
        r.mapping("responseElements")
        r.mapping("responseElements", kind)
        return IamPrincipalCreated(
            meta=meta,
            kind=kind,
            name=str(r.string("requestParameters", name_key)),
            path=r.string("requestParameters", "path", required=False) or r.string("responseElements", kind, "path", required=False) or "/",
            arn=r.string("responseElements", kind, "arn", required=False),
            unique_id=r.string("responseElements", kind, "roleId" if kind == "role" else "userId", required=False),
            create_date=r.string("responseElements", kind, "createDate", required=False),
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


def check_actionable(change: Change) -> None:
    """What the Lambda handlers need before they act: an event id (idempotency key) and a
    real region (clients are made for it). `evaluate` judges redacted samples without them."""
    if not change.meta.event_id:
        raise EventParseError("eventID", "missing (nor the EventBridge id): the event cannot be handled exactly once")
    if not change.meta.event_time:
        raise EventParseError("eventTime", "missing")
    if not _REGION.match(change.meta.region):
        raise EventParseError("awsRegion", f"expected an AWS region such as eu-west-1, got {shown(change.meta.region)}")


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
    event_id = str(record.optional("eventID") or envelope.get("id") or "")[:200]
    error_code = record.optional("errorCode")
    if error_code:
        message = record.optional("errorMessage") or ""
        reason = f"the call failed ({shown(error_code)[:100]}{': ' + str(message)[:300] if message else ''}); it changed nothing"
        return Skipped(event_id=event_id, event_name=event_name[:128], reason=reason)
    parser = PARSERS.get((event_source, event_name))
    if parser is None:
        return Skipped(event_id=event_id, event_name=event_name[:128], reason=f"unsupported event {event_source[:128]} {event_name[:128]}")
    meta = _meta(record, envelope, event_name)
    return parser(record, meta)
