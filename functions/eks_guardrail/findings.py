"""What a rule reports, and what the engine makes of it."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

Severity = Literal["low", "medium", "high", "critical"]
SEVERITIES: tuple[str, ...] = ("low", "medium", "high", "critical")


@dataclass(frozen=True)
class Violation:
    """A rule's verdict on one change: a message a person can act on."""

    message: str
    #: Defaults to the change's principal; set it when the rule is about another one.
    principal_arn: str | None = None
    policy_arn: str | None = None


@dataclass(frozen=True)
class Finding:
    """A violation with everything an alert, a rollback or an auditor needs."""

    rule: str
    severity: str
    #: What the guardrail will do: "alert" or "rollback" (after `mode` and exemptions).
    action: str
    #: What the rule's config asked for, before `mode: monitor` and exemptions.
    configured_action: str
    exempt: bool
    message: str
    event_id: str
    event_name: str
    event_time: str
    account: str
    region: str
    cluster: str | None
    principal_arn: str | None
    policy_arn: str | None
    actor_arn: str
    exemption_reason: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
