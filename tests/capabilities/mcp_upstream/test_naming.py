"""Upstream tool names become labgate names: snake_case, <= 40 characters, unique."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from capabilities.mcp_upstream.naming import NameClash, labgate_name, labgate_names
from gateway.capability import MAX_TOOL_NAME, TOOL_NAME


@pytest.mark.parametrize(
    ("upstream", "name"),
    [
        ("GetLiveContext", "ha_get_live_context"),
        ("get-sum", "ha_get_sum"),
        ("HassTurnOn", "ha_hass_turn_on"),
        ("list_repos", "ha_list_repos"),
        ("fetchURLContent", "ha_fetch_url_content"),
        ("3d.print", "ha_t3d_print"),
        ("日本", "ha_tool"),
    ],
)
def test_names(upstream: str, name: str) -> None:
    assert labgate_name("ha", upstream) == name


def test_long_names_stay_distinct_and_short() -> None:
    a = labgate_name("homeassistant", "a_very_long_tool_name_that_goes_on_and_on_one")
    b = labgate_name("homeassistant", "a_very_long_tool_name_that_goes_on_and_on_two")
    assert a != b and len(a) <= MAX_TOOL_NAME and len(b) <= MAX_TOOL_NAME


def test_collision_is_an_error() -> None:
    with pytest.raises(NameClash, match="both become ha_get_state"):
        labgate_names("ha", ["getState", "get_state"])


@given(st.text(min_size=1, max_size=200))
def test_every_name_is_a_valid_tool_name(upstream: str) -> None:
    name = labgate_name("srv", upstream)
    assert TOOL_NAME.match(name) and len(name) <= MAX_TOOL_NAME and name.startswith("srv_")
