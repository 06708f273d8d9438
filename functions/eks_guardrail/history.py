"""CloudTrail Event history (`LookupEvents`): the account's EKS and IAM records of a time window, oldest first.

Event history keeps 90 days of management events in every account and region, with or
without a trail. EKS records are looked up in each region given, IAM's (a global service) in
us-east-1. `LookupEvents` allows 2 requests per second per account and region: each region's
calls are spaced by a shared limiter (1.8 a second, 10% under the quota), and botocore's
adaptive retries absorb any throttling left. Pages of 50 are followed with `NextToken`.
"""

from __future__ import annotations

import json
import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Iterator

#: How far back Event history goes.
RETENTION = timedelta(days=90)
#: LookupEvents' quota: requests per second per account and region.
LOOKUP_RATE = 2.0
#: What the client sends: 10% under the quota, so that timing jitter never trips it.
CLIENT_RATE = LOOKUP_RATE * 0.9
PAGE_SIZE = 50
EKS_SOURCE = "eks.amazonaws.com"
IAM_SOURCE = "iam.amazonaws.com"
IAM_REGION = "us-east-1"


class HistoryError(ValueError):
    """A window or time that cannot be used; says what is accepted."""


_RELATIVE = re.compile(r"^(\d+)([dhm])$")


def parse_time(text: str, now: datetime) -> datetime:
    """`90d`, `12h`, `30m` (before `now`), `2026-09-01`, or an ISO 8601 time (UTC unless it says otherwise)."""
    relative = _RELATIVE.match(text.strip())
    if relative:
        amount, unit = int(relative.group(1)), relative.group(2)
        return now - {"d": timedelta(days=amount), "h": timedelta(hours=amount), "m": timedelta(minutes=amount)}[unit]
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise HistoryError(f"{text!r}: expected 90d, 12h, 30m, a date (2026-09-01) or a time (2026-09-01T12:00:00Z)") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


@dataclass(frozen=True)
class Window:
    start: datetime
    end: datetime
    #: Set when the start asked for was older than Event history keeps.
    clamped_from: datetime | None = None


def history_window(since: str, until: str | None, now: datetime) -> Window:
    start, end = parse_time(since, now), parse_time(until, now) if until else now
    if start >= end:
        raise HistoryError(f"--since ({start:%Y-%m-%dT%H:%M:%SZ}) must be before --until ({end:%Y-%m-%dT%H:%M:%SZ})")
    oldest = now - RETENTION
    if start < oldest:
        return Window(oldest, end, clamped_from=start)
    return Window(start, end)


class RateLimiter:
    """At most `per_second` calls per second, across the threads that share it (one per account and region)."""

    def __init__(self, per_second: float = LOOKUP_RATE, clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep):
        self.interval = 1.0 / per_second
        self.clock, self.sleep = clock, sleep
        self._next = 0.0
        self._lock = threading.Lock()

    def wait(self) -> None:
        with self._lock:
            now = self.clock()
            start = max(now, self._next)
            self._next = start + self.interval
        if start > now:
            self.sleep(start - now)


@dataclass
class Stream:
    """One (region, event source) of the lookup, and how far it got."""

    region: str
    source: str
    pages: int = 0
    records: int = 0
    #: Items whose CloudTrailEvent was not a JSON record.
    unreadable: int = 0
    #: Records not held for judging (`keep`), and events seen twice.
    not_kept: int = 0
    duplicates: int = 0
    done: bool = False
    error: str | None = None


@dataclass
class HistoryLookup:
    """The records of every stream, gathered in parallel regions, returned oldest first."""

    client_for: Callable[[str], Any]  # region -> a `cloudtrail` client
    regions: list[str]
    window: Window
    #: Which records to hold for judging (the others are only counted): keeps memory to what matters.
    keep: Callable[[dict[str, Any]], bool] = lambda record: True
    limiters: dict[str, RateLimiter] = field(default_factory=dict)
    on_progress: Callable[[list["Stream"]], None] | None = None
    _streams: list[Stream] = field(default_factory=list)

    def streams(self) -> list[Stream]:
        streams = [Stream(region, EKS_SOURCE) for region in dict.fromkeys(self.regions)]
        return streams + [Stream(IAM_REGION, IAM_SOURCE)]

    def records(self) -> tuple[list[dict[str, Any]], list[Stream]]:
        """Every record of the window, oldest first, and each stream's outcome."""
        streams = self._streams = self.streams()

        per_stream: dict[int, list[dict[str, Any]]] = {}

        def run(index: int) -> None:
            stream = streams[index]
            kept = per_stream[index] = []
            for record in self._lookup(stream):
                if self.keep(record):
                    kept.append(record)
                else:
                    stream.not_kept += 1
            kept.reverse()  # LookupEvents answers newest first: oldest first, same-second events in their order
            stream.done = True
            self._progress()

        with ThreadPoolExecutor(max_workers=max(1, len({s.region for s in streams}))) as pool:
            list(pool.map(run, range(len(streams))))
        gathered, seen = [], set()
        for index in range(len(streams)):
            for record in per_stream[index]:
                event_id = str(record.get("eventID", ""))
                if event_id and event_id in seen:
                    streams[index].duplicates += 1  # the same event on two pages
                    continue
                seen.add(event_id)
                gathered.append(record)
        # Stable: CloudTrail times are to the second; ties keep each stream's own order.
        gathered.sort(key=_event_time)
        return gathered, streams

    def _lookup(self, stream: Stream) -> Iterator[dict[str, Any]]:
        from botocore.exceptions import BotoCoreError, ClientError

        client = self.client_for(stream.region)
        limiter = self.limiters.setdefault(stream.region, RateLimiter(CLIENT_RATE))
        request: dict[str, Any] = {
            "LookupAttributes": [{"AttributeKey": "EventSource", "AttributeValue": stream.source}],
            "StartTime": self.window.start,
            "EndTime": self.window.end,
            "MaxResults": PAGE_SIZE,
        }
        try:
            while True:
                limiter.wait()
                page = client.lookup_events(**request)
                stream.pages += 1
                for event in page.get("Events", []):
                    record = _record_of(event)
                    if record is None:
                        stream.unreadable += 1
                        continue
                    stream.records += 1
                    yield record
                self._progress()
                token = page.get("NextToken")
                if not token:
                    return
                request["NextToken"] = token
        except (ClientError, BotoCoreError) as error:
            stream.error = str(error)[:300]

    def _progress(self) -> None:
        if self.on_progress is not None:
            self.on_progress(self._streams)


def _record_of(event: dict[str, Any]) -> dict[str, Any] | None:
    try:
        record = json.loads(event.get("CloudTrailEvent") or "")
    except (ValueError, TypeError, RecursionError):
        return None
    return record if isinstance(record, dict) else None


def _event_time(record: dict[str, Any]) -> str:
    """Records' eventTime is ISO 8601 UTC (`2026-11-28T10:00:00Z`): as text it sorts in time order."""
    value = record.get("eventTime")
    return value if isinstance(value, str) else ""
