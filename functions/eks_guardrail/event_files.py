"""Read CloudTrail records in every form they come in, streamed, one file at a time.

A file (or standard input, `-`) holds, detected by content and never by name, plain or gzipped:
- one event (EventBridge-wrapped or a bare CloudTrail record), or a JSON array of them;
- a trail log file as CloudTrail writes it to S3: `{"Records": [...]}`;
- Event history output (`aws cloudtrail lookup-events`): `{"Events": [{"CloudTrailEvent": "<record as JSON text>", ...}]}`;
- JSON lines: one event per line.

A location is a file, a directory (read recursively, in name order, CloudTrail digest files
left out) or an `s3://bucket/prefix` URL (listed page by page, each object streamed). Arrays,
trail files and Event history are parsed one record at a time, so memory stays flat whatever
the size or number of files (json's own decoder on a sliding window: numbers, NaN and deep
nesting are read exactly as `json.loads` reads them). A file that cannot be read is reported by name (`EventFileError`)
and the next one is read.
"""

from __future__ import annotations

import codecs
import gzip
import io
import json
import os
import re
import sys
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Callable, Iterator

#: A document that is not streamed (one pretty-printed event) is refused beyond this.
MAX_DOCUMENT = 512 * 2**20
#: How much of a file is looked at to tell its form.
PEEK = 64 * 2**10
#: CloudTrail's digest files (`AWSLogs/<account>/CloudTrail-Digest/...`) hold hashes, not records.
DIGEST_DIRECTORY = "CloudTrail-Digest"

_ARRAY = re.compile(rb"^\s*\[")
_TRAIL_FILE = re.compile(rb'^\s*\{\s*"Records"\s*:\s*\[')
_EVENT_HISTORY = re.compile(rb'^\s*\{\s*"Events"\s*:\s*\[')
#: Where the items start, in the decoded text.
_ARRAY_OPENING = re.compile(r"\s*\[")
_TRAIL_FILE_OPENING = re.compile(r'\s*\{\s*"Records"\s*:\s*\[')
_EVENT_HISTORY_OPENING = re.compile(r'\s*\{\s*"Events"\s*:\s*\[')
_SPACE = re.compile(r"\s*")
_DECODER = json.JSONDecoder()
#: Arrays are read this much at a time.
CHUNK = 2**20
#: One record larger than this is refused (CloudTrail's records are a few KiB).
MAX_RECORD = 64 * 2**20


class EventFileError(ValueError):
    """A file could not be read or is not JSON; names the file and where."""


@dataclass(frozen=True)
class LoadedEvent:
    #: `file.json`, or `file.json[3]` for the fourth event of an array, trail file or page.
    source: str
    event: Any
    #: Set instead of `event` when this one item could not be read (the rest of the file goes on).
    error: str | None = None


# --- one file -----------------------------------------------------------------------------------


def read_event_file(path: str) -> Iterator[LoadedEvent]:
    """Yield the events in one file (`-`: standard input). Raises EventFileError for unreadable input."""
    label = "<stdin>" if path == "-" else path
    if path == "-":
        stream: IO[bytes] = getattr(sys.stdin, "buffer", None) or io.BytesIO(sys.stdin.read().encode("utf-8"))
        yield from read_event_stream(_buffered(stream), label)
        return
    try:
        handle = open(path, "rb")
    except OSError as error:
        raise EventFileError(f"{label}: cannot read: {error.strerror or error}") from None
    with handle:
        yield from read_event_stream(handle, label)


def read_event_stream(stream: IO[bytes], label: str) -> Iterator[LoadedEvent]:
    """The events in one byte stream that has `peek` (a buffered file, GzipFile, `_buffered(...)`)."""
    gzipped = False
    try:
        head = stream.peek(PEEK)[:PEEK]  # type: ignore[attr-defined]
        if head[:2] == b"\x1f\x8b":  # gzip by its content, whatever the name (CloudTrail writes .json.gz)
            gzipped = True
            stream = gzip.GzipFile(fileobj=stream)
            head = stream.peek(PEEK)[:PEEK]  # type: ignore[attr-defined]
        head = head.removeprefix(b"\xef\xbb\xbf")  # the decoder drops a byte-order mark
        if _ARRAY.match(head):
            yield from _streamed(stream, _ARRAY_OPENING, label)
        elif _TRAIL_FILE.match(head):
            yield from _streamed(stream, _TRAIL_FILE_OPENING, label)
        elif _EVENT_HISTORY.match(head):
            yield from _event_history_items(_streamed(stream, _EVENT_HISTORY_OPENING, label))
        else:
            yield from _lines_or_document(stream, label)
    except EventFileError:
        raise
    except (OSError, EOFError, zlib.error) as error:
        if gzipped:
            raise EventFileError(f"{label}: not a readable gzip file: {str(error)[:200]}") from None
        raise EventFileError(f"{label}: cannot read: {str(error)[:200]}") from None


