"""CloudTrail records of emulated calls, put EventBridge-wrapped on moto's default bus.

Each record follows the real ones kept under ``tests/events`` (eventVersion 1.09 layout).
EKS records go to the bus of the call's region, IAM records (a global service) to us-east-1
(aws-facts F). Read-only calls (Describe*/List*/Get*) are recorded in the Event history only
(:mod:`.history`, which answers LookupEvents): on AWS, ordinary rules never see them (they need
the all-management-events rule state).
"""

from __future__ import annotations

import json
import logging
import re
import uuid
from datetime import datetime, timezone
from typing import Any
from urllib.parse import quote

log = logging.getLogger(__name__)

DETAIL_TYPE = "AWS API Call via CloudTrail"
IAM_EVENT_REGION = "us-east-1"
READ_ONLY_PREFIXES = ("Describe", "List", "Get")


def _iso(ts: datetime) -> str:
    return ts.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def iam_date(ts: datetime) -> str:
    """IAM's CloudTrail timestamp style: ``Aug 1, 2024 1:37:41 PM``."""
    ts = ts.astimezone(timezone.utc) if ts.tzinfo else ts
    hour = ts.hour % 12 or 12
    return f"{ts:%b} {ts.day}, {ts.year} {hour}:{ts:%M:%S} {'AM' if ts.hour < 12 else 'PM'}"


# -- caller identity ---------------------------------------------------------------------------
def user_identity(access_key: str, account_id: str) -> dict[str, Any]:
    """The CloudTrail ``userIdentity`` of the caller holding ``access_key``.

    moto maps keys from ``sts.assume_role`` to assumed roles (STS backend) and IAM access keys
    to users (IAM backend); any other key is treated as the account root.
    """
    from moto.iam.models import iam_backends
    from moto.sts.models import sts_backends

    for sts_account in list(sts_backends.keys()):
        for partition in list(sts_backends[sts_account].keys()):
            sts = sts_backends[sts_account][partition]
            assumed = sts.get_assumed_role_from_access_key(access_key)
            if assumed is None:
                continue
            role_arn = assumed.role_arn
            role_account = role_arn.split(":")[4] or account_id
            issuer: dict[str, Any] = {
                "type": "Role",
                "principalId": assumed.user_id.split(":")[0],
                "arn": role_arn,
                "accountId": role_account,
                "userName": role_arn.rsplit("/", 1)[-1],
            }
            return {
                "type": "AssumedRole",
                "principalId": assumed.user_id,
                "arn": assumed.arn,
                "accountId": role_account,
                "accessKeyId": access_key,
                "sessionContext": {
                    "sessionIssuer": issuer,
                    "webIdFederationData": {},
                    "attributes": {
                        # moto keeps no issue time for the session; "now" stands in for it
                        "creationDate": _iso(datetime.now(timezone.utc)),
                        "mfaAuthenticated": "false",
                    },
                },
            }
    for iam_account in list(iam_backends.keys()):
        iam = iam_backends[iam_account]["aws"]
        if access_key in iam.access_keys:
            user = iam.get_user_from_access_key_id(access_key)
            if user is not None:
                return {
                    "type": "IAMUser",
                    "principalId": user.id,
                    "arn": user.arn,
                    "accountId": user.account_id,
                    "accessKeyId": access_key,
                    "userName": user.name,
                }
    return {
        "type": "Root",
        "principalId": account_id,
        "arn": f"arn:aws:iam::{account_id}:root",
        "accountId": account_id,
        "accessKeyId": access_key,
    }


def principal_arn_of(identity: dict[str, Any]) -> str:
    """The IAM principal behind a userIdentity (an assumed role's role ARN)."""
    if identity.get("type") == "AssumedRole":
        return identity["sessionContext"]["sessionIssuer"]["arn"]
    return identity["arn"]


# -- request parameters -----------------------------------------------------------------------
def encode_path_value(value: str) -> str:
    """Path parameters as CloudTrail keeps them: URL-encoded, ``/`` and ``:`` included."""
    return quote(value, safe="")


def eks_request_parameters(operation_model: Any, uri_params: dict[str, Any], querystring: dict[str, Any], body: Any) -> dict[str, Any]:
    params: dict[str, Any] = {}
    shape = operation_model.input_shape
    members = shape.members if shape is not None else {}
    for member_name, member in members.items():
        location = member.serialization.get("location")
        wire = member.serialization.get("name", member_name)
        if location == "uri" and wire in uri_params:
            value = uri_params[wire]
            # `name` (the cluster) never needs encoding; ARNs do.
            params[wire] = encode_path_value(value) if wire != "name" else value
        elif location == "querystring" and wire in querystring:
            raw = querystring[wire]
            if member.type_name == "list":
                # repeated query members (UntagResource's tagKeys) are kept as a list
                params[wire] = list(raw) if isinstance(raw, list) else [raw]
                continue
            value = raw[0] if isinstance(raw, list) else raw
            if member.type_name == "integer":
                try:
                    value = int(value)
                except ValueError:
                    pass
            params[wire] = value
    if isinstance(body, dict):
        params.update(body)
    return params


