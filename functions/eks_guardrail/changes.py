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
import reprlib
from collections.abc import Mapping  # not typing's: its isinstance() costs several times more
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Union
from urllib.parse import unquote

from .aws_catalog import (
    DEFAULT_AUTHENTICATION_MODE,
    DEFAULT_BOOTSTRAP_CLUSTER_CREATOR_ADMIN,
    STANDARD,
)

CLOUDTRAIL_DETAIL_TYPE = "AWS API Call via CloudTrail"


#: Hostile input must never make an error message unbounded (logs, alerts, terminals).
SHOWN_LIMIT = 80

_REPR = reprlib.Repr()
_REPR.maxlevel, _REPR.maxstring, _REPR.maxother, _REPR.maxlong = 3, SHOWN_LIMIT, SHOWN_LIMIT, 40
_REPR.maxdict = _REPR.maxlist = _REPR.maxtuple = _REPR.maxset = 4


def shown(value: Any) -> str:
    """A value as an error message may echo it: its `repr` cut to about 80 characters, with
    an ellipsis and the full length. Never walks deep nesting nor prints a huge number whole."""
    if isinstance(value, str):
        text = repr(value[: SHOWN_LIMIT + 1])
        if len(value) <= SHOWN_LIMIT and len(text) <= SHOWN_LIMIT + 2:
            return text
        return f"{text[:SHOWN_LIMIT]}… ({len(value)} characters)"
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 128:
        return f"<an integer of {value.bit_length()} bits>"
    try:
        text = _REPR.repr(value)
    except (RecursionError, ValueError):
        text = f"<{type(value).__name__}>"
    size = f" ({type(value).__name__} of {len(value)} item(s))" if isinstance(value, (list, tuple, dict)) else ""
    if len(text) <= SHOWN_LIMIT:
        return text + size if text.endswith("...]") or text.endswith("...}") else text
    return f"{text[:SHOWN_LIMIT]}…{size}"


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

#: No text field the guardrail reads is longer in a real record: longer is hostile.
MAX_TEXT = 2_048
#: Nor does a list it reads (groups, namespaces) hold more items.
MAX_ITEMS = 1_000
#: The ledger's sort key is the principal (or tagged resource) ARN: DynamoDB keys hold 1,024 bytes.
MAX_ARN_BYTES = 1_024
#: EKS's tag limits (botocore's TagMap, TagKey, TagValue, TagKeyList).
MAX_TAGS, MAX_TAG_KEY, MAX_TAG_VALUE = 50, 128, 256

_VISIBLE = r"[^\s\x00-\x1f\x7f]"
_ARN = re.compile(rf"arn:{_VISIBLE}+\Z")
_PRINCIPAL_ARN = re.compile(rf"arn:aws[a-z-]*:iam::[0-9]{{12}}:(?:root|(?:role|user)/{_VISIBLE}+)\Z")
_CLUSTER = re.compile(r"[0-9A-Za-z][A-Za-z0-9_-]{0,99}\Z")
_IAM_NAME = re.compile(r"[\w+=,.@-]{1,64}\Z", re.ASCII)
_IAM_PATH = re.compile(r"/(?:[\x21-\x7e]*/)?\Z")
_ACCOUNT = re.compile(r"[0-9]{12}\Z")
_EVENT_ID = re.compile(r"[\x21-\x7e]{1,128}\Z")
#: What botocore accepts as a region name (a host label); `check_actionable` asks for a real-looking one.
_REGION_NAME = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\Z")
_REGION = re.compile(r"[a-z]{2}(?:-[a-z]+)+-[0-9]{1,2}\Z")


def _text(path: str, value: Any, *, limit: int = MAX_TEXT, pattern: re.Pattern[str] | None = None, what: str = "a string") -> str:
    if type(value) is str and len(value) <= limit and (pattern is None or pattern.match(value)):
        return value
    if not isinstance(value, str):
        raise EventParseError(path, f"expected {what}, got {shown(value)}")
    if len(value) > limit:
        raise EventParseError(path, f"expected {what} of at most {limit} characters, got {shown(value)}")
    if pattern is not None and not pattern.match(value):
        raise EventParseError(path, f"expected {what}, got {shown(value)}")
    return value


