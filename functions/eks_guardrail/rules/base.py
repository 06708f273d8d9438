"""The rule registry: a rule is one small module with a settings model and a pure check.

A check is `check(change, settings, org) -> iterable of Violation`: no AWS calls, no I/O.
A rule that needs what the caller read from AWS registers with `needs_state=True` and takes a
4th argument, the engine's `ObservedState` (node-entry-principal: the role's trust policy).
Register it with `@rule(...)`; `eks_guardrail.rules` imports every module in this package.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Callable, Iterable, Literal

from ..findings import Severity, Violation
from ..schema import Before, Check as CheckValue


def _arn_pattern(value: str) -> str:
    if not value.startswith("arn:"):
        raise ValueError(f"expected an IAM ARN pattern such as 'arn:aws:iam::*:role/Name', got {value!r}")
    return value


def _yaml_off(value: Any) -> Any:
    # YAML 1.1 reads an unquoted `off` as false: `action: off` must still mean "off".
    return "off" if value is False else value


#: An IAM ARN, `*` and `?` allowed as IAM wildcards.
ArnPattern = Annotated[str, CheckValue(_arn_pattern)]
Action = Annotated[Literal["off", "alert", "rollback"], Before(_yaml_off)]
AlertOnlyAction = Annotated[Literal["off", "alert"], Before(_yaml_off)]


@dataclass(frozen=True)
class RuleSettings:
    """Settings every rule has. Rules that can roll back accept `action: rollback`."""

    action: Action = "alert"
    severity: Severity | None = None


@dataclass(frozen=True)
class AlertOnlySettings(RuleSettings):
    """For rules where no rollback exists (or AWS makes the change irreversible)."""

    action: AlertOnlyAction = "alert"


#: `check(change, settings, org)`, or `check(change, settings, org, state)` with `needs_state`.
Check = Callable[..., Iterable[Violation]]


@dataclass(frozen=True)
class RuleSpec:
    rule_id: str
    summary: str
    settings_model: type[RuleSettings]
    #: The change types this rule judges; empty for rules evaluated elsewhere (IAM handler).
    handles: tuple[type, ...]
    default_severity: str
    check: Check | None
    #: Whether the rule judges node/Fargate/hybrid (non-STANDARD) entries.
    judges_node_entries: bool = False
    #: Whether the check takes a 4th argument: the `ObservedState` the caller read from AWS.
    needs_state: bool = False


class Registry(dict[str, RuleSpec]):
    """Rule id -> spec. `version` changes with every change to it: the engine keeps what it derives
    from the registry (which rules judge a kind of change) until then."""

    version = 0

    def _changed(self) -> None:
        self.version += 1

    def __setitem__(self, key: str, value: RuleSpec) -> None:
        super().__setitem__(key, value)
        self._changed()

    def __delitem__(self, key: str) -> None:
        super().__delitem__(key)
        self._changed()

    def __ior__(self, other: Any) -> "Registry":
        super().__ior__(other)
        self._changed()
        return self

    def pop(self, *args: Any) -> Any:
        try:
            return super().pop(*args)
        finally:
            self._changed()

    def popitem(self) -> tuple[str, RuleSpec]:
        try:
            return super().popitem()
        finally:
            self._changed()

    def setdefault(self, key: str, default: Any = None) -> Any:
        try:
            return super().setdefault(key, default)
        finally:
            self._changed()

    def update(self, *args: Any, **kwargs: Any) -> None:
        super().update(*args, **kwargs)
        self._changed()

    def clear(self) -> None:
        super().clear()
        self._changed()


REGISTRY: Registry = Registry()


def rule(
    rule_id: str,
    *,
    summary: str,
    settings: type[RuleSettings],
    handles: tuple[type, ...],
    severity: str,
    judges_node_entries: bool = False,
    needs_state: bool = False,
) -> Callable[[Check], Check]:
    """Register a rule's check under its id (the key used in the org-rules file)."""

    def register(check: Check) -> Check:
        if rule_id in REGISTRY:
            raise ValueError(f"rule {rule_id!r} registered twice")
        REGISTRY[rule_id] = RuleSpec(
            rule_id=rule_id,
            summary=summary,
            settings_model=settings,
            handles=handles,
            default_severity=severity,
            check=check,
            judges_node_entries=judges_node_entries,
            needs_state=needs_state,
        )
        return check

    return register


def register_settings_only(rule_id: str, *, summary: str, settings: type[RuleSettings], severity: str) -> None:
    """Register a rule that no single event decides (its evaluation lives in a handler)."""
    REGISTRY[rule_id] = RuleSpec(rule_id, summary, settings, (), severity, None)


def who(change: Any) -> str:
    """`arn:...:user/alice` or a readable stand-in when the record had no identity."""
    actor = change.meta.actor
    if actor.identity_type == "Sweep":
        return "someone (found by the sweep)"
    return actor.arn or "an unknown caller"