def _lower_first(key: str) -> str:
    return key[:1].lower() + key[1:]


def iam_request_parameters(params: dict[str, Any]) -> dict[str, Any]:
    def convert(value: Any) -> Any:
        if isinstance(value, dict):
            return {_lower_first(k): convert(v) for k, v in value.items()}
        if isinstance(value, list):
            return [convert(v) for v in value]
        return value

    return convert(dict(params))


# -- records -----------------------------------------------------------------------------------
def build_record(
    *,
    event_source: str,
    event_name: str,
    region: str,
    account_id: str,
    identity: dict[str, Any],
    request_parameters: dict[str, Any] | None,
    response_elements: Any,
    request_id: str,
    source_ip: str,
    user_agent: str,
    error_code: str | None = None,
    error_message: str | None = None,
) -> dict[str, Any]:
    ts = datetime.now(timezone.utc)
    record: dict[str, Any] = {
        "eventVersion": "1.09",
        "userIdentity": identity,
        "eventTime": _iso(ts),
        "eventSource": event_source,
        "eventName": event_name,
        "awsRegion": region,
        "sourceIPAddress": source_ip,
        "userAgent": user_agent,
    }
    if error_code:
        record["errorCode"] = error_code
        record["errorMessage"] = error_message or ""
    record.update(
        {
            "requestParameters": request_parameters,
            "responseElements": response_elements,
            "requestID": request_id,
            "eventID": str(uuid.uuid4()),
            "readOnly": event_name.startswith(READ_ONLY_PREFIXES),
            "eventType": "AwsApiCall",
            "managementEvent": True,
            "recipientAccountId": account_id,
            "eventCategory": "Management",
        }
    )
    return record


def record_json(record: dict[str, Any]) -> str:
    """The record as JSON, as the bus carries it and LookupEvents' ``CloudTrailEvent`` holds it."""
    return json.dumps(record, default=str)


def envelope(record: dict[str, Any], bus_region: str) -> dict[str, Any]:
    source = "aws." + record["eventSource"].split(".", 1)[0]
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": DETAIL_TYPE,
        "source": source,
        "account": record["recipientAccountId"],
        "time": record["eventTime"],
        "region": bus_region,
        "resources": [],
        "detail": record,
    }


def publish(record: dict[str, Any], bus_region: str) -> dict[str, Any]:
    """Keep the record in the Event history (:mod:`.history`) and, unless read-only, put it on
    the default bus of ``bus_region``.

    Returns the EventBridge envelope. Failures of rule targets never reach the caller.
    """
    from moto.events.models import events_backends

    from .history import keep

    account_id = record["recipientAccountId"]
    env = envelope(record, bus_region)
    if not record["readOnly"]:
        try:
            entries = events_backends[account_id][bus_region].put_events(
                [
                    {
                        "Source": env["source"],
                        "DetailType": DETAIL_TYPE,
                        "Detail": record_json(record),
                        # moto's events backend takes epoch seconds (what its API passes)
                        # and turns them into the ISO form when delivering to targets
                        "Time": datetime.strptime(env["time"], "%Y-%m-%dT%H:%M:%SZ")
                        .replace(tzinfo=timezone.utc)
                        .timestamp(),
                        "Resources": [],
                    }
                ]
            )
            if entries and entries[0].get("EventId"):
                env["id"] = entries[0]["EventId"]
        except Exception:  # a broken target must not break the emulated call
            log.warning("putting %s on the default bus failed", record["eventName"], exc_info=True)
    keep(env)
    return env


_XML_CODE = re.compile(r"<Code>([^<]*)</Code>")
_XML_MESSAGE = re.compile(r"<Message>([^<]*)</Message>")


def error_from_response(headers: dict[str, Any], body: Any) -> tuple[str, str]:
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else str(body or "")
    code = ""
    for key, value in headers.items():
        if key.lower() == "x-amzn-errortype":
            code = str(value).split(":", 1)[0]
    message = ""
    try:
        data = json.loads(text)
        if isinstance(data, dict):
            message = data.get("message") or data.get("Message") or ""
            code = code or data.get("__type", "")
    except ValueError:
        m = _XML_CODE.search(text)
        if m:
            code = code or m.group(1)
        m = _XML_MESSAGE.search(text)
        if m:
            message = m.group(1)
    return code, message
