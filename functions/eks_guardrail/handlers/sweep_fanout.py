"""The sweep fanned out on SQS: the scheduled run lists the clusters and sends one message per
cluster; a worker sweeps one cluster per message (`sweep_worker.py`). No invocation depends on
the number of clusters but the lister's (one ListClusters page per 100, one SendMessageBatch
per 10).

A run is a record in the ledger table: the clusters sent, and those swept or failed (sets, so
SQS's at-least-once delivery counts a cluster once). Whichever invocation completes the run,
the lister or the last worker, claims it with a conditional write and reports one summary
(clusters swept, findings, failures, duration). A cluster whose last delivery fails is
counted failed and still raised, so SQS moves its message to the dead-letter queue (alarmed).
"""

from __future__ import annotations

import json
import logging
import uuid
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from ..adapters.iam import IamPrincipals
from ..enforcement.enforcer import Outcome
from ..sweep.snapshot import ClusterRef

if TYPE_CHECKING:
    from .sweep_app import SweepApp

log = logging.getLogger(__name__)

#: SendMessageBatch takes at most 10 messages.
SEND_BATCH = 10
#: A failed cluster's first retry after this many seconds, doubling per delivery (at most 15 minutes).
RETRY_AFTER_S = 60


class SweepRuns:
    """Runs of the fanned-out sweep, one item each (`pk` = "sweep-run", `sk` = account/run)."""

    def __init__(self, dynamodb_client: Any, table: str, account: str):
        self._ddb, self._table, self._account = dynamodb_client, table, account

    def _key(self, run: str) -> dict[str, Any]:
        return {"pk": {"S": "sweep-run"}, "sk": {"S": f"{self._account}/{run}"}}

    def start(self, run: str, started_at: datetime) -> None:
        item = {**self._key(run), "started_at": {"S": started_at.isoformat(timespec="seconds")}, "findings": {"M": {}}}
        self._ddb.put_item(TableName=self._table, Item=item)

    def sent(self, run: str, count: int) -> dict[str, Any] | None:
        """The lister sent `count` messages; the run's summary when this completes it."""
        return self._update(run, "SET expected = :n", {":n": {"N": str(count)}})

    def swept(self, run: str, cluster: str, findings: int) -> dict[str, Any] | None:
        """A worker swept a cluster (`region/name`); the run's summary when this completes it."""
        return self._update(run, "ADD swept :c SET findings.#c = :f", {":c": {"SS": [cluster]}, ":f": {"N": str(findings)}}, {"#c": cluster})

    def failed(self, run: str, cluster: str) -> dict[str, Any] | None:
        """A cluster's last delivery failed; the run's summary when this completes it."""
        return self._update(run, "ADD failed :c", {":c": {"SS": [cluster]}})

    def _update(self, run: str, expression: str, values: dict[str, Any], names: dict[str, str] | None = None) -> dict[str, Any] | None:
        item = self._ddb.update_item(
            TableName=self._table,
            Key=self._key(run),
            UpdateExpression=expression,
            ExpressionAttributeValues=values,
            **({"ExpressionAttributeNames": names} if names else {}),
            ReturnValues="ALL_NEW",
        )["Attributes"]
        summary = run_summary(run, item)
        if summary is None or not self._claim(run):
            return None
        return summary

    def _claim(self, run: str) -> bool:
        """Exactly one invocation reports a completed run."""
        try:
            self._ddb.update_item(
                TableName=self._table,
                Key=self._key(run),
                UpdateExpression="SET reported = :t",
                ConditionExpression="attribute_not_exists(reported)",
                ExpressionAttributeValues={":t": {"BOOL": True}},
            )
            return True
        except self._ddb.exceptions.ConditionalCheckFailedException:
            return False


def run_summary(run: str, item: dict[str, Any], now: datetime | None = None) -> dict[str, Any] | None:
    """The summary of a run whose every cluster is swept or failed; None while some are not."""
    if "expected" not in item:
        return None  # the lister is still sending
    swept = set(item.get("swept", {}).get("SS", []))
    failed = set(item.get("failed", {}).get("SS", [])) - swept  # a retry that succeeded counts as swept
    expected = int(item["expected"]["N"])
    if len(swept) + len(failed) < expected:
        return None
    started = datetime.fromisoformat(item["started_at"]["S"])
    return {
        "run": run,
        "clusters": expected,
        "swept": len(swept),
        "failed": sorted(failed),
        "findings": sum(int(v["N"]) for v in item.get("findings", {}).get("M", {}).values()),
        "duration_s": round(((now or datetime.now(timezone.utc)) - started).total_seconds(), 1),
    }


def cluster_message(run: str, account: str, ref: ClusterRef) -> dict[str, str]:
    return {"run": run, "account": account, "region": ref.region, "cluster": ref.name}


