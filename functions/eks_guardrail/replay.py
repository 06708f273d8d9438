"""Re-driving dead-letter messages through the guardrail's functions: the pure core.

The deployed stack keeps undelivered and failed events in two kinds of SQS message:

- **EventBridge dead-letter queue** (the rule target's DLQ): the body is the EventBridge event
  itself; the message attributes `RULE_ARN`, `TARGET_ARN`, `ERROR_CODE`, `ERROR_MESSAGE` (and
  `EXHAUSTED_RETRY_CONDITION`, `RETRY_ATTEMPTS`) say where it was going and why it failed;
- **Lambda's on-failure destination** (asynchronous invocation record): the body is
  `{"version": "1.0", "timestamp", "requestContext": {"requestId", "functionArn", "condition",
  "approximateInvokeCount"}, "requestPayload": <the event>, "responseContext": {"statusCode",
  "executedVersion", "functionError"}, "responsePayload": {"errorMessage", "errorType", ...}}`.

`parse_message` turns a body and its attributes into the event and the function to invoke
(`Replayable`), or says why not (`NotReplayable`). `replay_queue` reads a queue until it is
empty (or `max_messages`), invokes the function synchronously once per event, deletes a
message only when the function returned without a `FunctionError`, and hands every other
message back. Everything that touches AWS is passed in (`receive`, `delete`, `invoke`,
`release`), so the loop runs as well on moto, on a stub or on the real handler in-process.

Replaying is safe to repeat: the handlers are idempotent by CloudTrail event id (Powertools
idempotency) and reconcile on the current state, so an event handled twice acts once.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

KIND_EVENTBRIDGE = "eventbridge-dlq"
KIND_LAMBDA = "lambda-failure"

REPLAYED, FAILED, ERROR, INVALID, SKIPPED, WOULD_REPLAY = "replayed", "failed", "error", "invalid", "skipped", "would-replay"

#: A Lambda function ARN, optionally qualified (version or alias).
FUNCTION_ARN = re.compile(
    r"arn:(?P<partition>aws[a-z-]*):lambda:(?P<region>[a-z]{2}(?:-[a-z]+)+-\d):(?P<account>\d{12}):function:"
    r"(?P<name>[A-Za-z0-9_-]{1,64})(?::(?P<qualifier>\$LATEST|[A-Za-z0-9_-]{1,128}))?"
)
#: What `--function` accepts besides a full ARN: a name, optionally `:QUALIFIER`.
FUNCTION_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}(?::(?:\$LATEST|[A-Za-z0-9_-]{1,128}))?")

#: Echoes of untrusted message content are cut to this many characters.
ECHO_LIMIT = 200


class QueueError(RuntimeError):
    """The queue could not be read (or a message not deleted): a clean, one-line message."""


class InvokeError(RuntimeError):
    """The function could not be called at all (not found, not allowed, throttled): a clean message."""


@dataclass(frozen=True)
class QueueMessage:
    """One SQS message as received: `attributes` are its message attributes' string values."""

    message_id: str
    receipt_handle: str
    body: str
    attributes: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class InvokeResult:
    """What a synchronous invocation returned: the payload (parsed JSON, else text) and
    Lambda's `FunctionError` (`Unhandled`, `Handled`), None when the function succeeded."""

    payload: Any
    function_error: str | None = None


@dataclass(frozen=True)
class Replayable:
    kind: str
    event: dict[str, Any]
    function: str
    event_id: str
    event_name: str
    original_error: str = ""


@dataclass(frozen=True)
class NotReplayable:
    status: str  # invalid | skipped | error
    reason: str
    kind: str = ""
    event_id: str = ""
    event_name: str = ""
    function: str = ""
    original_error: str = ""


# --- one message --------------------------------------------------------------------------------


def clip(value: Any, limit: int = ECHO_LIMIT) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str, separators=(",", ":"))
    text = text.replace("\n", " ").replace("\r", " ")
    return text if len(text) <= limit else f"{text[:limit]}… ({len(text)} characters)"


def is_function_ref(value: str) -> bool:
    """A name (`eks-guardrail-access-entry`, optionally `:QUALIFIER`) or a function ARN."""
    return bool(FUNCTION_NAME.fullmatch(value) or FUNCTION_ARN.fullmatch(value))


def function_region(function: str) -> str | None:
    match = FUNCTION_ARN.fullmatch(function)
    return match["region"] if match else None