class _Record:
    """A CloudTrail record whose every read is type-checked and reports the field's full path."""

    def __init__(self, data: Mapping[str, Any], prefix: str):
        self._data = data
        self._prefix = prefix

    def path(self, *names: str) -> str:
        return self._prefix + ".".join(names)

    def get(self, *names: str) -> Any:
        """The value at `names`, None when absent or null. A step that is there but is not an
        object is an error: `requestParameters: "x"` is malformed, not "no parameters"."""
        value: Any = self._data
        for name in names:
            if value is None:
                return None
            if type(value) is not dict and not isinstance(value, Mapping):
                raise self._not_an_object(names)
            value = value.get(name)
        return value

    def _not_an_object(self, names: tuple[str, ...]) -> EventParseError:
        """The error for the first step of `names` that is there but is not an object."""
        value: Any = self._data
        for depth, name in enumerate(names):
            if not isinstance(value, Mapping):
                return EventParseError(self.path(*names[:depth]), f"expected an object, got {shown(value)}")
            value = value.get(name)
        raise AssertionError("every step of the path is an object")  # pragma: no cover

    def text(
        self,
        *names: str,
        required: bool = True,
        limit: int = MAX_TEXT,
        pattern: re.Pattern[str] | None = None,
        what: str = "a string",
    ) -> str | None:
        """A string field; missing (absent, null or "") is an error when `required`, else None
        (an empty string stays "" when optional)."""
        value = self.get(*names)
        if value is None or (value == "" and required):
            if required:
                raise EventParseError(self.path(*names), "missing")
            return None
        if type(value) is str and len(value) <= limit and (pattern is None or pattern.match(value)):
            return value  # what `_text` accepts, without working out the path it would name
        return _text(self.path(*names), value, limit=limit, pattern=pattern, what=what)

    def mapping(self, *names: str) -> Mapping[str, Any]:
        value = self.get(*names)
        if value is None:
            return {}
        if type(value) is not dict and not isinstance(value, Mapping):
            raise EventParseError(self.path(*names), f"expected an object, got {shown(value)}")
        return value

    def flag(self, *names: str) -> bool | None:
        value = self.get(*names)
        if value is not None and not isinstance(value, bool):
            raise EventParseError(self.path(*names), f"expected true or false, got {shown(value)}")
        return value

    def string_list(self, *names: str, required: bool = False, max_items: int = MAX_ITEMS, limit: int = MAX_TEXT) -> tuple[str, ...] | None:
        value = self.get(*names)
        path = self.path(*names)
        if value is None:
            if required:
                raise EventParseError(path, "missing")
            return None
        if not isinstance(value, list):
            raise EventParseError(path, f"expected a list of strings, got {shown(value)}")
        if len(value) > max_items or (required and not value):
            raise EventParseError(path, f"expected 1 to {max_items} strings, got {len(value)}" if required else f"expected at most {max_items} strings, got {len(value)}")
        return tuple(_text(f"{path}[{index}]", item, limit=limit) for index, item in enumerate(value))

    def tags(self, *names: str, required: bool = False) -> dict[str, str]:
        """An EKS tag map: 1 to 50 entries, keys of 1 to 128 characters, values of at most 256."""
        value = self.get(*names)
        path = self.path(*names)
        if value is None:
            if required:
                raise EventParseError(path, "missing")
            return {}
        if not isinstance(value, Mapping):
            raise EventParseError(path, f"expected an object of strings, got {shown(value)}")
        if len(value) > MAX_TAGS or (required and not value):
            raise EventParseError(path, f"expected 1 to {MAX_TAGS} tags, got {len(value)}")
        tags: dict[str, str] = {}
        for key, tag_value in value.items():
            if not isinstance(key, str) or not key or len(key) > MAX_TAG_KEY:
                raise EventParseError(path, f"expected tag keys of 1 to {MAX_TAG_KEY} characters, got {shown(key)}")
            tags[key] = _text(f"{path}.{shown(key)}", tag_value, limit=MAX_TAG_VALUE)
        return tags


