"""authentication-mode: clusters use the authentication mode the org requires."""

from __future__ import annotations

from dataclasses import dataclass

from typing import Iterator, Literal

from ..changes import ClusterConfigUpdated, ClusterCreated
from ..findings import Violation
from .base import AlertOnlySettings, rule, who

Mode = Literal["API", "API_AND_CONFIG_MAP", "CONFIG_MAP"]


@dataclass(frozen=True)
class AuthenticationModeSettings(AlertOnlySettings):
    #: Modes a cluster may be created with or moved to. Mode changes are one-way in AWS,
    #: so this rule can only alert.
    allowed_modes: tuple[Mode, ...] = ("API", "API_AND_CONFIG_MAP")


@rule(
    "authentication-mode",
    summary="a cluster is created with or moved to a disallowed authentication mode",
    settings=AuthenticationModeSettings,
    handles=(ClusterCreated, ClusterConfigUpdated),
    severity="medium",
)
def check(change: ClusterCreated | ClusterConfigUpdated, settings: AuthenticationModeSettings, org) -> Iterator[Violation]:
    mode = change.authentication_mode
    if mode is None or mode in settings.allowed_modes:
        return
    verb = "created" if isinstance(change, ClusterCreated) else "switched"
    preposition = "with" if isinstance(change, ClusterCreated) else "to"
    defaulted = getattr(change, "access_config_defaulted", False)
    yield Violation(
        f"{who(change)} {verb} cluster {change.cluster} {preposition} authentication mode {mode}"
        f"{' (the API default: no accessConfig was given)' if defaulted else ''}; "
        f"the organisation allows {', '.join(settings.allowed_modes)}"
    )
