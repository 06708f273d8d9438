"""Read events from files: one JSON event, a JSON array of events, or a CloudTrail log file
(`{"Records": [...]}`), each plain or gzipped (recognised by content), per file (`-` = stdin)."""

from __future__ import annotations

import gzip
import io
import json
import sys
import zlib
from dataclasses import dataclass
from typing import Any, Iterator


#: A gzip file is refused beyond this once unzipped (a CloudTrail log file is a few MiB).
MAX_UNZIPPED = 512 * 2**20


class EventFileError(ValueError):
    """A file could not be read or is not JSON; names the file and where."""


@dataclass(frozen=True)
class LoadedEvent:
    #: `file.json`, or `file.json[3]` for the fourth event of an array.
    source: str
    event: Any


def read_event_file(path: str) -> Iterator[LoadedEvent]:
    """Yield the events in one file. Raises EventFileError for unreadable or non-JSON input."""
    label = "<stdin>" if path == "-" else path
    try:
        if path == "-":
            stream = getattr(sys.stdin, "buffer", None)
            raw = stream.read() if stream is not None else sys.stdin.read().encode("utf-8")
        else:
            with open(path, "rb") as handle:
                raw = handle.read()
    except OSError as error:
        raise EventFileError(f"{label}: cannot read: {error.strerror or error}") from None
    if raw[:2] == b"\x1f\x8b":  # gzip by its content, whatever the name (CloudTrail writes .json.gz)
        try:
            with gzip.GzipFile(fileobj=io.BytesIO(raw)) as unzipped:
                raw = unzipped.read(MAX_UNZIPPED + 1)
        except (OSError, EOFError, zlib.error) as error:
            raise EventFileError(f"{label}: not a readable gzip file: {str(error)[:200]}") from None
        if len(raw) > MAX_UNZIPPED:
            raise EventFileError(f"{label}: more than {MAX_UNZIPPED // 2**20} MiB once unzipped")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise EventFileError(f"{label}: not UTF-8 text (byte {error.start})") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise EventFileError(f"{label}: not valid JSON: {error.msg} (line {error.lineno}, column {error.colno})") from None
    except (ValueError, RecursionError) as error:  # a number of over 4,300 digits; nesting too deep
        raise EventFileError(f"{label}: not usable JSON: {type(error).__name__}: {str(error)[:200]}") from None
    if isinstance(data, dict) and set(data) == {"Records"} and isinstance(data["Records"], list):
        data = data["Records"]  # a CloudTrail log file as delivered to S3
    if isinstance(data, list):
        for index, event in enumerate(data):
            yield LoadedEvent(f"{label}[{index}]", event)
    else:
        yield LoadedEvent(label, data)
