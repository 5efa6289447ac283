"""Reading an upstream body with a hard cap, also after decompression.

The cap counts bytes as they arrive (a declared ``Content-Length`` over the cap is refused
before reading); gzip/deflate bodies are inflated with the same cap so a small compressed
body cannot expand without bound.
"""

from __future__ import annotations

import zlib
from collections.abc import AsyncIterable

__all__ = [
    "ACCEPT_ENCODING",
    "BodyTooLarge",
    "UnsupportedEncoding",
    "declared_length",
    "decode",
    "read_capped",
]

#: What labgate advertises; only these encodings are inflated.
ACCEPT_ENCODING = "gzip, deflate"


class BodyTooLarge(Exception):
    """The body (raw or inflated) is over the cap."""


class UnsupportedEncoding(Exception):
    """A content encoding labgate did not ask for, or a corrupt compressed body."""


def declared_length(value: str | None) -> int | None:
    if value is None:
        return None
    try:
        return int(value.split(",")[0].strip())
    except ValueError:
        return None


async def read_capped(stream: AsyncIterable[bytes], cap: int) -> bytes:
    """Read ``stream`` until its end; stop as soon as more than ``cap`` bytes arrived."""
    chunks: list[bytes] = []
    total = 0
    async for chunk in stream:
        total += len(chunk)
        if total > cap:
            raise BodyTooLarge(f"body over {cap} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def decode(body: bytes, encoding: str | None, cap: int) -> bytes:
    """Inflate ``body`` for ``Content-Encoding: encoding``, never producing more than ``cap``."""
    coding = (encoding or "identity").strip().lower()
    if coding in ("", "identity"):
        return body
    if coding in ("gzip", "x-gzip"):
        return _inflate(body, zlib.MAX_WBITS | 16, cap)
    if coding == "deflate":
        try:
            return _inflate(body, zlib.MAX_WBITS, cap)
        except UnsupportedEncoding:
            return _inflate(body, -zlib.MAX_WBITS, cap)  # raw deflate, as some servers send
    raise UnsupportedEncoding(f"content-encoding {coding[:40]!r} not supported")


def _inflate(body: bytes, wbits: int, cap: int) -> bytes:
    inflater = zlib.decompressobj(wbits)
    try:
        out = inflater.decompress(body, cap + 1)
        if len(out) > cap or inflater.unconsumed_tail:
            raise BodyTooLarge(f"inflated body over {cap} bytes")
        out += inflater.flush()
    except zlib.error as exc:
        raise UnsupportedEncoding(f"corrupt compressed body: {exc}") from None
    if len(out) > cap:
        raise BodyTooLarge(f"inflated body over {cap} bytes")
    return out
