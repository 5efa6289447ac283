from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from .fake_kuma import VERSIONS, FakeKuma, serve


@pytest.fixture(params=VERSIONS)
def version(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def fake(version: str) -> FakeKuma:
    return FakeKuma(version)


@pytest.fixture
def kuma_url(fake: FakeKuma) -> Iterator[str]:
    """A real HTTP server on a free loopback port serving ``fake``."""
    with serve(fake) as url:
        yield url


@pytest.fixture
async def http(kuma_url: str) -> AsyncIterator[httpx.AsyncClient]:
    from .support import make_http

    async with make_http(kuma_url) as client:
        yield client