def function_name(function: str) -> str:
    """The bare name, for people: `arn:...:function:NAME[:Q]` -> `NAME[:Q]`."""
    match = FUNCTION_ARN.fullmatch(function)
    if not match:
        return function
    return match["name"] + (f":{match['qualifier']}" if match["qualifier"] else "")


def _unqualified_latest(arn: str) -> str:
    """Lambda's records name `...:function:NAME:$LATEST`: the same function as the unqualified ARN,
    which is what the EventBridge rule invokes. Other qualifiers (versions, aliases) are kept."""
    return arn[: -len(":$LATEST")] if arn.endswith(":$LATEST") else arn


def is_event(value: Any) -> bool:
    """An EventBridge event (`source`, `detail-type`) or a bare CloudTrail record (`eventSource`, `eventName`)."""
    if not isinstance(value, dict):
        return False
    if isinstance(value.get("source"), str) and isinstance(value.get("detail-type"), str):
        return "detail" not in value or isinstance(value["detail"], dict)
    return isinstance(value.get("eventSource"), str) and isinstance(value.get("eventName"), str)


def event_id(event: Mapping[str, Any]) -> str:
    """The key the handlers' idempotency uses: `detail.eventID || id || eventID`."""
    detail = event.get("detail")
    for candidate in (detail.get("eventID") if isinstance(detail, dict) else None, event.get("id"), event.get("eventID")):
        if isinstance(candidate, str) and candidate:
            return candidate
    return ""


def event_name(event: Mapping[str, Any]) -> str:
    """CloudTrail's `eventName`, else the EventBridge `detail-type` (a scheduled event, for the sweep)."""
    detail = event.get("detail")
    for candidate in (detail.get("eventName") if isinstance(detail, dict) else None, event.get("eventName"), event.get("detail-type")):
        if isinstance(candidate, str) and candidate:
            return candidate
    return ""


def _dlq_error(attributes: Mapping[str, str]) -> str:
    code, message = attributes.get("ERROR_CODE", ""), attributes.get("ERROR_MESSAGE", "")
    return clip(": ".join(part for part in (code, message) if part))


def _record_error(record: Mapping[str, Any]) -> str:
    response = record.get("responsePayload")
    context = record.get("requestContext") if isinstance(record.get("requestContext"), dict) else {}
    parts = []
    if isinstance(response, dict) and (response.get("errorType") or response.get("errorMessage")):
        parts.append(": ".join(str(response[k]) for k in ("errorType", "errorMessage") if response.get(k)))
    elif isinstance(record.get("responseContext"), dict) and record["responseContext"].get("functionError"):
        parts.append(str(record["responseContext"]["functionError"]))
    if context.get("condition"):
        parts.append(f"({context['condition']})")
    return clip(" ".join(parts))


def is_lambda_record(body: Any) -> bool:
    return isinstance(body, dict) and isinstance(body.get("requestContext"), dict) and "requestPayload" in body


def parse_message(body: str, attributes: Mapping[str, str] | None = None, function: str | None = None) -> Replayable | NotReplayable:
    """The event a dead-letter message holds and the function to invoke with it.

    `function` (`--function`) overrides the target the message names. Not JSON, or JSON that is
    not an object: `invalid`. An object holding no event: `skipped`. An event with no Lambda
    function to send it to: `error`.
    """
    attributes = attributes or {}
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        return NotReplayable(INVALID, f"the body is not JSON: {clip(body, 80)!r}")
    if not isinstance(data, dict):
        return NotReplayable(INVALID, f"the body is JSON but not an object: {clip(data, 80)}")

    if is_lambda_record(data):
        kind = KIND_LAMBDA
        context = data["requestContext"]
        original_error = _record_error(data)
        if context.get("condition") == "Success":
            return NotReplayable(SKIPPED, "a record of a successful invocation (on-success destination): nothing to replay", kind, original_error=original_error)
        event = data["requestPayload"]
        named = context.get("functionArn")
        named = _unqualified_latest(named) if isinstance(named, str) else ""
        where = "requestContext.functionArn"
    else:
        kind = KIND_EVENTBRIDGE if attributes.keys() & {"RULE_ARN", "TARGET_ARN", "ERROR_CODE"} or is_event(data) else ""
        event = data
        named = attributes.get("TARGET_ARN", "")
        original_error = _dlq_error(attributes)
        where = "the TARGET_ARN attribute"

    if not is_event(event):
        what = "the invocation record's requestPayload" if kind == KIND_LAMBDA else "the body"
        return NotReplayable(SKIPPED, f"{what} holds no EventBridge event or CloudTrail record", kind, original_error=original_error)
    ident, name = clip(event_id(event), 128), clip(event_name(event), 128)
    if function:
        target = function
    elif not named:
        return NotReplayable(ERROR, "no target function (no TARGET_ARN attribute, no requestContext.functionArn): pass --function", kind, ident, name, original_error=original_error)
    elif not FUNCTION_ARN.fullmatch(named):
        return NotReplayable(
            ERROR, f"{where} is not a Lambda function: {clip(named, 160)} (pass --function to send the event to one)",
            kind, ident, name, clip(named, 160), original_error,
        )
    else:
        target = named
    return Replayable(kind, event, target, ident, name, original_error)


