"""The LangGraph -> priomem namespace mapping is valid, reversible and collision-free."""

from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from priomem._validation import validate_namespace
from priomem.adapters.langgraph._naming import decode_namespace, encode_namespace, json_text

labels = st.text(st.characters(exclude_characters=".\x00", exclude_categories=()), min_size=1, max_size=30)
namespaces = st.lists(labels, min_size=1, max_size=8).map(tuple)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(namespaces)
def test_every_namespace_maps_to_a_valid_priomem_namespace_and_back(namespace: tuple[str, ...]) -> None:
    name = encode_namespace("lg", namespace)
    assert validate_namespace(name) == name
    if "@" in name:
        assert name.startswith("lg@") and len(name) == 3 + 64
    else:
        assert decode_namespace("lg", name) == namespace


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(namespaces, namespaces)
def test_distinct_namespaces_never_share_a_name(a: tuple[str, ...], b: tuple[str, ...]) -> None:
    if a != b:
        assert encode_namespace("lg", a) != encode_namespace("lg", b)


def test_readable_names() -> None:
    assert encode_namespace("lg", ("users", "alice")) == "lg.users.alice"
    assert encode_namespace("lg", ("memories", "Zoë 1")) == "lg.memories.Zo:c3:ab:201"
    assert encode_namespace("lg", ("a:b", "c@d")) == "lg.a:3ab.c:40d"
    # the label that looks like an escape is escaped itself, so the two differ
    assert encode_namespace("lg", (":41",)) != encode_namespace("lg", ("A",))


def test_names_that_are_not_this_stores_do_not_decode() -> None:
    for name in ("default", "lg", "lgx.a", "lg.a:zz", "lg.a:4", "lg.a..b", "lg.:41", "other.users", "lg@abc"):
        assert decode_namespace("lg", name) is None, name
    assert decode_namespace("lg", "lg.A") == ("A",)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
        lambda inner: st.lists(inner) | st.dictionaries(st.text(), inner),
        max_leaves=20,
    )
)
def test_json_text_round_trips_and_holds_no_control_characters(value: object) -> None:
    text = json_text(value, escape_spaces=True)
    assert json.loads(text) == value
    assert not any(ch.isspace() or ord(ch) < 0x20 or 0xD800 <= ord(ch) <= 0xDFFF for ch in text)