def _split_envelope(event: Any) -> tuple[Mapping[str, Any], Mapping[str, Any], str]:
    """Return (record, envelope, field prefix) for an EventBridge event or a bare record."""
    if not isinstance(event, Mapping):
        raise EventParseError("(event)", f"expected a JSON object, got {type(event).__name__}")
    if "detail" in event and "eventName" not in event:
        detail_type = event.get("detail-type")
        if detail_type != CLOUDTRAIL_DETAIL_TYPE:
            raise EventParseError("detail-type", f"expected {CLOUDTRAIL_DETAIL_TYPE!r}, got {shown(detail_type)}")
        detail = event["detail"]
        if not isinstance(detail, Mapping):
            raise EventParseError("detail", f"expected an object, got {shown(detail)}")
        return detail, event, "detail."
    return event, {}, ""


def _actor(record: _Record, account: str) -> Actor:
    """Who made the call; every field type-checked (loop prevention and exemptions compare it)."""
    record.mapping("userIdentity", "sessionContext", "sessionIssuer")
    identity_type = record.text("userIdentity", "type", required=False, limit=64) or "Unknown"
    arn = record.text("userIdentity", "arn", required=False, pattern=_ARN, what="an ARN")
    invoked_by = record.text("userIdentity", "invokedBy", required=False, limit=256)
    if not arn and identity_type == "AWSService":
        arn = invoked_by
    issuer_arn = record.text("userIdentity", "sessionContext", "sessionIssuer", "arn", required=False, pattern=_ARN, what="an ARN")
    identity_account = _checked(record.path("userIdentity", "accountId"), record.get("userIdentity", "accountId"), _ACCOUNT, "a 12-digit account id")
    return Actor(
        identity_type=identity_type,
        arn=arn or "",
        account_id=identity_account or account,
        session_issuer_arn=issuer_arn if identity_type == "AssumedRole" and issuer_arn else None,
    )


def _first(record: _Record, envelope: Mapping[str, Any], name: str, envelope_name: str) -> tuple[str, Any]:
    """A field of the record, else of the EventBridge envelope: (its path, its value)."""
    value = record.get(name)
    if value is not None and value != "":
        return record.path(name), value
    return envelope_name, envelope.get(envelope_name)


def _checked(path: str, value: Any, pattern: re.Pattern[str] | None, what: str, *, limit: int = MAX_TEXT) -> str:
    """An optional string field of a known form: "" when absent."""
    if value is None or value == "":
        return ""
    return _text(path, value, limit=limit, pattern=pattern, what=what)


#: The form CloudTrail writes and `_event_time` returns (years 1970 to 9999).
_CLOUDTRAIL_TIME = re.compile(r"(?:19[7-9][0-9]|[2-9][0-9]{3})-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z\Z")


def _event_time(path: str, value: Any) -> str:
    """CloudTrail writes UTC ISO-8601 (`2024-08-01T13:37:41Z`). Any ISO-8601 time with its zone
    is accepted and normalised to that form; anything else is rejected."""
    text = _checked(path, value, None, "an ISO-8601 time", limit=64)
    if not text:
        return ""  # redacted samples; the Lambda path insists (`check_actionable`)
    if _CLOUDTRAIL_TIME.match(text):
        try:
            datetime.fromisoformat(text[:-1])  # a real date and time: already in the normal form
            return text
        except ValueError:
            pass  # rejected below, with the message
    example = "such as 2024-08-01T13:37:41Z"
    try:
        moment = datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith("Z") else text)
    except ValueError:
        raise EventParseError(path, f"expected an ISO-8601 time {example}, got {shown(value)}") from None
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise EventParseError(path, f"expected a time with its zone (Z) {example}, got {shown(value)}")
    try:
        moment = moment.astimezone(timezone.utc)
    except OverflowError:
        moment = datetime.min.replace(tzinfo=timezone.utc)
    if not 1970 <= moment.year <= 9999 or moment == datetime.max.replace(tzinfo=timezone.utc):
        raise EventParseError(path, f"expected a time between 1970 and 9999 {example}, got {shown(value)}")
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _event_id(value: Any) -> str:
    """An event id as CloudTrail or EventBridge writes it (a UUID), else ""."""
    return value if isinstance(value, str) and _EVENT_ID.match(value) else ""


