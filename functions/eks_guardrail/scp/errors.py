"""The one error of the SCP generator: the rules cannot be written as policies within AWS's limits."""

from __future__ import annotations


class ScpError(ValueError):
    """The org rules cannot become SCPs (or a boundary) within AWS's limits; the message says which rules and why."""
