"""Page cursors are sealed: an agent cannot mint, alter, move or pass one on.

Each attack goes through ``ToolContext.open_cursor``, the one door every capability uses, and
must end as ``invalid_arguments``; the tool-level tests (health, documents, astro) run the
same attacks through real tools.
"""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from gateway.capability import Principal, ToolContext
from gateway.cursor import MAX_CURSOR_CHARS, CursorCodec, CursorError, cursor_codec
from gateway.errors import ConfigError, InvalidArguments

NOW = datetime(2026, 1, 1, tzinfo=UTC)
CODEC = CursorCodec()


def ctx(sub: str = "hermes", tool: str = "health_list_services", **kw: object) -> ToolContext:
    principal = Principal(sub=sub, issuer=str(kw.get("issuer", "https://idp.example/")))
    codec = kw.get("codec", CODEC)
    assert isinstance(codec, CursorCodec)
    return ToolContext(principal, "r", NOW, None, None, {}, tool=tool, cursors=codec)


def b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def refused(context: ToolContext, token: str) -> InvalidArguments:
    with pytest.raises(InvalidArguments) as caught:
        context.open_cursor(token)
    assert caught.value.code == "invalid_arguments"
    return caught.value


def test_round_trip() -> None:
    token = ctx().seal_cursor({"o": 10, "f": "abc"})
    assert ctx().open_cursor(token) == {"o": 10, "f": "abc"}


def test_a_minted_cursor_is_refused() -> None:
    body = b64(json.dumps({"o": 10, "f": "abc"}).encode())
    for forged in (body, f"{body}.", f"{body}.{b64(b'0' * 16)}", f"{body}.{b64(b'')}"):
        refused(ctx(), forged)


def test_an_altered_cursor_is_refused() -> None:
    token = ctx().seal_cursor({"o": 10, "f": "abc"})
    body, _, tag = token.partition(".")
    moved = b64(json.dumps({"f": "abc", "o": 190}, separators=(",", ":")).encode())
    refused(ctx(), f"{moved}.{tag}")
    flipped = tag[:-2] + ("AA" if tag[-2:] != "AA" else "BB")
    refused(ctx(), f"{body}.{flipped}")
    refused(ctx(), token + "A")


def test_a_cursor_of_another_tool_is_refused() -> None:
    token = ctx(tool="documents_search").seal_cursor({"o": 10, "f": "abc"})
    refused(ctx(tool="health_list_services"), token)


def test_a_cursor_of_another_principal_is_refused() -> None:
    token = ctx(sub="alice").seal_cursor({"o": 10})
    refused(ctx(sub="mallory"), token)
    refused(ctx(sub="alice", issuer="https://other-idp.example/"), token)


def test_a_cursor_sealed_with_another_key_is_refused() -> None:
    token = ctx(codec=CursorCodec()).seal_cursor({"o": 10})
    refused(ctx(), token)


@pytest.mark.parametrize("junk", ["", ".", "..", "a.b.c", "é.é", "%%%.%%%", "x" * 10_000])
def test_junk_is_refused(junk: str) -> None:
    refused(ctx(), junk)


def test_an_overlong_token_is_not_even_read() -> None:
    with pytest.raises(CursorError):
        CODEC.open("A" * (MAX_CURSOR_CHARS + 1), ())


def test_the_key_file_is_checked(tmp_path: Path) -> None:
    short = tmp_path / "short"
    short.write_text("too short\n")
    with pytest.raises(ConfigError) as caught:
        cursor_codec(short)
    assert caught.value.key == "cursor_key_file"
    good = tmp_path / "key"
    good.write_text("k" * 40 + "\n")
    one, two = cursor_codec(good), cursor_codec(good)  # two gateways, one key
    assert two.open(one.seal({"o": 1}, ("t", "", "s")), ("t", "", "s")) == {"o": 1}
    assert "k" * 40 not in repr(one)
