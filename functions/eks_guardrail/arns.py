"""IAM principal ARNs: their parts, and `*`/`?` wildcard matching as IAM does it."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache


@dataclass(frozen=True)
class PrincipalArn:
    """`arn:PARTITION:iam::ACCOUNT:role/PATH/NAME` (or user/..., or root)."""

    partition: str
    service: str
    account: str
    kind: str  # "role", "user", "root", "assumed-role", ...
    path: str  # "/" or "/aws-reserved/sso.amazonaws.com/eu-west-1/"
    name: str

    @property
    def is_user(self) -> bool:
        return self.service == "iam" and self.kind == "user"

    @property
    def is_role(self) -> bool:
        return self.service == "iam" and self.kind == "role"


@lru_cache(maxsize=4096)
def parse_principal_arn(arn: str) -> PrincipalArn | None:
    """Split a principal ARN; None when it is not an ARN of that form.

    Kept for the last few thousand ARNs (the answer is immutable): several rules and the
    exemptions read the same principal, and a trail names the same principals again and again."""
    parts = arn.split(":", 5)
    if len(parts) != 6 or parts[0] != "arn":
        return None
    _, partition, service, _region, account, resource = parts
    if resource == "root":
        return PrincipalArn(partition, service, account, "root", "/", "root")
    kind, _, rest = resource.partition("/")
    if not rest:
        return None
    path, _, name = rest.rpartition("/")
    return PrincipalArn(partition, service, account, kind, f"/{path}/" if path else "/", name)


def _regex(pattern: str) -> str:
    return "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)


@lru_cache(maxsize=1024)
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(_regex(pattern) + r"\Z", re.DOTALL)


@lru_cache(maxsize=1024)
def _compiled_any(patterns: tuple[str, ...]) -> re.Pattern[str]:
    """One expression for a list of patterns (a rule's allow-list): matches when one of them does."""
    return re.compile("(?:" + "|".join(_regex(p) for p in patterns) + r")\Z", re.DOTALL)


def wildcard_match(pattern: str, value: str) -> bool:
    """IAM-style match: `*` any run of characters (slashes and colons included), `?` one."""
    return _compiled(pattern).match(value) is not None


def matches_any(patterns: tuple[str, ...] | list[str], value: str) -> bool:
    if not patterns:
        return False
    if type(patterns) is tuple:
        return _compiled_any(patterns).match(value) is not None
    return any(wildcard_match(p, value) for p in patterns)
