"""Dead-letter and failure queues: encrypted, TLS only, kept 14 days."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from ..nag import acknowledge


def dead_letter_queue(scope: Construct, construct_id: str, what: str) -> sqs.Queue:
    """A queue that is itself the last stop for failed events (`what` says whose)."""
    queue = sqs.Queue(
        scope,
        construct_id,
        # SSE-SQS: EventBridge can deliver to it without a key policy (it cannot use the AWS-managed SQS KMS key).
        encryption=sqs.QueueEncryption.SQS_MANAGED,
        enforce_ssl=True,
        retention_period=Duration.days(14),
    )
    acknowledge(
        queue,
        "AwsSolutions-SQS3",
        f"This queue is the dead-letter queue of {what}; a dead-letter queue of a dead-letter queue would only hide "
        "failures. An alarm fires as soon as it holds a message.",
    )
    return queue
