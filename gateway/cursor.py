"""Opaque page cursors, sealed so that only this gateway can mint or read them.

A cursor is ``base64url(JSON payload) "." base64url(tag)`` where the tag is an HMAC-SHA256
(truncated to 128 bits) over the payload *and* what the cursor is bound to: the tool that
issued it and the principal it was issued to. So an agent cannot mint a cursor, alter one
(point it past the scope's filter, at another offset or target), use one with another tool,
or hand one to another principal: each of these fails the tag check and is refused as
``invalid_arguments``. The payload itself is not secret (it is only position data), only
unforgeable.

The key is per process by default (cursors end with a restart, which costs a repeated first
page), or read from ``cursor_key_file`` so that several gateways behind one address accept
each other's cursors.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from gateway.errors import ConfigError
from gateway.secrets import read_secret_file

__all__ = ["MAX_CURSOR_CHARS", "MIN_KEY_BYTES", "CursorCodec", "CursorError", "cursor_codec"]

#: Longest token :meth:`CursorCodec.open` looks at; longer text is refused unread.
MAX_CURSOR_CHARS = 512
MIN_KEY_BYTES = 32
_TAG_BYTES = 16


class CursorError(ValueError):
    """Not a cursor this gateway issued to this principal for this tool."""


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    if not text or not all(c.isalnum() or c in "-_" for c in text) or not text.isascii():
        raise CursorError("not a cursor")
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raise CursorError("not a cursor") from None


class CursorCodec:
    """Seals and opens cursors with one key; ``CursorCodec()`` draws a fresh random key."""

    __slots__ = ("_key",)

    def __init__(self, key: bytes | None = None) -> None:
        if key is None:
            key = secrets.token_bytes(32)
        if len(key) < MIN_KEY_BYTES:
            raise ValueError(f"a cursor key needs at least {MIN_KEY_BYTES} bytes")
        self._key = key

    def __repr__(self) -> str:
        return "CursorCodec(key=<hidden>)"

    def _tag(self, body: bytes, bound: Sequence[str]) -> bytes:
        context = json.dumps(list(bound), separators=(",", ":")).encode()
        mac = hmac.new(self._key, context + b"\n" + body, hashlib.sha256)
        return mac.digest()[:_TAG_BYTES]

    def seal(self, payload: Mapping[str, Any], bound: Sequence[str]) -> str:
        """The cursor for ``payload`` (a small JSON object), bound to ``bound``."""
        body = json.dumps(dict(payload), separators=(",", ":"), sort_keys=True).encode()
        return f"{_b64(body)}.{_b64(self._tag(body, bound))}"

    def open(self, token: str, bound: Sequence[str]) -> dict[str, Any]:
        """The payload of a cursor sealed with this key for exactly ``bound``."""
        if not isinstance(token, str) or len(token) > MAX_CURSOR_CHARS:
            raise CursorError("not a cursor")
        body_text, dot, tag_text = token.partition(".")
        if not dot:
            raise CursorError("not a cursor")
        body, tag = _unb64(body_text), _unb64(tag_text)
        if not hmac.compare_digest(tag, self._tag(body, bound)):
            raise CursorError("cursor not issued here, altered, or for another tool or caller")
        try:
            payload = json.loads(body)
        except ValueError:  # only possible with a leaked key; refuse all the same
            raise CursorError("not a cursor") from None
        if not isinstance(payload, dict):
            raise CursorError("not a cursor")
        return payload


def cursor_codec(key_file: Path | None) -> CursorCodec:
    """The codec of ``cursor_key_file``, or one with a random key for this process."""
    if key_file is None:
        return CursorCodec()
    key = read_secret_file(key_file, "cursor_key_file").encode("utf-8")
    if len(key) < MIN_KEY_BYTES:
        raise ConfigError(
            f"cursor_key_file: need at least {MIN_KEY_BYTES} bytes of key", key="cursor_key_file"
        )
    return CursorCodec(key)