def fan_out(app: "SweepApp", account: str, refs: list[ClusterRef], errors: list[str], done_before: list[Outcome]) -> dict[str, Any]:
    """The lister: one message per cluster, then what only the account level does (deferred
    creator removals, findings of clusters that no longer exist)."""
    started = datetime.now(timezone.utc)
    run = f"{started:%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:8]}"
    runs = SweepRuns(app.clients.client("dynamodb"), app.settings.ledger_table, account)
    runs.start(run, started)
    sqs = app.clients.client("sqs")
    messages = [cluster_message(run, account, ref) for ref in refs]
    unsent: list[str] = []
    for i in range(0, len(messages), SEND_BATCH):
        batch = messages[i : i + SEND_BATCH]
        try:
            answer = sqs.send_message_batch(
                QueueUrl=app.settings.sweep_queue_url,
                Entries=[{"Id": str(n), "MessageBody": json.dumps(m, sort_keys=True)} for n, m in enumerate(batch)],
            )
            failed = [(batch[int(f["Id"])], f.get("Code")) for f in answer.get("Failed", [])]
        except (BotoCoreError, ClientError) as error:  # the other batches are still sent; the run completes without these
            failed = [(m, type(error).__name__) for m in batch]
        unsent += [f"{m['region']}/{m['cluster']}: not sent: {code}" for m, code in failed]
    failed_alerts = app.reporter.report(done_before)
    failed_alerts += app.forget_gone_clusters(account, refs, errors)
    for error in [*errors, *unsent]:
        log.error("sweep: %s", error)
        app.reporter.count("SweepErrors")
    summary = {
        "account": account,
        "run": run,
        "clusters": len(refs),
        "sent": len(refs) - len(unsent),
        "acted": [{"rule": o.finding.rule, "status": o.status, "detail": o.detail} for o in done_before],
        "errors": [*errors, *unsent],
        "alert_failures": failed_alerts,
    }
    log.info("sweep fanned out", extra={"summary": summary})
    completed = runs.sent(run, len(refs) - len(unsent))
    if completed:  # no cluster, or the workers were quicker than the last SendMessageBatch
        report_run(app, completed)
    return summary


def report_run(app: "SweepApp", summary: dict[str, Any]) -> None:
    """One summary per run: a log line and metrics."""
    log.info("sweep run done", extra={"run_summary": summary})
    for name, value in (("SweepClusters", summary["clusters"]), ("SweepFindings", summary["findings"]), ("SweepFailures", len(summary["failed"]))):
        app.reporter.gauge(name, value)
    app.reporter.gauge("SweepDuration", summary["duration_s"], unit="Seconds")


class MalformedSweepMessage(ValueError):
    """A message the lister did not write: retried, then kept by the dead-letter queue."""


class ClusterNotSwept(RuntimeError):
    """The cluster could not be read or judged: SQS delivers the message again."""


class SweepWorker:
    """One cluster per message, with the sweep app's code."""

    def __init__(self, app: "SweepApp"):
        self.app = app
        #: IAM answers of the run this container is working on: the run's clusters share their
        #: principals, so each is looked up once per container and run, not once per cluster.
        self._principals: tuple[str, IamPrincipals] | None = None

    def principals(self, run: str, account: str) -> IamPrincipals:
        if self._principals is None or self._principals[0] != f"{account}/{run}":
            self._principals = (f"{account}/{run}", IamPrincipals(self.app.clients.client("iam"), account))
        principals = self._principals[1]
        principals.forget_failures()  # a throttle or a denial is asked again, not remembered for the run
        return principals

    def handle(self, event: dict[str, Any], lambda_context: Any = None) -> dict[str, Any]:
        """An SQS event: each record processed; `batchItemFailures` names those that failed."""
        from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response

        processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)  # each failure reported alone
        return process_partial_response(event=event, record_handler=lambda record: self.process(record.raw_event), processor=processor, context=lambda_context)

    def process(self, record: dict[str, Any]) -> dict[str, Any]:
        """Sweep the message's cluster; raises when it could not (the record is then reported
        failed, and SQS retries it, then moves it to the dead-letter queue)."""
        message = _message(record)
        run, account, ref = message["run"], message["account"], ClusterRef(message["region"], message["cluster"])
        key = f"{ref.region}/{ref.name}"
        summary = self.app.sweep(account, [ref], memory_scope=f"{account}/{key}", principals=self.principals(run, account))
        runs = SweepRuns(self.app.clients.client("dynamodb"), self.app.settings.ledger_table, account)
        if summary["unswept"]:  # not read or not judged; a cluster deleted since the message was sent is done
            receives = int((record.get("attributes") or {}).get("ApproximateReceiveCount", "1"))
            if receives >= self.app.settings.sweep_max_receives:
                completed = runs.failed(run, key)
                if completed:
                    report_run(self.app, completed)
            else:
                self._retry_soon(record, receives)
            raise ClusterNotSwept(f"{key}: {'; '.join(summary['errors'])[:500]} (delivery {receives} of {self.app.settings.sweep_max_receives})")
        completed = runs.swept(run, key, summary["findings"])
        if completed:
            report_run(self.app, completed)
        return summary


    def _retry_soon(self, record: dict[str, Any], receives: int) -> None:
        """Deliver a failed cluster again in minutes (1, 2, 4, ...), not after the queue's
        visibility timeout (six times the worker's timeout, an hour)."""
        queue = self.app.settings.sweep_queue_url or _queue_url(record.get("eventSourceARN", ""))
        if not queue or not record.get("receiptHandle"):
            return
        try:
            self.app.clients.client("sqs").change_message_visibility(
                QueueUrl=queue, ReceiptHandle=record["receiptHandle"], VisibilityTimeout=min(RETRY_AFTER_S * 2 ** (receives - 1), 900)
            )
        except Exception as error:  # the queue's own visibility timeout still brings it back
            log.warning("sweep: could not shorten the retry delay: %s", error)


def _queue_url(arn: str) -> str | None:
    parts = arn.split(":")
    return f"https://sqs.{parts[3]}.amazonaws.com/{parts[4]}/{parts[5]}" if len(parts) == 6 else None


def _message(record: dict[str, Any]) -> dict[str, str]:
    try:
        message = json.loads(record["body"])
    except (KeyError, TypeError, ValueError) as error:
        raise MalformedSweepMessage(f"not a sweep message: {error}") from None
    if not isinstance(message, dict) or not all(isinstance(message.get(k), str) and message.get(k) for k in ("run", "account", "region", "cluster")):
        raise MalformedSweepMessage(f"not a sweep message: expected run, account, region and cluster, got {str(message)[:200]}")
    return message
