"""grants-nothing: a STANDARD entry with no access policy and no Kubernetes group.

It authenticates but grants nothing: a silent "no access" users trip over. Only the sweep
sees it (an entry is created first and given policies after), so only its settings live here.
"""

from __future__ import annotations

from dataclasses import dataclass

from .base import AlertOnlySettings, register_settings_only


@dataclass(frozen=True)
class GrantsNothingSettings(AlertOnlySettings):
    pass


register_settings_only(
    "grants-nothing",
    summary="a STANDARD access entry has no access policy and no Kubernetes group",
    settings=GrantsNothingSettings,
    severity="low",
)
