"""Read events from files: one JSON event, or a JSON array of events, per file (`-` = stdin)."""

from __future__ import annotations

import json
import sys
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
            text = sys.stdin.read()
        else:
            with open(path, encoding="utf-8") as handle:
                text = handle.read()
    except OSError as error:
        raise EventFileError(f"{label}: cannot read: {error.strerror or error}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise EventFileError(f"{label}: not valid JSON: {error.msg} (line {error.lineno}, column {error.colno})") from None
    if isinstance(data, list):
        for index, event in enumerate(data):
            yield LoadedEvent(f"{label}[{index}]", event)
    else:
        yield LoadedEvent(label, data)
