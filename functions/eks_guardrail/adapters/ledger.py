"""The ledger: last known good state of every access entry, in DynamoDB.

Reverting an update or restoring a deleted entry needs the state before the change, which
the event does not carry. The handler writes an entry here whenever it sees a compliant
change, and the sweep refreshes it. Key: `pk` = `ACCOUNT/REGION/CLUSTER`, `sk` = principal ARN.
"""

from __future__ import annotations

import json
import time
from concurrent.futures import Executor
from datetime import datetime, timezone
from typing import Any, Callable, Iterable

from ..state import Association, EntryState


def _pk(account: str, region: str, cluster: str) -> str:
    return f"{account}/{region}/{cluster}"


def entry_to_json(entry: EntryState) -> str:
    return json.dumps(
        {
            "cluster": entry.cluster,
            "principal_arn": entry.principal_arn,
            "entry_type": entry.entry_type,
            "username": entry.username,
            "groups": list(entry.groups),
            "tags": dict(entry.tags),
            "associations": [
                {"policy_arn": a.policy_arn, "scope_type": a.scope_type, "namespaces": list(a.namespaces)}
                for a in entry.associations
            ],
        },
        sort_keys=True,
    )


def entry_from_json(text: str) -> EntryState:
    data = json.loads(text)
    return EntryState(
        cluster=data["cluster"],
        principal_arn=data["principal_arn"],
        entry_type=data["entry_type"],
        username=data.get("username"),
        groups=tuple(data.get("groups") or ()),
        tags=data.get("tags") or {},
        associations=tuple(
            Association(a["policy_arn"], a["scope_type"], tuple(a.get("namespaces") or ())) for a in data.get("associations") or ()
        ),
    )


class DynamoDbLedger:
    def __init__(self, dynamodb_client: Any, table_name: str):
        self._ddb = dynamodb_client
        self._table = table_name

    def get(self, account: str, region: str, cluster: str, principal_arn: str) -> EntryState | None:
        item = self._ddb.get_item(
            TableName=self._table,
            Key={"pk": {"S": _pk(account, region, cluster)}, "sk": {"S": principal_arn}},
            ConsistentRead=True,
        ).get("Item")
        return entry_from_json(item["entry"]["S"]) if item else None

    def put(self, account: str, region: str, entry: EntryState, *, source: str) -> None:
        self._ddb.put_item(TableName=self._table, Item=self._item(account, region, entry, source))

    @staticmethod
    def _item(account: str, region: str, entry: EntryState, source: str, recorded_at: str | None = None) -> dict[str, Any]:
        return {
            "pk": {"S": _pk(account, region, entry.cluster)},
            "sk": {"S": entry.principal_arn},
            "entry": {"S": entry_to_json(entry)},
            "recorded_at": {"S": recorded_at or datetime.now(timezone.utc).isoformat(timespec="seconds")},
            "source": {"S": source},
        }

    def put_if_absent(self, account: str, region: str, entry: EntryState, *, source: str) -> bool:
        """Record `entry` unless the ledger has a record of it already; True when it was written."""
        try:
            self._ddb.put_item(TableName=self._table, Item=self._item(account, region, entry, source), ConditionExpression="attribute_not_exists(pk)")
            return True
        except self._ddb.exceptions.ConditionalCheckFailedException:
            return False

    def put_many(self, account: str, entries: Iterable[tuple[str, EntryState]], *, source: str, pool: Executor | None = None) -> int:
        """Record many `(region, entry)` at once: BatchWriteItem, 25 a call, calls run in `pool`."""
        recorded_at = datetime.now(timezone.utc).isoformat(timespec="seconds")
        requests = [{"PutRequest": {"Item": self._item(account, region, entry, source, recorded_at)}} for region, entry in entries]
        batches = [requests[i : i + BATCH_WRITE] for i in range(0, len(requests), BATCH_WRITE)]
        for _ in (pool.map if pool else map)(lambda batch: batch_write(self._ddb, self._table, batch), batches):
            pass
        return len(requests)

    def delete(self, account: str, region: str, cluster: str, principal_arn: str) -> None:
        self._ddb.delete_item(TableName=self._table, Key={"pk": {"S": _pk(account, region, cluster)}, "sk": {"S": principal_arn}})

    def of_cluster(self, account: str, region: str, cluster: str) -> dict[str, EntryState]:
        """Every entry of one cluster the ledger knows (the sweep restores those that vanished unseen)."""
        known: dict[str, EntryState] = {}
        for page in self._ddb.get_paginator("query").paginate(
            TableName=self._table,
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues={":pk": {"S": _pk(account, region, cluster)}},
            ConsistentRead=True,
        ):
            for item in page.get("Items", []):
                known[item["sk"]["S"]] = entry_from_json(item["entry"]["S"])
        return known


