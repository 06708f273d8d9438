"""Dead-letter and failure queues, and the sweep's work queue: encrypted (SSE-SQS), TLS only."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from ..nag import acknowledge

#: How long a dead-letter queue keeps a message: SQS's maximum.
DEAD_LETTER_RETENTION = Duration.days(14)


def dead_letter_queue(scope: Construct, construct_id: str, what: str, *, queue_name: str | None = None) -> sqs.Queue:
    """A queue that is itself the last stop for failed events (`what` says whose)."""
    queue = sqs.Queue(
        scope,
        construct_id,
        queue_name=queue_name,
        # SSE-SQS: EventBridge can deliver to it without a key policy (it cannot use the AWS-managed SQS KMS key).
        encryption=sqs.QueueEncryption.SQS_MANAGED,
        enforce_ssl=True,
        retention_period=DEAD_LETTER_RETENTION,
    )
    acknowledge(
        queue,
        "AwsSolutions-SQS3",
        f"This queue is the dead-letter queue of {what}; a dead-letter queue of a dead-letter queue would only hide "
        "failures. An alarm fires as soon as it holds a message.",
    )
    return queue


def work_queue(
    scope: Construct,
    construct_id: str,
    *,
    queue_name: str,
    visibility_timeout: Duration,
    dead_letter_queue: sqs.IQueue,
    max_receive_count: int,
) -> sqs.Queue:
    """A queue a Lambda function consumes (SQS event source): after `max_receive_count` receives a message goes to `dead_letter_queue`.

    SSE-SQS like the other queues: its producer (a function) needs no KMS permission either.
    """
    return sqs.Queue(
        scope,
        construct_id,
        queue_name=queue_name,
        encryption=sqs.QueueEncryption.SQS_MANAGED,
        enforce_ssl=True,
        visibility_timeout=visibility_timeout,
        dead_letter_queue=sqs.DeadLetterQueue(queue=dead_letter_queue, max_receive_count=max_receive_count),
    )
