"""LangGraph's search filters and namespace conditions, checked in Python.

The semantics are those of LangGraph's own stores: a filter maps value fields to a value
(equality; dicts match field by field, lists element by element) or to operators
``$eq $ne $gt $gte $lt $lte``; a namespace condition is a prefix or suffix in which
``"*"`` matches any one label.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from langgraph.store.base import MatchCondition

from priomem import InvalidInputError

__all__ = ["matches_conditions", "matches_filter", "validate_filter"]

OPERATORS = ("$eq", "$ne", "$gt", "$gte", "$lt", "$lte")


def validate_filter(flt: Mapping[str, Any] | None) -> None:
    """Refuse unknown ``$`` operators before anything is read."""
    if not flt:
        return
    for value in flt.values():
        if isinstance(value, Mapping):
            for key in value:
                if isinstance(key, str) and key.startswith("$") and key not in OPERATORS:
                    raise InvalidInputError(
                        f"filter: operator {key!r} is not supported; use one of {', '.join(OPERATORS)}.",
                        field="filter",
                    )
            validate_filter(value)


def _compare(actual: Any, expected: Any) -> bool:
    if isinstance(expected, Mapping):
        if any(isinstance(k, str) and k.startswith("$") for k in expected):
            return all(_operator(actual, op, operand) for op, operand in expected.items())
        if not isinstance(actual, Mapping):
            return False
        return all(_compare(actual.get(k), v) for k, v in expected.items())
    if isinstance(expected, list | tuple):
        return (
            isinstance(actual, list | tuple)
            and len(actual) == len(expected)
            and all(_compare(a, e) for a, e in zip(actual, expected, strict=True))
        )
    return bool(actual == expected)


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        return float(value)
    except ValueError:
        return None


def _operator(actual: Any, op: str, operand: Any) -> bool:
    if op == "$eq":
        return bool(actual == operand)
    if op == "$ne":
        return bool(actual != operand)
    left, right = _number(actual), _number(operand)
    if left is None or right is None:
        return False  # a missing or non-numeric field matches no comparison
    if op == "$gt":
        return left > right
    if op == "$gte":
        return left >= right
    if op == "$lt":
        return left < right
    return left <= right  # $lte; validate_filter refused anything else


def matches_filter(value: Mapping[str, Any], flt: Mapping[str, Any] | None) -> bool:
    """Whether an item's ``value`` passes a LangGraph search ``filter``."""
    return not flt or all(_compare(value.get(k), v) for k, v in flt.items())


def _matches(condition: MatchCondition, namespace: tuple[str, ...]) -> bool:
    path = tuple(condition.path)
    if len(namespace) < len(path):
        return False
    part = (
        namespace[: len(path)]
        if condition.match_type == "prefix"
        else namespace[len(namespace) - len(path) :]
    )
    return all(p == "*" or p == n for p, n in zip(path, part, strict=True))


def matches_conditions(namespace: tuple[str, ...], conditions: tuple[MatchCondition, ...] | None) -> bool:
    """Whether ``namespace`` meets every prefix/suffix condition of a listing."""
    return all(_matches(c, namespace) for c in conditions or ())
