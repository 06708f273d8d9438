"""`eks-guardrail replay`: re-drive dead-letter messages through the guardrail's functions.

The loop and the reading of messages are `eks_guardrail.replay`; this module is the AWS glue
(SQS receive/delete/release, Lambda's synchronous Invoke) and the output.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from typing import Any, Callable, Sequence, TextIO

from ..replay import (
    FAILED,
    InvokeError,
    InvokeResult,
    MessageResult,
    QueueError,
    QueueMessage,
    REPLAYED,
    ReplayRun,
    function_name,
    function_region,
    is_function_ref,
    replay_queue,
)
from . import EXIT_ERROR

#: Long polling, so that an empty answer means an empty queue (short polling samples a subset of servers).
WAIT_SECONDS = 1
#: How long received messages stay hidden while the run goes on (the sweep may run 15 minutes).
DEFAULT_VISIBILITY = 900
#: Synchronous invocations wait for the function: up to Lambda's 15-minute maximum (botocore `Config` options).
LAMBDA_CONFIG = {"read_timeout": 910, "connect_timeout": 10, "retries": {"mode": "standard", "max_attempts": 3}}
SQS_CONFIG = {"retries": {"mode": "standard", "max_attempts": 6}}

NO_CREDENTIALS = "no AWS credentials: configure a profile, or set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY"
_QUEUE_URL = re.compile(r"https?://[^/\s]+/(\d{12})/([A-Za-z0-9_-]{1,80}(?:\.fifo)?)/?")
_QUEUE_ARN = re.compile(r"arn:aws[a-z-]*:sqs:([a-z]{2}(?:-[a-z]+)+-\d):(\d{12}):([A-Za-z0-9_-]{1,80}(?:\.fifo)?)")
_URL_REGION = (
    re.compile(r"https?://sqs\.([a-z]{2}(?:-[a-z]+)+-\d)\.amazonaws\.com(?:\.cn)?/"),
    re.compile(r"https?://([a-z]{2}(?:-[a-z]+)+-\d)\.queue\.amazonaws\.com(?:\.cn)?/"),
)
_MISSING_QUEUE = {"AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist"}

DESCRIPTION = """\
Re-drives the messages of a dead-letter queue through the guardrail's functions, after a fix:
each event is sent to its function with a synchronous Invoke, and the message is deleted only
when the function succeeded; the others are kept (made visible again at the end of the run).

Both kinds of message the stack keeps are understood: the EventBridge rule target's dead-letter
queue (the body is the event; the target function is the TARGET_ARN attribute) and the
functions' on-failure destination (Lambda's invocation record: the event is requestPayload, the
function requestContext.functionArn). --function overrides the target. The queue is read until
it is empty or --max messages; copies of the same event (same event id) are invoked once and
all deleted after a success.

Safe to run twice: the handlers are idempotent by CloudTrail event id (the access-entry
handler through Powertools idempotency, records kept 7 days) and reconcile the current state,
not the change an event describes: an event replayed again, or replayed after Lambda handled
it after all, does not act twice (the IAM-principal handler, which keeps no idempotency
record, may repeat an alert about entries that are still stale).

