"""CloudTrail Event history of the emulator, and ``LookupEvents`` over it.

Every record :func:`eks_guardrail.local.cloudtrail.publish` emits is kept here (read-only
ones too, as Event history shows them), per account and the region CloudTrail records it in:
EKS in the call's region, IAM in us-east-1. At most :data:`MAX_EVENTS_PER_REGION` records are
kept per account and region (the oldest recorded go first); :func:`record_history` adds
records with any ``eventTime``, so tests can build weeks of history without waiting.

``LookupEvents`` answers as AWS does: newest first (ties: the later recorded first), only the
last :data:`RETENTION` (by ``eventTime``), one lookup attribute at most, ``StartTime`` and
``EndTime`` inclusive, ``MaxResults`` 1..50 (default 50), a ``NextToken`` valid only for the
parameters it was issued for, and at most :data:`DEFAULT_RATE_LIMIT` calls per second per
account and region (sliding one-second window), beyond which it answers ``ThrottlingException``.
Error messages are not published by AWS and are plausible wordings only.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import json
import secrets
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Callable

from moto.core.base_backend import BackendDict, BaseBackend
from moto.core.exceptions import JsonRESTError
from moto.core.models import DEFAULT_ACCOUNT_ID

from . import cloudtrail

#: records kept per account and region; beyond it the oldest recorded are dropped
MAX_EVENTS_PER_REGION = 100_000
#: how far back LookupEvents sees (by eventTime), as Event history on AWS
RETENTION = timedelta(days=90)
MAX_RESULTS = 50
#: LookupEvents calls per second per account and region, as on AWS
DEFAULT_RATE_LIMIT = 2.0
RATE_WINDOW_SECONDS = 1.0


# -- the store ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class HistoryEntry:
    sequence: int  # recording order, breaks eventTime ties
    event_time: datetime
    envelope: dict[str, Any]  # EventBridge envelope; the CloudTrail record is its detail

    @property
    def record(self) -> dict[str, Any]:
        return self.envelope["detail"]

    @property
    def sort_key(self) -> tuple[float, int]:
        return self.event_time.timestamp(), self.sequence


class EventHistoryBackend(BaseBackend):
    """Event history and LookupEvents throttling of one account in one region."""

    def __init__(self, region_name: str, account_id: str):
        super().__init__(region_name, account_id)
        self.entries: deque[HistoryEntry] = deque(maxlen=MAX_EVENTS_PER_REGION)
        #: monotonic times of the LookupEvents calls admitted in the current window
        self.lookup_calls: deque[float] = deque()
        self.throttles_answered = 0


event_history_backends: BackendDict[EventHistoryBackend] = BackendDict(EventHistoryBackend, "cloudtrail")
_sequence = itertools.count()
_lock = threading.RLock()


def parse_event_time(value: str) -> datetime:
    parsed = datetime.fromisoformat(value)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def keep(envelope: dict[str, Any]) -> None:
    """Keep an emitted event in the history of its account (``account``) and region (``region``)."""
    entry = HistoryEntry(next(_sequence), parse_event_time(envelope["detail"]["eventTime"]), envelope)
    with _lock:
        event_history_backends[envelope["account"]][envelope["region"]].entries.append(entry)


def recording_region(record: dict[str, Any]) -> str:
    """Where CloudTrail records the call: us-east-1 for IAM (a global service), else its region."""
    if record.get("eventSource") == "iam.amazonaws.com":
        return cloudtrail.IAM_EVENT_REGION
    return record["awsRegion"]


def record_history(
    record: dict[str, Any], account_id: str | None = None, region: str | None = None
) -> dict[str, Any]:
    """Add a CloudTrail record to the Event history as if CloudTrail had recorded it at its
    ``eventTime`` (nothing is put on EventBridge). Returns the record as kept.

    ``record`` needs ``eventTime``, ``eventSource`` and ``eventName`` (and ``awsRegion`` unless
    ``region`` is given); ``eventID``, ``readOnly`` and ``recipientAccountId`` are filled in when
    missing. ``account_id`` defaults to ``recipientAccountId`` (else moto's default account),
    ``region`` to where CloudTrail records the call (IAM: us-east-1).
    """
    record = dict(record)
    account_id = account_id or record.get("recipientAccountId") or DEFAULT_ACCOUNT_ID
    record.setdefault("eventID", str(uuid.uuid4()))
    record.setdefault("readOnly", record["eventName"].startswith(cloudtrail.READ_ONLY_PREFIXES))
    record.setdefault("recipientAccountId", account_id)
    envelope = cloudtrail.envelope(record, region or recording_region(record))
    envelope["account"] = account_id
    keep(envelope)
    return record


def _backends(account_id: str | None, region: str | None) -> list[EventHistoryBackend]:
    """The backends of one account and/or region (None: every one)."""
    return [
        backend
        for acct, regions in list(event_history_backends.items())
        if account_id is None or acct == account_id
        for reg, backend in list(regions.items())
        if region is None or reg == region
    ]


def recorded_events(account_id: str | None = None, region: str | None = None) -> list[dict[str, Any]]:
    """The EventBridge envelopes of every recorded CloudTrail event (read-only ones included),
    in recording order, optionally only those of one account and/or region (IAM: ``us-east-1``)."""
    with _lock:
        entries = [entry for backend in _backends(account_id, region) for entry in backend.entries]
    return [entry.envelope for entry in sorted(entries, key=lambda entry: entry.sequence)]


# -- what LookupEvents shows of a record ----------------------------------------------------------
def username_of(record: dict[str, Any]) -> str | None:
    """Event history's user name: the IAM user's name, an assumed role's session name, ``root``."""
    identity = record.get("userIdentity") or {}
    kind = identity.get("type")
    if kind == "Root":
        return "root"
    if kind == "AssumedRole":
        return identity.get("arn", "").rsplit("/", 1)[-1] or None
    return identity.get("userName")


#: (eventSource, requestParameters member) -> resource type
RESOURCE_PARAMETERS = {
    ("eks.amazonaws.com", "name"): "AWS::EKS::Cluster",
    ("iam.amazonaws.com", "roleName"): "AWS::IAM::Role",
    ("iam.amazonaws.com", "userName"): "AWS::IAM::User",
}


def resources_of(record: dict[str, Any]) -> list[dict[str, str]]:
    params = record.get("requestParameters") or {}
    return [
        {"ResourceType": resource_type, "ResourceName": params[member]}
        for (source, member), resource_type in RESOURCE_PARAMETERS.items()
        if source == record.get("eventSource") and isinstance(params.get(member), str)
    ]


def read_only_of(record: dict[str, Any]) -> str:
    return "true" if record.get("readOnly") else "false"


def lookup_event(entry: HistoryEntry) -> dict[str, Any]:
    """One ``Event`` of the LookupEvents response."""
    record = entry.record
    event = {
        "EventId": record.get("eventID"),
        "EventName": record.get("eventName"),
        "ReadOnly": read_only_of(record),
        "AccessKeyId": (record.get("userIdentity") or {}).get("accessKeyId"),
        "EventTime": entry.event_time,
        "EventSource": record.get("eventSource"),
        "Username": username_of(record),
        "Resources": resources_of(record),
        "CloudTrailEvent": cloudtrail.record_json(record),
    }
    return {key: value for key, value in event.items() if value is not None}


#: lookup attribute key -> the values a record has for it
ATTRIBUTE_VALUES: dict[str, Callable[[dict[str, Any]], list[Any]]] = {
    "EventId": lambda r: [r.get("eventID")],
    "EventName": lambda r: [r.get("eventName")],
    "EventSource": lambda r: [r.get("eventSource")],
    "ReadOnly": lambda r: [read_only_of(r)],
    "Username": lambda r: [username_of(r)],
    "AccessKeyId": lambda r: [(r.get("userIdentity") or {}).get("accessKeyId")],
    "ResourceType": lambda r: [res["ResourceType"] for res in resources_of(r)],
    "ResourceName": lambda r: [res["ResourceName"] for res in resources_of(r)],
}


# -- errors -----------------------------------------------------------------------------------------
class CloudTrailError(JsonRESTError):
    """A CloudTrail error as botocore parses it (json protocol: ``__type`` and ``message``)."""

    code = 400


def invalid_lookup_attributes(message: str) -> CloudTrailError:
    return CloudTrailError("InvalidLookupAttributesException", message)


def throttling() -> CloudTrailError:
    return CloudTrailError("ThrottlingException", "Rate exceeded")


MSG_ONE_ATTRIBUTE = "You can specify at most one lookup attribute."
MSG_ATTRIBUTE_KEY = "The lookup attribute key {key} is invalid. Valid keys are: " + ", ".join(ATTRIBUTE_VALUES)
MSG_READ_ONLY = "The value of the ReadOnly lookup attribute must be true or false."
MSG_TIME_RANGE = "StartTime must be earlier than or equal to EndTime."
MSG_MAX_RESULTS = f"MaxResults must be between 1 and {MAX_RESULTS}."
MSG_NEXT_TOKEN = "Invalid NextToken. Use the token of the previous call with the same parameters."
MSG_EVENT_CATEGORY = "EventCategory must be insight."


# -- throttling -------------------------------------------------------------------------------------
_rate_limit: float | None = DEFAULT_RATE_LIMIT
_injected_throttles = 0


def set_lookup_rate_limit(per_second: float | None = DEFAULT_RATE_LIMIT) -> float | None:
    """Allow ``per_second`` LookupEvents calls per account and region in any one-second window
    (None: no limit); returns the previous limit. Applies to every account, region and server."""
    global _rate_limit
    with _lock:
        previous, _rate_limit = _rate_limit, per_second
    return previous


def inject_lookup_throttles(count: int) -> None:
    """Answer the next ``count`` LookupEvents calls (of any account and region) with
    ``ThrottlingException``, whatever the rate; 0 cancels what is left of earlier injections."""
    global _injected_throttles
    with _lock:
        _injected_throttles = max(0, count)


def lookup_throttles_answered(account_id: str | None = None, region: str | None = None) -> int:
    """How many ThrottlingExceptions LookupEvents answered (since moto's state was reset)."""
    with _lock:
        return sum(backend.throttles_answered for backend in _backends(account_id, region))


def admit_lookup(backend: EventHistoryBackend) -> None:
    """Count a LookupEvents call against the rate limit; ThrottlingException if over it."""
    global _injected_throttles
    with _lock:
        if _injected_throttles > 0:
            _injected_throttles -= 1
            backend.throttles_answered += 1
            raise throttling()
        if _rate_limit is None:
            return
        now = time.monotonic()
        calls = backend.lookup_calls
        while calls and calls[0] <= now - RATE_WINDOW_SECONDS:
            calls.popleft()
        if len(calls) >= _rate_limit:
            backend.throttles_answered += 1
            raise throttling()
        calls.append(now)


# -- request parameters -----------------------------------------------------------------------------
def parse_time(value: Any) -> datetime | None:
    """StartTime/EndTime as the json protocol sends them (epoch seconds), or already parsed."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    if isinstance(value, (int, float)):
        return datetime.fromtimestamp(value, timezone.utc)
    try:
        return datetime.fromtimestamp(float(value), timezone.utc)
    except ValueError:
        return parse_event_time(str(value))


def lookup_attribute(attributes: list[dict[str, Any]] | None) -> tuple[str, str] | None:
    """The one (key, value) to filter on, or None."""
    if not attributes:
        return None
    if len(attributes) > 1:
        raise invalid_lookup_attributes(MSG_ONE_ATTRIBUTE)
    key, value = attributes[0].get("AttributeKey"), attributes[0].get("AttributeValue")
    if key not in ATTRIBUTE_VALUES:
        raise invalid_lookup_attributes(MSG_ATTRIBUTE_KEY.format(key=key))
    if key == "ReadOnly":
        value = str(value).lower()
        if value not in ("true", "false"):
            raise invalid_lookup_attributes(MSG_READ_ONLY)
    return key, value


def page_size(max_results: Any) -> int:
    if max_results is None:
        return MAX_RESULTS
    if isinstance(max_results, bool) or not isinstance(max_results, int) or not 1 <= max_results <= MAX_RESULTS:
        raise CloudTrailError("InvalidMaxResultsException", MSG_MAX_RESULTS)
    return max_results


# -- NextToken: the position after the last event returned, signed with the query it belongs to -----
_TOKEN_SECRET = secrets.token_bytes(32)


def query_id(*parameters: Any) -> str:
    text = json.dumps(parameters, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def _signature(payload: str) -> str:
    return hmac.new(_TOKEN_SECRET, payload.encode(), hashlib.sha256).hexdigest()


def issue_token(query: str, last: HistoryEntry) -> str:
    timestamp, sequence = last.sort_key
    payload = f"{query}|{timestamp!r}|{sequence}"
    return base64.urlsafe_b64encode(f"{payload}|{_signature(payload)}".encode()).decode()


def token_position(token: str, query: str) -> tuple[float, int]:
    """The sort key of the last event the token's page returned; InvalidNextTokenException for a
    token this emulator did not issue, or issued for other parameters."""
    try:
        payload, signature = base64.urlsafe_b64decode(token.encode()).decode().rsplit("|", 1)
        token_query, timestamp, sequence = payload.split("|")
        if not hmac.compare_digest(signature, _signature(payload)) or token_query != query:
            raise ValueError(token)
        return float(timestamp), int(sequence)
    except (ValueError, UnicodeError, TypeError) as exc:
        raise CloudTrailError("InvalidNextTokenException", MSG_NEXT_TOKEN) from exc


# -- LookupEvents -----------------------------------------------------------------------------------
def lookup_events(
    account_id: str,
    region: str,
    lookup_attributes: list[dict[str, Any]] | None = None,
    start_time: Any = None,
    end_time: Any = None,
    event_category: str | None = None,
    max_results: Any = None,
    next_token: str | None = None,
) -> dict[str, Any]:
    """The LookupEvents response (``Events``, ``NextToken`` when more remain) of one account and
    region; raises the CloudTrail errors AWS answers."""
    backend = event_history_backends[account_id][region]
    admit_lookup(backend)
    size = page_size(max_results)
    attribute = lookup_attribute(lookup_attributes)
    start, end = parse_time(start_time), parse_time(end_time)
    if start is not None and end is not None and start > end:
        raise CloudTrailError("InvalidTimeRangeException", MSG_TIME_RANGE)
    if event_category is not None and event_category != "insight":
        raise CloudTrailError("InvalidEventCategoryException", MSG_EVENT_CATEGORY)
    query = query_id(account_id, region, attribute, start, end, event_category)
    after = token_position(next_token, query) if next_token else None

    oldest = datetime.now(timezone.utc) - RETENTION
    start = max(start, oldest) if start is not None else oldest

    def wanted(entry: HistoryEntry) -> bool:
        if entry.event_time < start or (end is not None and entry.event_time > end):
            return False
        if after is not None and entry.sort_key >= after:
            return False
        return attribute is None or attribute[1] in ATTRIBUTE_VALUES[attribute[0]](entry.record)

    with _lock:
        entries = list(backend.entries)
    # the emulator keeps no Insights events
    matching = [] if event_category == "insight" else [e for e in entries if wanted(e)]
    matching.sort(key=lambda entry: entry.sort_key, reverse=True)
    page = matching[:size]
    response: dict[str, Any] = {"Events": [lookup_event(entry) for entry in page]}
    if len(matching) > size:
        response["NextToken"] = issue_token(query, page[-1])
    return response
