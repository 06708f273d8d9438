"""stale-principal: entries whose IAM principal was deleted (dangling) or recreated (stale).

No single EKS event decides this: the IAM principal handler and the sweep evaluate it.
Only its settings live here, so the org-rules file validates them with the rest.
"""

from __future__ import annotations

from dataclasses import dataclass

from typing import Annotated, Literal

from ..schema import Before
from .base import ArnPattern, RuleSettings, _yaml_off, register_settings_only


@dataclass(frozen=True)
class StalePrincipalSettings(RuleSettings):
    action: Annotated[Literal["off", "alert", "delete", "rebind"], Before(_yaml_off)] = "alert"  # type: ignore[assignment]
    #: Principals whose entries may be recreated for the new principal (`action: rebind`).
    #: Rebinding re-grants access AWS revoked on purpose, so nothing is rebound by default.
    rebind: tuple[ArnPattern, ...] = ()


register_settings_only(
    "stale-principal",
    summary="an access entry's IAM principal was deleted or deleted and recreated",
    settings=StalePrincipalSettings,
    severity="high",
)