def _streamed(stream: IO[bytes], opening: re.Pattern[str], label: str) -> Iterator[LoadedEvent]:
    """The items of the JSON array that `opening` leads to, parsed one at a time (json's own decoder, so
    numbers, NaN and nesting are read exactly as `json.loads` reads them); memory holds about one chunk."""
    reader = _TextChunks(stream, label)
    reader.fill()
    match = opening.match(reader.text)
    if match is None:
        raise EventFileError(f"{label}: not valid JSON: expected an array where the records are")
    pos, index, after_item = match.end(), 0, False
    while True:
        pos = reader.skip_space(pos)
        if pos >= len(reader.text):
            raise EventFileError(f"{label}: not valid JSON: the array of records is not closed (truncated file?)")
        char = reader.text[pos]
        if char == "]":
            return
        if after_item:
            if char != ",":
                raise EventFileError(f"{label}: not valid JSON: expected ',' or ']' after record {index - 1}")
            pos, after_item = pos + 1, False
            continue
        try:
            value, end = _DECODER.raw_decode(reader.text, pos)
        except json.JSONDecodeError as error:
            if reader.eof:
                raise EventFileError(f"{label}: not valid JSON in record {index}: {error.msg}") from None
            reader.more(pos)
            continue
        except (ValueError, RecursionError) as error:  # a number of over 4,300 digits; nesting too deep
            raise EventFileError(f"{label}: not usable JSON in record {index}: {type(error).__name__}: {str(error)[:200]}") from None
        if end == len(reader.text) and not reader.eof:  # a bare number may go on in the next chunk
            reader.more(pos)
            continue
        yield LoadedEvent(f"{label}[{index}]", value)
        index, after_item = index + 1, True
        pos = reader.consumed(end)


class _TextChunks:
    """UTF-8 text read a chunk at a time, the consumed part dropped once it is larger than a chunk."""

    def __init__(self, stream: IO[bytes], label: str):
        self.stream, self.label = stream, label
        self.decoder = codecs.getincrementaldecoder("utf-8-sig")()
        self.text, self.eof, self._size = "", False, CHUNK

    def fill(self, size: int = CHUNK) -> None:
        chunk = self.stream.read(size)
        self.eof = not chunk
        try:
            self.text += self.decoder.decode(chunk, final=self.eof)
        except UnicodeDecodeError as error:
            raise EventFileError(f"{self.label}: not UTF-8 text (byte {error.start} of a chunk)") from None

    def more(self, pos: int) -> None:
        """The item at `pos` is not complete yet: read more, twice as much each time for one big item."""
        if len(self.text) - pos > MAX_RECORD:
            raise EventFileError(f"{self.label}: a record of more than {MAX_RECORD // 2**20} MiB (or broken JSON)")
        self.fill(self._size)
        self._size = min(self._size * 2, MAX_RECORD)

    def skip_space(self, pos: int) -> int:
        while True:
            pos = _SPACE.match(self.text, pos).end()  # type: ignore[union-attr]
            if pos < len(self.text) or self.eof:
                return pos
            self.text, pos = "", 0  # all of it was space: keep none of it
            self.fill()

    def consumed(self, end: int) -> int:
        self._size = CHUNK
        if end > CHUNK:
            self.text = self.text[end:]
            return 0
        return end


def _event_history_items(items: Iterator[LoadedEvent]) -> Iterator[LoadedEvent]:
    """Each Event history item carries its record as JSON text in `CloudTrailEvent`."""
    for item in items:
        text = item.event.get("CloudTrailEvent") if isinstance(item.event, dict) else None
        if not isinstance(text, str):
            yield LoadedEvent(item.source, None, error="CloudTrailEvent: missing (an Event history item carries its record there)")
            continue
        try:
            yield LoadedEvent(item.source, json.loads(text))
        except (ValueError, RecursionError) as error:
            yield LoadedEvent(item.source, None, error=f"CloudTrailEvent: not valid JSON: {str(error)[:200]}")


