"""Packages whose names load on first use: ``import priomem.mcp_server`` costs nothing until
a name is used, and a name whose extra is missing says which one to install then."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["lazy_exports"]


def lazy_exports(
    package: str, where: Mapping[str, str], *, check: Callable[[str, str], None] | None = None
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """The ``__getattr__`` and ``__dir__`` of ``package``, whose public names are ``where``'s
    keys, each found in the module its value names (relative to the package, or a full
    ``priomem.`` name). ``check(name, module)`` runs before the import (to name an extra)."""
    namespace = sys.modules[package].__dict__

    def __getattr__(name: str) -> Any:
        module = where.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        if check is not None:
            check(name, module)
        target = module if module.startswith("priomem.") else f"{package}.{module}"
        value = getattr(importlib.import_module(target), name)
        namespace[name] = value  # the next use is a plain attribute
        return value

    def __dir__() -> list[str]:
        return sorted(where)

    return __getattr__, __dir__
