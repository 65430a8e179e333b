"""Async twins of the engine's operations: the sync core on a worker thread, never a copy.

``arecall = async_twin(recall)`` in a class body gives ``await engine.arecall(...)`` the
very signature of ``recall`` (for type checkers, through ``ParamSpec``, and for
``inspect.signature`` and ``help()``, through ``functools.wraps``).
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable, Coroutine, Iterator
from typing import Any, Concatenate, ParamSpec, TypeVar

__all__ = ["async_twin"]

S = TypeVar("S")
P = ParamSpec("P")
R = TypeVar("R")


def async_twin(method: Callable[Concatenate[S, P], R]) -> Callable[Concatenate[S, P], Coroutine[Any, Any, R]]:
    """An async method that runs ``method`` in a worker thread (``asyncio.to_thread``)."""

    name = method.__name__

    @functools.wraps(method)
    async def twin(self: S, /, *args: P.args, **kwargs: P.kwargs) -> R:
        # The instance's method at call time, so a subclass's override or a patched
        # instance is what runs; an iterator (a generator of items) is read here, on the
        # caller's thread, as the sync call would read it.
        sync: Callable[..., R] = getattr(self, name)
        given = tuple(list(a) if isinstance(a, Iterator) else a for a in args)
        return await asyncio.to_thread(sync, *given, **kwargs)

    twin.__name__ = twin.__qualname__ = "a" + method.__name__
    twin.__doc__ = f"Async :meth:`{method.__name__}`: the same call, run in a worker thread."
    return twin