def event_id_of(event: Any) -> str:
    """The event id of a raw event, if it has a well-formed one (for reporting a rejected event)."""
    if not isinstance(event, Mapping):
        return ""
    detail = event.get("detail")
    if isinstance(detail, Mapping) and _event_id(detail.get("eventID")):
        return detail["eventID"]
    return _event_id(event.get("eventID")) or _event_id(event.get("id"))


def _meta(record: _Record, envelope: Mapping[str, Any], event_name: str, event_source: str) -> EventMeta:
    account_path, account = _first(record, envelope, "recipientAccountId", "account")
    if account is None or account == "":
        account_path, account = record.path("userIdentity", "accountId"), record.get("userIdentity", "accountId")
    account = _checked(account_path, account, _ACCOUNT, "a 12-digit account id")
    # Published samples redact these; the Lambda path insists on them (`check_actionable`).
    event_id = _checked(*_first(record, envelope, "eventID", "id"), _EVENT_ID, "an event id (at most 128 printable characters)")
    region = _checked(*_first(record, envelope, "awsRegion", "region"), _REGION_NAME, "an AWS region such as eu-west-1", limit=63)
    source_ip = record.text("sourceIPAddress", required=False, limit=MAX_TEXT) or ""
    user_agent = record.text("userAgent", required=False, limit=4 * MAX_TEXT) or ""
    return EventMeta(
        event_id=event_id,
        event_name=event_name,
        event_source=event_source,
        event_time=_event_time(*_first(record, envelope, "eventTime", "time")),
        account=account,
        region=region,
        actor=_actor(record, account),
        source_ip=source_ip[:200],
        user_agent=user_agent[:500],
    )


def _cluster_name(record: _Record) -> str:
    """`requestParameters.name` (older records: `clusterName`), as EKS allows it."""
    names = ("requestParameters", "name")
    if record.get(*names) in (None, ""):
        names = ("requestParameters", "clusterName")
        if record.get(*names) in (None, ""):
            raise EventParseError(record.path("requestParameters", "name"), "missing (nor clusterName)")
    name = record.text(*names, limit=100, pattern=_CLUSTER, what="a cluster name (1 to 100 letters, digits, - and _)")
    assert name is not None
    return name


def _arn(record: _Record, *names: str, pattern: re.Pattern[str] = _ARN, what: str = "an ARN") -> str:
    """An ARN; path parameters are URL-encoded in CloudTrail: decoded once."""
    raw = record.text(*names)
    assert raw is not None
    value = unquote(raw)
    if not pattern.match(value) or len(value.encode("utf-8", "surrogatepass")) > MAX_ARN_BYTES:
        raise EventParseError(record.path(*names), f"expected {what} (at most {MAX_ARN_BYTES} bytes), got {shown(value)}")
    return value


def _principal(record: _Record, *names: str) -> str:
    return _arn(record, *names, pattern=_PRINCIPAL_ARN, what="an IAM role or user ARN")


def _parse_create_access_entry(r: _Record, meta: EventMeta) -> AccessEntryCreated:
    r.mapping("responseElements", "accessEntry")
    requested_type = r.text("requestParameters", "type", required=False, limit=64)
    answered_type = r.text("responseElements", "accessEntry", "type", required=False, limit=64)
    return AccessEntryCreated(
        meta=meta,
        cluster=_cluster_name(r),
        principal_arn=_principal(r, "requestParameters", "principalArn"),
        entry_type=requested_type or answered_type or STANDARD,
        username=r.text("requestParameters", "username", required=False) or None,
        kubernetes_groups=r.string_list("requestParameters", "kubernetesGroups") or (),
        tags=r.tags("requestParameters", "tags"),
        assigned_username=r.text("responseElements", "accessEntry", "username", required=False),
        access_entry_arn=r.text("responseElements", "accessEntry", "accessEntryArn", required=False, pattern=_ARN, what="an ARN"),
    )


