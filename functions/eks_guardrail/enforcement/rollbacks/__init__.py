"""Every rollback, one module each; importing this package registers them all."""

from __future__ import annotations

from importlib import import_module
from pkgutil import iter_modules

from .base import READ_PERMISSIONS, ROLLBACKS, RollbackContext, RollbackResult

for _module in iter_modules(__path__):
    if _module.name != "base":
        import_module(f"{__name__}.{_module.name}")


def required_permissions() -> set[str]:
    """Every IAM action the access-entry handler's rollbacks and reads need."""
    return set(READ_PERMISSIONS).union(*(spec.permissions for spec in ROLLBACKS.values()))


__all__ = ["READ_PERMISSIONS", "ROLLBACKS", "RollbackContext", "RollbackResult", "required_permissions"]
