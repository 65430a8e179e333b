from __future__ import annotations

import pytest

from priomem import InvalidPriorityError, Priority


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("high", Priority.HIGH),
        ("CRITICAL", Priority.CRITICAL),
        (" Low ", Priority.LOW),
        (2, Priority.MEDIUM),
        (Priority.HIGH, Priority.HIGH),
        ("4", Priority.CRITICAL),
    ],
)
def test_parse_accepts_names_ints_and_members(value: object, expected: Priority) -> None:
    assert Priority.parse(value) is expected


@pytest.mark.parametrize("value", ["urgent", 0, 5, -1, True, None, 2.0, "", [1]])
def test_parse_refuses_anything_else_with_the_choices(value: object) -> None:
    with pytest.raises(InvalidPriorityError, match="low, medium, high, critical"):
        Priority.parse(value)


def test_order_and_values() -> None:
    assert [p.value for p in Priority] == [1, 2, 3, 4]
    assert Priority.LOW < Priority.MEDIUM < Priority.HIGH < Priority.CRITICAL
    assert "SLA" in (Priority.__doc__ or "") and "debug" in (Priority.__doc__ or "")
