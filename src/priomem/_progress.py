"""What long operations say as they go: a bar on a terminal, a line per step otherwise.

Everything goes to the ``priomem.progress`` logger (and tqdm's bar to stderr): silent in a
library unless the application shows that logger, as the ``priomem`` CLI does (``-q``
turns it off). Lines, not ``\\r`` redraws, when stderr is a log or a pipe.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

__all__ = ["Steps", "bar", "progress_log"]

#: What long operations say as they go (the CLI shows it; see ``priomem.cli``).
progress_log = logging.getLogger("priomem.progress")


class Steps:
    """Progress where stderr is not a terminal: one line per tenth of ``total``, no ``\\r``."""

    def __init__(self, total: int | None, desc: str, unit: str = "memories") -> None:
        self.total, self.desc, self.unit, self.done, self._next = total, desc, unit, 0, 0.1

    def update(self, count: int) -> None:
        self.done += count
        if self.total and self.done / self.total >= self._next and self.done < self.total:
            progress_log.info("%s: %d of %d %s", self.desc, self.done, self.total, self.unit)
            while self.done / self.total >= self._next:
                self._next += 0.1

    def close(self) -> None:
        progress_log.info("%s: %d %s, done", self.desc, self.done, self.unit)


def bar(total: int | None, desc: str, enabled: bool, unit: str = "memories") -> Any:
    """A tqdm bar on a terminal, :class:`Steps` lines otherwise, nothing when not ``enabled``."""
    from tqdm import tqdm

    if enabled and not _is_terminal(sys.stderr):
        return Steps(total, desc, unit)
    return tqdm(total=total, desc=desc, unit="mem", file=sys.stderr, disable=not enabled, leave=False)


def _is_terminal(stream: Any) -> bool:
    """Whether ``stream`` is a terminal; False for None (``2>&-``, pythonw) or a closed one."""
    try:
        return bool(stream is not None and stream.isatty())
    except (AttributeError, ValueError, OSError):
        return False
