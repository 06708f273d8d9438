"""The pending-decisions item: two handlers writing the same cluster at once lose nothing."""

from __future__ import annotations

import boto3

from eks_guardrail.adapters.ledger import PendingDecisions
from eks_guardrail.local import mock_aws


class RacingClient:
    """A DynamoDB client whose first read is followed by another handler's write."""

    def __init__(self, client, other: PendingDecisions):
        self._client, self._other, self._raced = client, other, False
        self.exceptions = client.exceptions

    def get_item(self, **kwargs):
        answer = self._client.get_item(**kwargs)
        if not self._raced:
            self._raced = True
            self._other.update("111122223333", "eu-west-1", "prod", {"arn:aws:iam::111122223333:role/B": {"status": "refused"}})
        return answer

    def put_item(self, **kwargs):
        return self._client.put_item(**kwargs)


def test_a_concurrent_writer_is_merged_not_overwritten():
    with mock_aws():
        ddb = boto3.client("dynamodb", region_name="eu-west-1")
        ddb.create_table(
            TableName="ledger", BillingMode="PAY_PER_REQUEST",
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}, {"AttributeName": "sk", "AttributeType": "S"}],
        )
        other = PendingDecisions(ddb, "ledger")
        racing = PendingDecisions(RacingClient(ddb, other), "ledger")

        racing.update("111122223333", "eu-west-1", "prod", {"arn:aws:iam::111122223333:role/A": {"status": "failed"}})

        stored = other.of_cluster("111122223333", "eu-west-1", "prod")
        assert stored == {"arn:aws:iam::111122223333:role/A": {"status": "failed"}, "arn:aws:iam::111122223333:role/B": {"status": "refused"}}
        racing.update("111122223333", "eu-west-1", "prod", {"arn:aws:iam::111122223333:role/A": None})
        assert other.of_cluster("111122223333", "eu-west-1", "prod") == {"arn:aws:iam::111122223333:role/B": {"status": "refused"}}
