"""One line of progress on standard error, redrawn in place and cleared before output; silent when not a terminal."""

from __future__ import annotations

from typing import TextIO


class StatusLine:
    def __init__(self, stream: TextIO, *, force: bool = False):
        self.stream = stream
        self.enabled = force or (hasattr(stream, "isatty") and stream.isatty())
        self._drawn = False

    def draw(self, text: str) -> None:
        if self.enabled:
            self.stream.write(f"\r{text[:200]}\033[K")
            self.stream.flush()
            self._drawn = True

    def clear(self) -> None:
        if self._drawn:
            self.stream.write("\r\033[K")
            self.stream.flush()
            self._drawn = False
