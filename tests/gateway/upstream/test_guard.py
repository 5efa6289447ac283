"""Path-escape and origin attacks: refused before anything is sent."""

from __future__ import annotations

from urllib.parse import unquote

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.errors import UpstreamError
from gateway.upstream import Breaker, UpstreamSettings
from gateway.upstream.client import GuardedClient
from gateway.upstream.guard import Origin, bad_segment, check_reference
from gateway.upstream.settings import UpstreamSettings as _Settings
from tests.support.misbehaving import MisbehavingServer

from .conftest import Build, fast

ESCAPES = [
    "/../x",
    "../x",
    "/a/../../x",
    "..",
    "./x",
    "//evil/",
    "//evil.example/x",
    "%2e%2e/x",
    "/a/%2e%2e/x",
    "/a/%2E%2E/x",
    "/a/.%2e/x",
    "/a/..%2fx",
    "/a/%2e%2e%2fx",
    "/a/%252e%252e/x",
    "a\\b",
    "/a/..\\x",
    "/a%5c..%5cx",
    "/a/%00",
    "http://evil/",
    "https://evil.example/api/x",
    "HTTP://EVIL/api/x",
    "evil.example:80/x",
    "http://127.0.0.1:1/api/x",
]


@pytest.mark.parametrize("ref", ESCAPES)
async def test_escape_attempts_are_refused_without_contact(
    build: Build, misbehaving: MisbehavingServer, ref: str
) -> None:
    client = build(fast(f"{misbehaving.url}/api/"))
    with pytest.raises(UpstreamError) as info:
        await client.get(ref)
    assert info.value.internal is not None and info.value.internal.startswith("request refused")
    assert info.value.detail == UpstreamError.default_message
    assert misbehaving.requests == []


async def test_other_port_and_credentials_in_url_are_refused(
    build: Build, misbehaving: MisbehavingServer, misbehaving_other: MisbehavingServer
) -> None:
    client = build(fast(f"{misbehaving.url}/api/"))
    for url in (
        f"{misbehaving_other.url}/api/ok",
        f"http://user:pw@127.0.0.1:{misbehaving.port}/api/ok",
        f"{misbehaving.url}/other/ok",
        f"{misbehaving.url}/apix",
    ):
        with pytest.raises(UpstreamError):
            await client.get(url)
    assert misbehaving.requests == [] and misbehaving_other.requests == []


async def test_prebuilt_request_is_checked_by_the_transport(
    build: Build, misbehaving: MisbehavingServer, misbehaving_other: MisbehavingServer
) -> None:
    client = build(fast(f"{misbehaving.url}/api/"))
    with pytest.raises(UpstreamError) as info:
        await client.send(httpx.Request("GET", f"{misbehaving_other.url}/ok"))
    assert "origin" in (info.value.internal or "")
    with pytest.raises(UpstreamError):  # httpx normalised the dots away; the prefix check holds
        await client.send(httpx.Request("GET", f"{misbehaving.url}/api/../ok"))
    assert misbehaving.requests == [] and misbehaving_other.requests == []


async def test_paths_inside_the_base_are_allowed(
    build: Build, misbehaving: MisbehavingServer
) -> None:
    client = build(fast(f"{misbehaving.url}/api"))
    for ref in ("ok", "/ok", "/a%2fb", "/a/b.c/..d", f"{misbehaving.url}/api/ok", "?q=../x"):
        response = await client.get(ref)
        assert response.status_code == 404  # the server has no /api/... routes; it was reached
    assert [r.path for r in misbehaving.requests] == [
        "/api/ok",
        "/api/ok",
        "/api/a%2fb",
        "/api/a/b.c/..d",
        "/api/ok",
        "/api/",
    ]


def test_origin_compares_default_ports_and_case() -> None:
    origin = Origin.from_base_url("HTTPS://Influx.LAN/api")
    assert origin.check(httpx.URL("https://influx.lan:443/api/v2/query")) is None
    assert origin.check(httpx.URL("http://influx.lan/api/v2/query")) is not None
    assert origin.check(httpx.URL("https://influx.lan:8443/api/x")) is not None
    assert origin.netloc == "influx.lan"
    assert Origin.from_base_url("http://h:8086").netloc == "h:8086"


def test_bad_segment() -> None:
    assert not bad_segment("a..b")
    assert not bad_segment("%2f")
    assert bad_segment("%2e")
    assert bad_segment("%25252e%25252e")
    assert bad_segment("x%5cy")


_PIECES = st.sampled_from(
    [".", "..", "%2e", "%2E", "%2e%2e", "%252e", "/", "//", "\\", "%2f", "%5c", "a", "b", "?", "#"]
)


@given(st.lists(_PIECES, max_size=8).map("".join))
def test_no_accepted_reference_can_leave_the_base_path(ref: str) -> None:
    """Whatever the URL text, an accepted request stays under /api/ even after a server
    decodes it (repeatedly) and resolves dot segments."""
    settings = _Settings(base_url="http://svc.lan/api/")
    origin = Origin.from_base_url(settings.base_url)
    client = GuardedClient(
        upstream="svc",
        breaker=Breaker(),
        base_url=settings.base_url,
        # no GuardedTransport: only the client-side reference check is under test
        transport=httpx.MockTransport(lambda r: httpx.Response(200)),  # type: ignore[arg-type]
    )
    try:
        request = client.build_request("GET", ref)
    except UpstreamError:
        return
    if origin.check(request.url) is not None:
        return
    path = request.url.raw_path.decode().partition("?")[0]
    decoded = unquote(unquote(unquote(path))).replace("\\", "/")
    parts = decoded.split("/")
    assert ".." not in parts and "." not in parts
    assert decoded.startswith("/api/") or decoded == "/api"


def test_check_reference_accepts_plain_relative_paths() -> None:
    assert check_reference("/v2/query") is None
    assert check_reference(httpx.URL("/v2/query")) is None
    assert check_reference("documents/?query=a..b") is None
    assert UpstreamSettings(base_url="http://h/").base_url == "http://h/"