# --- what a function returned -------------------------------------------------------------------


def summarize(payload: Any) -> str:
    """A handler's answer in one line: `evaluated: 1 finding(s); prefer-roles rolled-back`."""
    if not isinstance(payload, dict):
        return clip(payload) if payload is not None else "ok (no payload)"
    parts = [str(payload.get("status") or "ok")]
    details = []
    if isinstance(payload.get("findings"), int):
        details.append(f"{payload['findings']} finding(s)")
    elif isinstance(payload.get("findings"), list):
        details.append(f"{len(payload['findings'])} finding(s)")
    outcomes = payload.get("outcomes")
    if isinstance(outcomes, list) and outcomes:
        details.append(", ".join(f"{o.get('rule')} {o.get('status')}" for o in outcomes if isinstance(o, dict)))
    if payload.get("reason"):
        details.append(str(payload["reason"]))
    if payload.get("alert_failures"):
        details.append(f"alert failures: {payload['alert_failures']}")
    text = parts[0] + (": " + "; ".join(details) if details else "")
    return clip(text, 300)


def describe_failure(result: InvokeResult) -> str:
    payload = result.payload
    if isinstance(payload, dict) and (payload.get("errorType") or payload.get("errorMessage")):
        text = ": ".join(str(payload[k]) for k in ("errorType", "errorMessage") if payload.get(k))
    else:
        text = clip(payload) if payload is not None else ""
    return clip(f"{result.function_error}: {text}" if text else str(result.function_error), 300)


# --- the loop -----------------------------------------------------------------------------------


@dataclass
class MessageResult:
    message_id: str
    status: str
    detail: str
    kind: str = ""
    event_id: str = ""
    event_name: str = ""
    function: str = ""
    original_error: str = ""
    response: Any = None
    deleted: bool = False
    duplicate_of: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "message_id": self.message_id,
            "kind": self.kind,
            "event_id": self.event_id,
            "event_name": self.event_name,
            "function": self.function,
            "status": self.status,
            "detail": self.detail,
            "response": self.response,
            "original_error": self.original_error,
            "duplicate_of": self.duplicate_of or None,
            "deleted": self.deleted,
        }


@dataclass
class ReplayRun:
    dry_run: bool
    results: list[MessageResult] = field(default_factory=list)
    invocations: int = 0
    #: the queue became unreadable: the run stopped there
    error: str | None = None
    #: kept messages could not be made visible again at once (they will be after the visibility timeout)
    release_error: str | None = None

    def count(self, status: str) -> int:
        return sum(1 for r in self.results if r.status == status)

    @property
    def deleted(self) -> int:
        return sum(1 for r in self.results if r.deleted)

    @property
    def left(self) -> int:
        return len(self.results) - self.deleted

    @property
    def exit_status(self) -> int:
        """0 every message replayed (or would be, or none), 1 some failed or were left, 2 queue unreadable."""
        if self.error:
            return 2
        if self.dry_run:
            return 0 if all(r.status == WOULD_REPLAY for r in self.results) else 1
        return 0 if all(r.status == REPLAYED and r.deleted for r in self.results) else 1

    def summary(self) -> dict[str, int]:
        counts = {status: self.count(status) for status in (REPLAYED, FAILED, ERROR, INVALID, SKIPPED, WOULD_REPLAY)}
        return {"messages": len(self.results), **{k: v for k, v in counts.items() if v}, "invocations": self.invocations, "deleted": self.deleted, "left": self.left}


Receive = Callable[[int], Sequence[QueueMessage]]
Delete = Callable[[QueueMessage], None]
Invoke = Callable[[str, dict[str, Any]], InvokeResult]
Release = Callable[[Sequence[QueueMessage]], None]
Progress = Callable[[ReplayRun, MessageResult], None]

#: SQS hands out at most 10 messages per ReceiveMessage.
BATCH = 10