Each message is reported: replayed (with the handler's answer), failed (the function's error,
kept), error (no function to send it to, or the call failed; kept), invalid (not a JSON
object) or skipped (holds no event); both are kept. Exit status: 0 every message replayed
(or none), 1 some failed or were left in the queue, 2 bad arguments or the queue unreadable.
Permissions: sqs:ReceiveMessage, sqs:DeleteMessage, sqs:ChangeMessageVisibility and
sqs:GetQueueAttributes on the queue, lambda:InvokeFunction on the functions."""


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "replay",
        help="re-drive dead-letter messages through the guardrail's functions (safe to run twice)",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--queue", required=True, metavar="URL", help="the dead-letter queue's URL (or its ARN)")
    parser.add_argument(
        "--function",
        metavar="NAME|ARN",
        type=_function_ref,
        help="invoke this function with every event, whatever the message names (default: the message's target)",
    )
    parser.add_argument("--region", help="region of the queue, and of --function given by name (default: from the URL, else the configured region)")
    parser.add_argument("--max", type=_positive, metavar="N", help="handle at most N messages (default: until the queue is empty)")
    parser.add_argument("--dry-run", action="store_true", help="list what would be replayed; invoke nothing, delete nothing")
    parser.add_argument(
        "--visibility-timeout",
        type=_visibility,
        default=DEFAULT_VISIBILITY,
        metavar="SECONDS",
        help=f"how long received messages stay hidden during the run (default: {DEFAULT_VISIBILITY}); kept ones are made visible again at the end",
    )
    parser.add_argument("--format", choices=("table", "json"), default="table", help="output format (default: table)")
    parser.set_defaults(run=run)


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive whole number, got {text!r}")
    return value


def _visibility(text: str) -> int:
    value = _positive(text)
    if value > 43200:
        raise argparse.ArgumentTypeError("SQS allows at most 43200 seconds (12 hours)")
    return value


def _function_ref(text: str) -> str:
    if not is_function_ref(text):
        raise argparse.ArgumentTypeError(
            f"expected a function name or ARN (arn:aws:lambda:REGION:ACCOUNT:function:NAME), got {text[:100]!r}"
        )
    return text


class ReplaySetupError(RuntimeError):
    """Bad arguments or an unusable environment: exit status 2."""


# --- AWS glue -------------------------------------------------------------------------------------
# botocore is imported by the functions that call AWS: building the parser (`--help`, `evaluate`) must not load it.


def _aws_error(error: Exception, what: str) -> str:
    from botocore.exceptions import ClientError, NoCredentialsError, NoRegionError

    if isinstance(error, NoCredentialsError):
        return NO_CREDENTIALS
    if isinstance(error, NoRegionError):
        return "no region: pass --region, or set AWS_REGION"
    if isinstance(error, ClientError):
        info = error.response.get("Error", {})
        code, message = info.get("Code", "Error"), info.get("Message", "")
        return f"{what}: {code}" + (f": {message}" if message else "")
    return f"{what}: {error}"


class SqsQueue:
    """receive / delete / release over one queue, every AWS error turned into a `QueueError`."""

    def __init__(self, client: Any, url: str, visibility_timeout: int = DEFAULT_VISIBILITY, wait_seconds: int | None = None):
        self.client, self.url = client, url
        self.visibility_timeout = visibility_timeout
        self.wait_seconds = WAIT_SECONDS if wait_seconds is None else wait_seconds

    def _error(self, error: Exception, what: str) -> QueueError:
        from botocore.exceptions import ClientError

        if isinstance(error, ClientError) and error.response.get("Error", {}).get("Code") in _MISSING_QUEUE:
            return QueueError(f"queue does not exist: {self.url}")
        return QueueError(_aws_error(error, f"{what} {self.url}"))

    def receive(self, count: int) -> list[QueueMessage]:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            answer = self.client.receive_message(
                QueueUrl=self.url,
                MaxNumberOfMessages=count,
                WaitTimeSeconds=self.wait_seconds,
                VisibilityTimeout=self.visibility_timeout,
                MessageAttributeNames=["All"],
            )
        except (ClientError, BotoCoreError) as error:
            raise self._error(error, "cannot read the queue") from None
        return [
            QueueMessage(
                message_id=m["MessageId"],
                receipt_handle=m["ReceiptHandle"],
                body=m.get("Body", ""),
                attributes={k: v.get("StringValue", "") for k, v in (m.get("MessageAttributes") or {}).items() if "StringValue" in v},
            )
            for m in answer.get("Messages", [])
        ]

    def delete(self, message: QueueMessage) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            self.client.delete_message(QueueUrl=self.url, ReceiptHandle=message.receipt_handle)
        except (ClientError, BotoCoreError) as error:
            raise self._error(error, "cannot delete the message from") from None

    def release(self, messages: Sequence[QueueMessage]) -> None:
        """Make kept messages visible again now, rather than when the visibility timeout ends."""
        from botocore.exceptions import BotoCoreError, ClientError

        failed: list[str] = []
        for start in range(0, len(messages), 10):
            chunk = messages[start : start + 10]
            entries = [{"Id": str(i), "ReceiptHandle": m.receipt_handle, "VisibilityTimeout": 0} for i, m in enumerate(chunk)]
            try:
                answer = self.client.change_message_visibility_batch(QueueUrl=self.url, Entries=entries)
            except (ClientError, BotoCoreError) as error:
                raise QueueError(
                    f"{len(messages)} kept message(s) become visible again only after the visibility timeout "
                    f"({self.visibility_timeout} s): {_aws_error(error, 'ChangeMessageVisibility')}"
                ) from None
            failed += [f.get("Code", "") for f in answer.get("Failed", [])]
        if failed:
            raise QueueError(f"{len(failed)} kept message(s) become visible again only after the visibility timeout: {failed[0]}")

    def approximate_count(self) -> int | None:
        """For the progress bar only; None when it cannot be read."""
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            attributes = self.client.get_queue_attributes(QueueUrl=self.url, AttributeNames=["ApproximateNumberOfMessages"])
            return int(attributes["Attributes"]["ApproximateNumberOfMessages"])
        except (ClientError, BotoCoreError, KeyError, ValueError):
            return None


class LambdaInvoker:
    """`invoke(function, event)`: Lambda's synchronous Invoke, one client per region."""

    def __init__(self, client_for: Callable[[str], Any], default_region: str):
        self.client_for, self.default_region = client_for, default_region

    def __call__(self, function: str, event: dict[str, Any]) -> InvokeResult:
        from botocore.exceptions import BotoCoreError, ClientError

        client = self.client_for(function_region(function) or self.default_region)
        try:
            answer = client.invoke(
                FunctionName=function,
                InvocationType="RequestResponse",
                Payload=json.dumps(event).encode("utf-8"),
            )
            raw = answer["Payload"].read() if answer.get("Payload") is not None else b""
        except (ClientError, BotoCoreError) as error:
            raise InvokeError(_aws_error(error, f"cannot invoke {function_name(function)}")) from None
        text = raw.decode("utf-8", errors="replace")
        try:
            payload = json.loads(text) if text else None
        except ValueError:
            payload = text
        return InvokeResult(payload=payload, function_error=answer.get("FunctionError"))