class DeferredCreatorRemovals:
    """Cluster creators' admin entries waiting to be removed (`bootstrap-admin: rollback`):
    when the cluster was created it was still CREATING, or the creator was its only admin
    path. The sweep retries them. One item per account in the ledger table (get/put only)."""

    def __init__(self, dynamodb_client: Any, table_name: str, account: str):
        self._ddb, self._table = dynamodb_client, table_name
        self._key = {"pk": {"S": "deferred-creator-removals"}, "sk": {"S": account}}

    def all(self) -> dict[str, str]:
        """`REGION/CLUSTER` -> creator principal ARN."""
        item = self._ddb.get_item(TableName=self._table, Key=self._key, ConsistentRead=True).get("Item")
        return json.loads(item["pending"]["S"]) if item else {}

    def defer(self, region: str, cluster: str, creator: str) -> None:
        self._save({**self.all(), f"{region}/{cluster}": creator})

    def done(self, region: str, cluster: str) -> None:
        pending = self.all()
        if pending.pop(f"{region}/{cluster}", None) is not None:
            self._save(pending)

    def _save(self, pending: dict[str, str]) -> None:
        self._ddb.put_item(TableName=self._table, Item={**self._key, "pending": {"S": json.dumps(pending, sort_keys=True)}})


#: DynamoDB's limits per BatchWriteItem and BatchGetItem call.
BATCH_WRITE, BATCH_GET = 25, 100
#: Unprocessed items are sent again after these pauses (seconds), then it is an error.
UNPROCESSED_BACKOFF = (0.05, 0.1, 0.2, 0.4, 0.8, 1.6, 3.2)


def batch_write(ddb: Any, table: str, requests: list[dict[str, Any]], *, sleep: Callable[[float], None] = time.sleep) -> None:
    """One BatchWriteItem, sending what DynamoDB left unprocessed again with backoff."""
    for pause in (*UNPROCESSED_BACKOFF, None):
        requests = ddb.batch_write_item(RequestItems={table: requests}).get("UnprocessedItems", {}).get(table, [])
        if not requests:
            return
        if pause is None:
            raise RuntimeError(f"{table}: {len(requests)} ledger writes still unprocessed after {len(UNPROCESSED_BACKOFF)} retries")
        sleep(pause)


def batch_get(ddb: Any, table: str, keys: list[dict[str, Any]], *, sleep: Callable[[float], None] = time.sleep) -> list[dict[str, Any]]:
    """Items of up to 100 keys (strongly consistent), reading unprocessed keys again with backoff."""
    items: list[dict[str, Any]] = []
    for pause in (*UNPROCESSED_BACKOFF, None):
        answer = ddb.batch_get_item(RequestItems={table: {"Keys": keys, "ConsistentRead": True}})
        items += answer.get("Responses", {}).get(table, [])
        keys = answer.get("UnprocessedKeys", {}).get(table, {}).get("Keys", [])
        if not keys:
            return items
        if pause is None:
            raise RuntimeError(f"{table}: {len(keys)} ledger reads still unprocessed after {len(UNPROCESSED_BACKOFF)} retries")
        sleep(pause)
    return items


class PendingRecords(dict):
    """A cluster's pending decisions as read, with the item version they were read at."""

    version: int = 0


