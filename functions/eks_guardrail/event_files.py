"""Read events from files: one JSON event, or a JSON array of events, per file (`-` = stdin)."""

from __future__ import annotations

import gzip
import json
import sys
import zlib
from dataclasses import dataclass
from typing import Any, Iterator


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
    if raw[:2] == b"\x1f\x8b":  # gzip, whatever the name (CloudTrail writes .json.gz)
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as error:
            raise EventFileError(f"{label}: not a readable gzip file: {str(error)[:200]}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise EventFileError(f"{label}: not UTF-8 text (byte {error.start})") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise EventFileError(f"{label}: not valid JSON: {error.msg} (line {error.lineno}, column {error.colno})") from None
    if isinstance(data, list):
        for index, event in enumerate(data):
            yield LoadedEvent(f"{label}[{index}]", event)
    else:
        yield LoadedEvent(label, data)
