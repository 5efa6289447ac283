"""Reading the bearer credential out of the Authorization header."""

from __future__ import annotations

import pytest
from starlette.datastructures import Headers

from gateway.auth.bearer import bearer_token
from gateway.errors import AuthError


@pytest.mark.parametrize(
    ("value", "token"),
    [
        ("Bearer abc.def.ghi", "abc.def.ghi"),
        ("bearer abc.def.ghi", "abc.def.ghi"),  # the scheme is case-insensitive (RFC 9110)
        ("BEARER abc", "abc"),
        ("Bearer   abc  ", "abc"),
    ],
)
def test_accepted(value: str, token: str) -> None:
    assert bearer_token({"Authorization": value}, 8192) == token


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("", "missing-token"),
        ("Bearer", "missing-token"),
        ("Bearer ", "missing-token"),
        ("Basic dXNlcjpwYXNz", "missing-token"),
        ("Token abc", "missing-token"),
        ("Bearerabc", "missing-token"),
        ("Bearer a b", "malformed-token"),
        ("Bearer Bearer abc", "malformed-token"),
        ("Bearer abc\tdef", "malformed-token"),
        ("Bearer abc,def", "malformed-token"),
        ("Bearer é", "malformed-token"),
        ("Bearer " + "a" * 9000, "token-too-large"),
    ],
)
def test_refused(value: str, reason: str) -> None:
    with pytest.raises(AuthError) as caught:
        bearer_token({"authorization": value}, 8192)
    assert caught.value.reason == reason


def test_no_header() -> None:
    with pytest.raises(AuthError) as caught:
        bearer_token({"x-other": "Bearer abc"}, 8192)
    assert caught.value.reason == "missing-token"


def test_two_authorization_headers_are_refused() -> None:
    headers = Headers(raw=[(b"authorization", b"Bearer good"), (b"authorization", b"Bearer evil")])
    with pytest.raises(AuthError) as caught:
        bearer_token(headers, 8192)
    assert caught.value.reason == "malformed-token"
