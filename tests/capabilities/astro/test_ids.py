"""Session ids and cursors: round trips, and any other text is refused cleanly."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from capabilities.astro.ids import (
    decode_cursor,
    decode_session_id,
    encode_cursor,
    encode_session_id,
)
from capabilities.astro.schemas import NIGHT_MAX
from gateway.capability import Principal, ToolContext
from gateway.errors import InvalidArguments


def _ctx(sub: str = "hermes", tool: str = "astro_list_sessions") -> ToolContext:
    now = datetime(2024, 8, 2, tzinfo=UTC)
    return ToolContext(Principal(sub=sub), "r", now, None, None, {}, tool=tool)


@given(st.dates(min_value=date(2000, 1, 1), max_value=NIGHT_MAX), st.text(min_size=1, max_size=200))
def test_session_id_round_trip(night: date, target: str) -> None:
    assert decode_session_id(encode_session_id(night, target)) == (night, target)


@given(st.one_of(st.dates(max_value=date(1970, 1, 1)), st.dates(min_value=date(2262, 1, 1))))
def test_a_night_influxdb_cannot_hold_is_invalid(night: date) -> None:
    with pytest.raises(InvalidArguments):
        decode_session_id(encode_session_id(night, "M31"))


@given(st.text(max_size=600))
def test_any_text_is_a_session_id_or_invalid_arguments(token: str) -> None:
    try:
        night, target = decode_session_id(token)
    except InvalidArguments as e:
        assert "astro_list_sessions" in e.detail
    else:
        assert isinstance(night, date) and 1 <= len(target) <= 200


def test_cursor_round_trip_and_fingerprint() -> None:
    key = (date(2024, 8, 1), datetime(2024, 8, 1, 20, tzinfo=UTC), "M31")
    ctx = _ctx()
    token = encode_cursor(ctx, key, "abc")
    assert decode_cursor(ctx, token, "abc") == (date(2024, 8, 1), 1722542400000, "M31")
    with pytest.raises(InvalidArguments, match="different query"):
        decode_cursor(ctx, token, "other")
    with pytest.raises(InvalidArguments):
        decode_cursor(ctx, encode_session_id(date(2024, 8, 1), "M31"), "abc")
    for other in (_ctx(sub="someone-else"), _ctx(tool="astro_target_totals")):
        with pytest.raises(InvalidArguments):
            decode_cursor(other, token, "abc")