class PendingDecisions:
    """Decisions the guardrail could not carry out yet (`refused`, `deferred`, `failed`,
    `not-undone`), per cluster: re-examined on the next event of that cluster and by the
    sweep until the state complies. One item per cluster in the ledger table (get/put only),
    written with optimistic concurrency so that two handlers never drop each other's records.
    """

    ATTEMPTS = 5

    def __init__(self, dynamodb_client: Any, table_name: str):
        self._ddb, self._table = dynamodb_client, table_name

    @staticmethod
    def _key(account: str, region: str, cluster: str) -> dict[str, Any]:
        return {"pk": {"S": "pending-decisions"}, "sk": {"S": _pk(account, region, cluster)}}

    def _read(self, key: dict[str, Any]) -> PendingRecords:
        item = self._ddb.get_item(TableName=self._table, Key=key, ConsistentRead=True).get("Item")
        records = PendingRecords(json.loads(item["pending"]["S"]) if item else {})
        records.version = int(item["version"]["N"]) if item else 0
        return records

    def of_cluster(self, account: str, region: str, cluster: str) -> PendingRecords:
        """principal ARN -> `{"status", "detail", "since", "born_bad_at"}`."""
        return self._read(self._key(account, region, cluster))

    def of_clusters(self, account: str, clusters: Iterable[tuple[str, str]]) -> dict[tuple[str, str], PendingRecords]:
        """`of_cluster` of many (region, cluster) at once: BatchGetItem, 100 a call."""
        wanted = {self._key(account, region, cluster)["sk"]["S"]: (region, cluster) for region, cluster in clusters}
        found = {where: PendingRecords() for where in wanted.values()}
        keys = [{"pk": {"S": "pending-decisions"}, "sk": {"S": sk}} for sk in wanted]
        for i in range(0, len(keys), BATCH_GET):
            for item in batch_get(self._ddb, self._table, keys[i : i + BATCH_GET]):
                records = found[wanted[item["sk"]["S"]]] = PendingRecords(json.loads(item["pending"]["S"]))
                records.version = int(item["version"]["N"])
        return found

    def update(
        self, account: str, region: str, cluster: str, changes: dict[str, dict[str, Any] | None], *, based_on: PendingRecords | None = None
    ) -> None:
        """Set (a dict) or clear (None) the records of some principals, atomically per cluster.

        `based_on`: what `of_cluster` returned moments ago; the first write is conditional on its
        version (no second read), and a conflict re-reads and merges as always."""
        if not changes:
            return
        key = self._key(account, region, cluster)
        for attempt in range(self.ATTEMPTS):
            fresh = attempt == 0 and isinstance(based_on, PendingRecords)
            records = based_on if fresh else self._read(key)
            assert records is not None
            version, pending = records.version, dict(records)
            for principal, record in changes.items():
                if record is None:
                    pending.pop(principal, None)
                else:
                    pending[principal] = record
            if pending == records and not fresh:
                return  # (a write based on an earlier read is made even so: it checks that read)
            condition = "attribute_not_exists(pk)" if version == 0 else "version = :v"
            values = {} if version == 0 else {":v": {"N": str(version)}}
            try:
                self._ddb.put_item(
                    TableName=self._table,
                    Item={**key, "pending": {"S": json.dumps(pending, sort_keys=True)}, "version": {"N": str(version + 1)}},
                    ConditionExpression=condition,
                    **({"ExpressionAttributeValues": values} if values else {}),
                )
                return
            except self._ddb.exceptions.ConditionalCheckFailedException:
                continue  # another handler wrote in between: read again and merge
        raise RuntimeError(f"pending decisions of {_pk(account, region, cluster)}: too many concurrent writers")


class ExemptionTagGrants:
    """Resources whose exemption tag was set by an allowed principal (`exemptions.tag.set_by`).

    Tags are self-service for anyone allowed `eks:TagResource`; the guardrail honours an
    exemption tag only on a resource recorded here (by the handler, when it saw an allowed
    principal set it). Key: `pk` = `exemption-tag-grants`, `sk` = the resource ARN.
    """

    def __init__(self, dynamodb_client: Any, table_name: str):
        self._ddb, self._table = dynamodb_client, table_name

    def _key(self, resource_arn: str) -> dict[str, Any]:
        return {"pk": {"S": "exemption-tag-grants"}, "sk": {"S": resource_arn}}

    def granted(self, resource_arn: str, value: str) -> bool:
        item = self._ddb.get_item(TableName=self._table, Key=self._key(resource_arn), ConsistentRead=True).get("Item")
        return bool(item) and item.get("value", {}).get("S") == value

    def grant(self, resource_arn: str, value: str, *, set_by: str) -> None:
        self._ddb.put_item(
            TableName=self._table,
            Item={**self._key(resource_arn), "value": {"S": value}, "set_by": {"S": set_by},
                  "recorded_at": {"S": datetime.now(timezone.utc).isoformat(timespec="seconds")}},
        )

    def revoke(self, resource_arn: str) -> None:
        self._ddb.delete_item(TableName=self._table, Key=self._key(resource_arn))