def _lines_or_document(stream: IO[bytes], label: str) -> Iterator[LoadedEvent]:
    """JSON lines when the first line is a whole JSON value by itself; else one document (a pretty-printed event)."""
    first = stream.readline(MAX_DOCUMENT + 1)
    try:
        value = _loads(first, label)
    except EventFileError:
        rest = stream.read(MAX_DOCUMENT + 1 - len(first))
        document = first + rest
        if len(document) > MAX_DOCUMENT:
            raise EventFileError(f"{label}: more than {MAX_DOCUMENT // 2**20} MiB in one JSON document") from None
        yield from _document(_loads(document, label), label)
        return
    following = stream.readline(MAX_DOCUMENT + 1)
    while following and not following.strip():
        following = stream.readline(MAX_DOCUMENT + 1)
    if not following:  # a single value on one line
        yield from _document(value, label)
        return
    number = 1
    yield LoadedEvent(f"{label}:{number}", value)
    line = following
    while line:
        number += 1
        if line.strip():
            try:
                yield LoadedEvent(f"{label}:{number}", _loads(line, label))
            except EventFileError as error:
                yield LoadedEvent(f"{label}:{number}", None, error=str(error).removeprefix(f"{label}: "))
        line = stream.readline(MAX_DOCUMENT + 1)


def _document(data: Any, label: str) -> Iterator[LoadedEvent]:
    if isinstance(data, dict) and isinstance(data.get("Records"), list) and set(data) <= {"Records"}:
        data = data["Records"]
    elif isinstance(data, dict) and isinstance(data.get("Events"), list) and set(data) <= {"Events", "NextToken"}:
        yield from _event_history_items(LoadedEvent(f"{label}[{i}]", e) for i, e in enumerate(data["Events"]))
        return
    if isinstance(data, list):
        for index, event in enumerate(data):
            yield LoadedEvent(f"{label}[{index}]", event)
    else:
        yield LoadedEvent(label, data)


def _loads(raw: bytes, label: str) -> Any:
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise EventFileError(f"{label}: not UTF-8 text (byte {error.start})") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise EventFileError(f"{label}: not valid JSON: {error.msg} (line {error.lineno}, column {error.colno})") from None
    except (ValueError, RecursionError) as error:  # a number of over 4,300 digits; nesting too deep
        raise EventFileError(f"{label}: not usable JSON: {type(error).__name__}: {str(error)[:200]}") from None


class _RawReader(io.RawIOBase):
    """Any object with `read(n)` (standard input, an S3 StreamingBody) as a raw stream, to buffer and peek."""

    def __init__(self, source: Any):
        self._source = source

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self._source.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


def _buffered(source: Any) -> IO[bytes]:
    return source if hasattr(source, "peek") else io.BufferedReader(_RawReader(source), buffer_size=PEEK)


# --- locations: files, directories, s3:// prefixes ----------------------------------------------


@dataclass(frozen=True)
class Location:
    """One readable thing found under a location the user gave."""

    label: str
    open: Callable[[], Iterator[LoadedEvent]]


def expand_location(location: str, *, s3_client: Callable[[], Any] | None = None) -> Iterator[Location]:
    """The files a location stands for, lazily (an S3 prefix is listed page by page)."""
    if location.startswith("s3://"):
        yield from _s3_objects(location, s3_client)
        return
    path = Path(location)
    if location != "-" and path.is_dir():
        for root, directories, files in os.walk(path):
            directories.sort()
            directories[:] = [d for d in directories if d != DIGEST_DIRECTORY]
            for name in sorted(files):
                file = os.path.join(root, name)
                yield Location(file, lambda file=file: read_event_file(file))
        return
    yield Location("<stdin>" if location == "-" else location, lambda: read_event_file(location))


def _s3_objects(url: str, s3_client: Callable[[], Any] | None) -> Iterator[Location]:
    bucket, _, prefix = url[len("s3://") :].partition("/")
    if not bucket:
        raise EventFileError(f"{url}: expected s3://bucket/prefix")
    if s3_client is None:
        import boto3

        client = boto3.client("s3")
    else:
        client = s3_client()
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            for item in page.get("Contents", []):
                key = item["Key"]
                if key.endswith("/") or f"/{DIGEST_DIRECTORY}/" in f"/{key}":
                    continue
                label = f"s3://{bucket}/{key}"
                yield Location(label, lambda key=key, label=label: _s3_object(client, bucket, key, label))
    except (ClientError, BotoCoreError) as error:
        raise EventFileError(f"{url}: cannot list: {error}") from None


def _s3_object(client: Any, bucket: str, key: str, label: str) -> Iterator[LoadedEvent]:
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        body = client.get_object(Bucket=bucket, Key=key)["Body"]
    except (ClientError, BotoCoreError) as error:
        raise EventFileError(f"{label}: cannot read: {error}") from None
    try:
        yield from read_event_stream(_buffered(body), label)
    finally:
        body.close()
