from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from capabilities.declarative import EXAMPLES, DeclarativeStore

from .fake_lab import FakeLab, serve
from .support import plain_clients


@pytest.fixture
def fake() -> FakeLab:
    return FakeLab()


@pytest.fixture
def lab_url(fake: FakeLab) -> Iterator[str]:
    """A real HTTP server on a free loopback port serving ``fake``."""
    with serve(fake) as url:
        yield url


@pytest.fixture
def store() -> DeclarativeStore:
    return DeclarativeStore(EXAMPLES, None)


@pytest.fixture
async def clients(lab_url: str) -> AsyncIterator[dict[str, httpx.AsyncClient]]:
    made = plain_clients(lab_url)
    yield made
    for client in made.values():
        await client.aclose()
