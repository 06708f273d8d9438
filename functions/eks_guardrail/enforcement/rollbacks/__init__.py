"""Rollbacks of changes that are not about one access entry's state (the cluster creator's
admin entry); access entries themselves are reconciled by `enforcement/reconcile.py`."""

from __future__ import annotations

from importlib import import_module
from pkgutil import iter_modules

from .base import READ_PERMISSIONS, ROLLBACKS, RollbackContext, RollbackResult

for _module in iter_modules(__path__):
    if _module.name != "base":
        import_module(f"{__name__}.{_module.name}")


def required_permissions() -> set[str]:
    """Every IAM action the access-entry handler's rollbacks, reconciliation and reads need."""
    from ..exemption_tags import PERMISSIONS as TAG_PERMISSIONS
    from ..reconcile import PERMISSIONS as RECONCILE_PERMISSIONS

    return set(READ_PERMISSIONS).union(RECONCILE_PERMISSIONS, TAG_PERMISSIONS, *(spec.permissions for spec in ROLLBACKS.values()))


__all__ = ["READ_PERMISSIONS", "ROLLBACKS", "RollbackContext", "RollbackResult", "required_permissions"]
