"""Bounded body reading and inflation."""

from __future__ import annotations

import gzip
import zlib
from collections.abc import AsyncIterator

import pytest

from gateway.upstream.body import (
    BodyTooLarge,
    UnsupportedEncoding,
    declared_length,
    decode,
    read_capped,
)


async def _chunks(n: int, size: int) -> AsyncIterator[bytes]:
    for _ in range(n):
        yield b"x" * size


async def test_read_capped_stops_at_the_first_chunk_over_the_cap() -> None:
    consumed = 0

    async def endless() -> AsyncIterator[bytes]:
        nonlocal consumed
        while True:
            consumed += 1
            yield b"x" * 1000

    with pytest.raises(BodyTooLarge):
        await read_capped(endless(), 10_000)
    assert consumed == 11


async def test_read_capped_accepts_exactly_the_cap() -> None:
    assert len(await read_capped(_chunks(10, 1000), 10_000)) == 10_000


def test_decode_identity_gzip_deflate() -> None:
    data = b"hello " * 100
    assert decode(data, None, 10_000) == data
    assert decode(gzip.compress(data), "gzip", 10_000) == data
    assert decode(zlib.compress(data), "deflate", 10_000) == data
    raw = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    assert decode(raw.compress(data) + raw.flush(), "deflate", 10_000) == data


def test_decode_refuses_bombs_and_unknown_encodings() -> None:
    with pytest.raises(BodyTooLarge):
        decode(gzip.compress(b"\0" * 1_000_000), "gzip", 10_000)
    with pytest.raises(BodyTooLarge):
        decode(gzip.compress(b"\0" * 10_001), "gzip", 10_000)
    assert len(decode(gzip.compress(b"\0" * 10_000), "gzip", 10_000)) == 10_000
    with pytest.raises(UnsupportedEncoding):
        decode(b"data", "br", 10_000)
    with pytest.raises(UnsupportedEncoding):
        decode(b"not gzip", "gzip", 10_000)


def test_declared_length() -> None:
    assert declared_length(None) is None
    assert declared_length("12") == 12
    assert declared_length("12, 12") == 12
    assert declared_length("abc") is None
