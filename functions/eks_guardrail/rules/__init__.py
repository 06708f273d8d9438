"""Every rule of the catalogue, one module each; importing this package registers them all."""

from __future__ import annotations

from importlib import import_module
from pkgutil import iter_modules

from .base import REGISTRY, RuleSpec, rule

for _module in iter_modules(__path__):
    if _module.name != "base":
        import_module(f"{__name__}.{_module.name}")

__all__ = ["REGISTRY", "RuleSpec", "rule"]
