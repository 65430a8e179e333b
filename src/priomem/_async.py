"""Async twins of the engine's operations: the sync core on a worker thread, never a copy.

``arecall = async_twin(recall)`` in a class body gives ``await engine.arecall(...)`` the
very signature of ``recall`` (for type checkers, through ``ParamSpec``, and for
``inspect.signature`` and ``help()``, through ``functools.wraps``).
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable, Coroutine
from typing import Any, Concatenate, ParamSpec, TypeVar

__all__ = ["async_twin"]

S = TypeVar("S")
P = ParamSpec("P")
R = TypeVar("R")


def async_twin(method: Callable[Concatenate[S, P], R]) -> Callable[Concatenate[S, P], Coroutine[Any, Any, R]]:
    """An async method that runs ``method`` in a worker thread (``asyncio.to_thread``)."""

    @functools.wraps(method)
    async def twin(self: S, /, *args: P.args, **kwargs: P.kwargs) -> R:
        return await asyncio.to_thread(method, self, *args, **kwargs)

    twin.__name__ = twin.__qualname__ = "a" + method.__name__
    twin.__doc__ = f"Async :meth:`{method.__name__}`: the same call, run in a worker thread."
    return twin