def _parse_update_access_entry(r: _Record, meta: EventMeta) -> AccessEntryUpdated:
    r.mapping("responseElements", "accessEntry")
    return AccessEntryUpdated(
        meta=meta,
        cluster=_cluster_name(r),
        principal_arn=_principal(r, "requestParameters", "principalArn"),
        username=r.text("requestParameters", "username", required=False),
        kubernetes_groups=r.string_list("requestParameters", "kubernetesGroups"),
        entry_type=r.text("responseElements", "accessEntry", "type", required=False, limit=64) or None,
    )


def _parse_delete_access_entry(r: _Record, meta: EventMeta) -> AccessEntryDeleted:
    return AccessEntryDeleted(meta=meta, cluster=_cluster_name(r), principal_arn=_principal(r, "requestParameters", "principalArn"))


def _parse_associate(r: _Record, meta: EventMeta) -> AccessPolicyAssociated:
    r.mapping("requestParameters", "accessScope")
    scope_type = r.text("requestParameters", "accessScope", "type", limit=64)
    if scope_type not in ("cluster", "namespace"):
        raise EventParseError(r.path("requestParameters", "accessScope", "type"), f"expected 'cluster' or 'namespace', got {shown(scope_type)}")
    namespaces = r.string_list("requestParameters", "accessScope", "namespaces") or ()
    return AccessPolicyAssociated(
        meta=meta,
        cluster=_cluster_name(r),
        principal_arn=_principal(r, "requestParameters", "principalArn"),
        policy_arn=_arn(r, "requestParameters", "policyArn"),
        scope=AccessScope(type=scope_type, namespaces=namespaces),
    )


def _parse_disassociate(r: _Record, meta: EventMeta) -> AccessPolicyDisassociated:
    return AccessPolicyDisassociated(
        meta=meta,
        cluster=_cluster_name(r),
        principal_arn=_principal(r, "requestParameters", "principalArn"),
        policy_arn=_arn(r, "requestParameters", "policyArn"),
    )


def _parse_create_cluster(r: _Record, meta: EventMeta) -> ClusterCreated:
    access_config = r.mapping("requestParameters", "accessConfig")
    mode = r.text("requestParameters", "accessConfig", "authenticationMode", required=False, limit=64) or DEFAULT_AUTHENTICATION_MODE
    bootstrap = r.flag("requestParameters", "accessConfig", "bootstrapClusterCreatorAdminPermissions")
    return ClusterCreated(
        meta=meta,
        cluster=_cluster_name(r),
        authentication_mode=mode,
        bootstrap_cluster_creator_admin=DEFAULT_BOOTSTRAP_CLUSTER_CREATOR_ADMIN if bootstrap is None else bootstrap,
        access_config_defaulted=not access_config,
        tags=r.tags("requestParameters", "tags"),
    )


def _parse_update_cluster_config(r: _Record, meta: EventMeta) -> ClusterConfigUpdated:
    r.mapping("requestParameters", "accessConfig")
    return ClusterConfigUpdated(
        meta=meta,
        cluster=_cluster_name(r),
        # None when this update did not touch accessConfig (logging, endpoint access, ...)
        authentication_mode=r.text("requestParameters", "accessConfig", "authenticationMode", required=False, limit=64) or None,
    )


def _parse_tag_resource(r: _Record, meta: EventMeta) -> ResourceTagged:
    return ResourceTagged(
        meta=meta,
        resource_arn=_arn(r, "requestParameters", "resourceArn"),
        tags=r.tags("requestParameters", "tags", required=True),
    )