def replay_queue(
    *,
    receive: Receive,
    delete: Delete,
    invoke: Invoke,
    release: Release | None = None,
    function: str | None = None,
    max_messages: int | None = None,
    dry_run: bool = False,
    progress: Progress | None = None,
) -> ReplayRun:
    """Read the queue until it is empty (or `max_messages`), replay each event once, report each message.

    - `receive(n)` returns up to `n` messages and hides them for the run (its visibility timeout);
      an empty answer means the queue is empty. A message seen before in this run (its visibility
      ran out) is not handled again; a batch of only such messages ends the run.
    - `invoke(function, event)` calls the function synchronously; a `FunctionError` is `failed`,
      an `InvokeError` is `error`. Only a success deletes the message (`delete`), and then every
      other copy of the same event (same function and event id) met in the run is deleted without
      a second invocation; copies of an event that failed are kept without being invoked again.
    - `dry_run`: nothing is invoked and nothing deleted; each replayable message is `would-replay`.
    - At the end every message not deleted is handed to `release` (made visible again at once).
    """
    run = ReplayRun(dry_run=dry_run)
    seen: set[str] = set()
    kept: dict[str, QueueMessage] = {}  # message id -> its latest receipt
    first: dict[tuple[str, str], MessageResult] = {}  # (function, event id) -> the copy that was invoked

    try:
        while max_messages is None or len(run.results) < max_messages:
            wanted = BATCH if max_messages is None else min(BATCH, max_messages - len(run.results))
            try:
                batch = list(receive(wanted))
            except QueueError as error:
                run.error = str(error)
                break
            fresh = []
            for message in batch:
                if message.message_id in seen:
                    if message.message_id in kept:
                        kept[message.message_id] = message  # the latest receipt handle counts
                else:
                    seen.add(message.message_id)
                    fresh.append(message)
            if not fresh:
                break
            for message in fresh:
                kept[message.message_id] = message
                result = _replay_one(message, run, first, delete, invoke, function, dry_run)
                run.results.append(result)
                if result.deleted:
                    del kept[message.message_id]
                if progress is not None:
                    progress(run, result)
    finally:
        # also when interrupted: what was received and not deleted is handed back at once
        if release is not None and kept:
            try:
                release(list(kept.values()))
            except QueueError as error:
                run.release_error = str(error)
    return run


def _replay_one(
    message: QueueMessage,
    run: ReplayRun,
    first: dict[tuple[str, str], MessageResult],
    delete: Delete,
    invoke: Invoke,
    function: str | None,
    dry_run: bool,
) -> MessageResult:
    parsed = parse_message(message.body, message.attributes, function)
    if isinstance(parsed, NotReplayable):
        return MessageResult(
            message.message_id, parsed.status, parsed.reason, parsed.kind, parsed.event_id, parsed.event_name,
            parsed.function, parsed.original_error,
        )
    result = MessageResult(
        message.message_id, "", "", parsed.kind, parsed.event_id, parsed.event_name, parsed.function, parsed.original_error
    )
    key = (parsed.function, parsed.event_id)
    earlier = first.get(key) if parsed.event_id else None
    if earlier is not None:
        result.duplicate_of = earlier.message_id
        result.status, result.response = earlier.status, earlier.response
        if earlier.status == REPLAYED:
            result.detail = f"duplicate of message {earlier.message_id}, replayed once in this run"
            _delete(message, result, delete)
        elif earlier.status == WOULD_REPLAY:
            result.detail = f"duplicate of message {earlier.message_id}: would be invoked once, every copy deleted"
        else:
            result.detail = f"duplicate of message {earlier.message_id} ({earlier.status} in this run), not invoked again"
        return result
    if parsed.event_id:
        first[key] = result

    if dry_run:
        result.status, result.detail = WOULD_REPLAY, f"would invoke {function_name(parsed.function)}"
        return result
    try:
        run.invocations += 1
        answer = invoke(parsed.function, parsed.event)
    except InvokeError as error:
        result.status, result.detail = ERROR, clip(str(error), 300)
        return result
    result.response = answer.payload
    if answer.function_error:
        result.status, result.detail = FAILED, describe_failure(answer)
        return result
    result.status, result.detail = REPLAYED, summarize(answer.payload)
    _delete(message, result, delete)
    return result


def _delete(message: QueueMessage, result: MessageResult, delete: Delete) -> None:
    try:
        delete(message)
    except QueueError as error:
        result.detail = clip(f"{result.detail}; not deleted: {error}", 400)
    else:
        result.deleted = True