def lambda_client(session: Any, region: str) -> Any:
    """The Lambda client for a region (tests replace this with a stubbed one)."""
    from botocore.config import Config

    return session.client("lambda", region_name=region, config=Config(**LAMBDA_CONFIG))


def sqs_client(session: Any, region: str) -> Any:
    from botocore.config import Config

    return session.client("sqs", region_name=region, config=Config(**SQS_CONFIG))


def queue_region(url: str) -> str | None:
    for pattern in _URL_REGION:
        match = pattern.match(url)
        if match:
            return match[1]
    match = _QUEUE_ARN.fullmatch(url)
    return match[1] if match else None


def connect(args: argparse.Namespace) -> tuple[SqsQueue, LambdaInvoker]:
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    queue = args.queue.strip()
    if not (_QUEUE_URL.fullmatch(queue) or _QUEUE_ARN.fullmatch(queue)):
        raise ReplaySetupError(
            f"--queue: expected a queue URL such as https://sqs.eu-west-1.amazonaws.com/111122223333/NAME (or its ARN), got {queue[:100]!r}"
        )
    session = boto3.session.Session()
    region = args.region or queue_region(queue) or session.region_name
    if not region:
        raise ReplaySetupError("no region: pass --region, or set AWS_REGION (or AWS_DEFAULT_REGION)")
    sqs = sqs_client(session, region)
    arn = _QUEUE_ARN.fullmatch(queue)
    if arn:
        try:
            queue = sqs.get_queue_url(QueueName=arn[3], QueueOwnerAWSAccountId=arn[2])["QueueUrl"]
        except (ClientError, BotoCoreError) as error:
            if isinstance(error, ClientError) and error.response.get("Error", {}).get("Code") in _MISSING_QUEUE:
                raise ReplaySetupError(f"queue does not exist: {args.queue}") from None
            raise ReplaySetupError(_aws_error(error, f"cannot find the queue {args.queue}")) from None
    clients: dict[str, Any] = {}

    def client_for(function_region_name: str) -> Any:
        if function_region_name not in clients:
            clients[function_region_name] = lambda_client(session, function_region_name)
        return clients[function_region_name]

    return SqsQueue(sqs, queue, args.visibility_timeout), LambdaInvoker(client_for, region)


