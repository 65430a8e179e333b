"""A gate for the store: many operations at once, or one compaction alone."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import wraps
from typing import Any, TypeVar

__all__ = ["Gate", "shared"]

T = TypeVar("T")


class Gate:
    """Many operations at once, or one compaction alone (it closes and replaces collections).

    Re-entrant: a thread inside either side may enter the shared side again. A waiting
    compaction holds new operations back, so it is not starved.
    """

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._active = 0
        self._waiting = 0
        self._owner: int | None = None
        self._local = threading.local()

    @contextmanager
    def shared(self) -> Iterator[None]:
        depth = getattr(self._local, "depth", 0)
        if depth == 0 and self._owner != threading.get_ident():
            with self._cond:
                while self._owner is not None or self._waiting:
                    self._cond.wait()
                self._active += 1
        self._local.depth = depth + 1
        try:
            yield
        finally:
            self._local.depth = depth
            if depth == 0 and self._owner != threading.get_ident():
                with self._cond:
                    self._active -= 1
                    self._cond.notify_all()

    @contextmanager
    def exclusive(self) -> Iterator[None]:
        me = threading.get_ident()
        if self._owner == me:
            yield
            return
        with self._cond:
            self._waiting += 1
            while self._owner is not None or self._active:
                self._cond.wait()
            self._waiting -= 1
            self._owner = me
        try:
            yield
        finally:
            with self._cond:
                self._owner = None
                self._cond.notify_all()


def shared(method: Callable[..., T]) -> Callable[..., T]:
    @wraps(method)
    def run(self: Any, *args: Any, **kwargs: Any) -> T:
        with self._gate.shared():
            return method(self, *args, **kwargs)

    return run