def _parse_untag_resource(r: _Record, meta: EventMeta) -> ResourceUntagged:
    return ResourceUntagged(
        meta=meta,
        resource_arn=_arn(r, "requestParameters", "resourceArn"),
        tag_keys=r.string_list("requestParameters", "tagKeys", required=True, max_items=MAX_TAGS, limit=MAX_TAG_KEY) or (),
    )


_IAM_NAME_WHAT = "an IAM name (1 to 64 letters, digits and +=,.@_-)"


def _iam_created(kind: str):
    def parse(r: _Record, meta: EventMeta) -> IamPrincipalCreated:
        name_key = "roleName" if kind == "role" else "userName"
        r.mapping("responseElements", kind)
        path_what = "an IAM path ('/' or '/text/')"
        requested_path = r.text("requestParameters", "path", required=False, limit=512, pattern=_IAM_PATH, what=path_what)
        answered_path = r.text("responseElements", kind, "path", required=False, limit=512, pattern=_IAM_PATH, what=path_what)
        name = r.text("requestParameters", name_key, limit=64, pattern=_IAM_NAME, what=_IAM_NAME_WHAT)
        assert name is not None
        return IamPrincipalCreated(
            meta=meta,
            kind=kind,
            name=name,
            path=requested_path or answered_path or "/",
            arn=r.text("responseElements", kind, "arn", required=False, pattern=_ARN, what="an ARN") or None,
            unique_id=r.text("responseElements", kind, "roleId" if kind == "role" else "userId", required=False, limit=128) or None,
            create_date=r.text("responseElements", kind, "createDate", required=False, limit=64) or None,
        )

    return parse


def _iam_deleted(kind: str):
    def parse(r: _Record, meta: EventMeta) -> IamPrincipalDeleted:
        name_key = "roleName" if kind == "role" else "userName"
        name = r.text("requestParameters", name_key, limit=64, pattern=_IAM_NAME, what=_IAM_NAME_WHAT)
        assert name is not None
        return IamPrincipalDeleted(meta=meta, kind=kind, name=name)

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
    """What the Lambda handlers need before they act, beyond what `parse_event` checks: an
    event id (the idempotency key), the account, the time and a real-looking region (clients
    are made for it). `evaluate` judges redacted samples without them."""
    if not change.meta.event_id:
        raise EventParseError("eventID", "missing (nor the EventBridge id): the event cannot be handled exactly once")
    if not change.meta.account:
        raise EventParseError("recipientAccountId", "missing (nor the EventBridge account, nor userIdentity.accountId)")
    if not change.meta.event_time:
        raise EventParseError("eventTime", "missing (nor the EventBridge time)")
    if not _REGION.match(change.meta.region):
        raise EventParseError("awsRegion", f"expected an AWS region such as eu-west-1, got {shown(change.meta.region)}")


def parse_event(event: Mapping[str, Any]) -> Change | Skipped:
    """Parse one EventBridge event or bare CloudTrail record.

    Returns the typed change, or `Skipped` for failed calls and events we do not handle.
    Raises `EventParseError` naming the bad field (and bounded) for malformed input: after
    parsing, every field has the type and form its dataclass says.
    """
    data, envelope, prefix = _split_envelope(event)
    record = _Record(data, prefix)
    event_name = record.text("eventName", limit=128)
    event_source = record.text("eventSource", limit=128)
    assert event_name is not None and event_source is not None
    error_code = record.get("errorCode")
    if error_code:
        event_id = _event_id(record.get("eventID")) or _event_id(envelope.get("id"))
        message = record.get("errorMessage") or ""
        said = message if isinstance(message, str) else shown(message)
        reason = f"the call failed ({shown(error_code)[:100]}{': ' + said[:300] if said else ''}); it changed nothing"
        return Skipped(event_id=event_id, event_name=event_name, reason=reason)
    parser = PARSERS.get((event_source, event_name))
    if parser is None:
        event_id = _event_id(record.get("eventID")) or _event_id(envelope.get("id"))
        return Skipped(event_id=event_id, event_name=event_name, reason=f"unsupported event {event_source} {event_name}")
    return parser(record, _meta(record, envelope, event_name, event_source))