# --- the command ----------------------------------------------------------------------------------


def run(args: argparse.Namespace) -> int:
    try:
        queue, invoke = connect(args)
    except ReplaySetupError as error:
        print(f"eks-guardrail: {error}", file=sys.stderr)
        return EXIT_ERROR
    progress = ReplayProgress(total=queue.approximate_count() if sys.stderr.isatty() else None)
    result = replay_queue(
        receive=queue.receive,
        delete=queue.delete,
        invoke=invoke,
        release=queue.release,
        function=args.function,
        max_messages=args.max,
        dry_run=args.dry_run,
        progress=progress,
    )
    progress.done()
    if result.results or not result.error:
        (write_json if args.format == "json" else write_table)(result, queue.url, sys.stdout)
    if result.release_error:
        print(f"eks-guardrail: note: {result.release_error}", file=sys.stderr)
    if result.error:
        print(f"eks-guardrail: {result.error}", file=sys.stderr)
    return result.exit_status


class ReplayProgress:
    """`replaying 12/40: 10 replayed, 2 left` on stderr, redrawn in place; silent when not a terminal."""

    def __init__(self, total: int | None = None, stream: TextIO | None = None, force: bool = False):
        self.stream = stream or sys.stderr
        self.total = total
        self.enabled = force or self.stream.isatty()
        self.drawn = False

    def __call__(self, run: ReplayRun, result: MessageResult) -> None:
        if not self.enabled:
            return
        handled = len(run.results)
        of = f"/{max(self.total, handled)}" if self.total else ""
        verb = "listing" if run.dry_run else "replaying"
        self.stream.write(f"\r{verb} {handled}{of}: {run.count(REPLAYED)} replayed, {run.left} left\033[K")
        self.stream.flush()
        self.drawn = True

    def done(self) -> None:
        if self.enabled and self.drawn:
            self.stream.write("\n")
            self.stream.flush()


def document(result: ReplayRun, queue_url: str) -> dict[str, Any]:
    return {
        "queue": queue_url,
        "dry_run": result.dry_run,
        "messages": [r.to_dict() for r in result.results],
        "summary": result.summary(),
        "error": result.error,
    }


def write_json(result: ReplayRun, queue_url: str, out: TextIO) -> None:
    out.write(json.dumps(document(result, queue_url), indent=2, default=str) + "\n")


def write_table(result: ReplayRun, queue_url: str, out: TextIO) -> None:
    what = "dry run, nothing invoked or deleted" if result.dry_run else "replay"
    out.write(f"queue {queue_url} ({what}): {len(result.results)} message(s)\n")
    if result.results:
        rows = [("RESULT", "EVENT NAME", "EVENT ID", "FUNCTION", "DETAIL")]
        for r in result.results:
            status = r.status + ("" if r.deleted or r.status != REPLAYED else " (kept)")
            rows.append((status, r.event_name or "-", r.event_id or "-", function_name(r.function) if r.function else "-", r.detail))
        widths = [max(len(row[i]) for row in rows) for i in range(4)]
        for row in rows:
            out.write("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row[:4])) + f"  {row[4]}\n")
        for r in result.results:
            if r.original_error and r.status == FAILED:
                out.write(f"  message {r.message_id} first failed with: {r.original_error}\n")
    s = result.summary()
    counts = ", ".join(f"{s[k]} {k}" for k in ("would-replay", "replayed", "failed", "error", "invalid", "skipped") if s.get(k))
    if result.dry_run:
        out.write(f"{counts or 'nothing to replay'}; nothing invoked, nothing deleted\n")
    else:
        out.write(f"{counts or 'nothing to replay'}; {s['invocations']} invocation(s), {s['deleted']} deleted, {s['left']} left in the queue\n")
