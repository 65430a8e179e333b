"""Optional dependencies: an import that needs an extra says which one to install."""

from __future__ import annotations

import importlib.util

__all__ = ["require"]


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # a broken or half-removed install counts as missing
        return False


def require(extra: str, *modules: str, what: str) -> None:
    """Raise :class:`ImportError` naming ``pip install 'priomem[extra]'`` when one of
    ``modules`` (top-level import names) is not installed; ``what`` is what needs them."""
    missing = [m for m in modules if not _installed(m)]
    if missing:
        raise ImportError(
            f"{what} needs {', '.join(missing)}, which {'is' if len(missing) == 1 else 'are'} not installed; "
            "install it with: "
            f"pip install 'priomem[{extra}]'",
            name=missing[0],
        )
