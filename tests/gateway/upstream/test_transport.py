"""GuardedTransport against a real misbehaving HTTP server: each failure gets its typed error."""

from __future__ import annotations

import asyncio
import logging
import time
import tracemalloc
from pathlib import Path

import httpx
import pytest

from gateway.errors import UpstreamError, UpstreamTimeout, UpstreamUnavailable
from gateway.upstream import UpstreamResponse
from tests.support.misbehaving import UPSTREAM_TEXT, MisbehavingServer

from .conftest import Build, fast

KIB = 1024
#: Memory a request costs besides its body (connection, TLS-less set-up, test server thread).
NOISE = 1024 * KIB


async def test_ok_json_is_fully_read_and_parsed(
    build: Build, misbehaving: MisbehavingServer
) -> None:
    client = build(fast(misbehaving.url))
    response = await client.get("/ok")
    assert response.status_code == 200
    assert isinstance(response, UpstreamResponse)
    assert response.json() == {"ok": True}
    assert response.is_stream_consumed
    assert response.reason_phrase == "X"


async def test_streaming_api_still_works(build: Build, misbehaving: MisbehavingServer) -> None:
    client = build(fast(misbehaving.url))
    async with client.stream("GET", "/ok") as response:
        body = await response.aread()
    assert body == b'{"ok": true}'


@pytest.mark.parametrize("status", [400, 401, 403, 404, 429])
async def test_4xx_is_returned_to_the_caller(
    build: Build, misbehaving: MisbehavingServer, status: int
) -> None:
    client = build(fast(misbehaving.url))
    response = await client.get(f"/status/{status}")
    assert response.status_code == status
    assert client.breaker.consecutive_failures == 0


async def test_5xx_is_upstream_error_without_upstream_text(
    build: Build, misbehaving: MisbehavingServer
) -> None:
    client = build(fast(misbehaving.url))
    with pytest.raises(UpstreamError) as info:
        await client.get("/500")
    assert type(info.value) is UpstreamError  # not wrapped by httpx
    assert info.value.upstream == "svc"
    assert UPSTREAM_TEXT not in info.value.detail
    assert info.value.internal is not None and "HTTP 500" in info.value.internal
    assert client.breaker.consecutive_failures == 1


async def test_garbage_json_is_upstream_error(build: Build, misbehaving: MisbehavingServer) -> None:
    client = build(fast(misbehaving.url))
    with pytest.raises(UpstreamError) as info:
        await client.get("/garbage")
    assert info.value.internal == "response is not valid JSON"
    assert client.breaker.consecutive_failures == 0  # the service is up, just wrong


async def test_garbage_is_returned_when_json_check_is_off(
    build: Build, misbehaving: MisbehavingServer
) -> None:
    client = build(fast(misbehaving.url, check_json=False))
    response = await client.get("/garbage")
    assert response.content.startswith(b"\x00\xff")
    with pytest.raises(ValueError):
        response.json()


async def test_redirect_is_refused_and_never_followed(
    build: Build, misbehaving: MisbehavingServer, misbehaving_other: MisbehavingServer
) -> None:
    misbehaving.redirect_to = f"{misbehaving_other.url}/ok"
    client = build(fast(misbehaving.url))
    with pytest.raises(UpstreamError) as info:
        await client.get("/redirect")
    assert info.value.internal == "redirect refused to 127.0.0.1"
    await asyncio.sleep(0.1)
    assert misbehaving_other.requests == []
    assert misbehaving.hits("/redirect") == 1


async def test_big_body_with_content_length_is_refused_before_reading(
    build: Build, misbehaving: MisbehavingServer
) -> None:
    cap = 64 * KIB
    client = build(fast(misbehaving.url, max_response_bytes=cap))
    tracemalloc.start()
    try:
        with pytest.raises(UpstreamError) as info:
            await client.get("/big", params={"size": 64 * 1024 * KIB, "length": 1})
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert info.value.internal is not None and "declared length" in info.value.internal
    assert peak < cap + NOISE  # the 64 MiB body was never read
    await asyncio.sleep(0.2)
    assert misbehaving.bytes_sent["/big"] < 32 * 1024 * KIB  # we hung up; it could not send it all


async def test_endless_body_stops_at_the_cap(build: Build, misbehaving: MisbehavingServer) -> None:
    cap = 2 * 1024 * KIB
    client = build(fast(misbehaving.url, max_response_bytes=cap))
    tracemalloc.start()
    try:
        with pytest.raises(UpstreamError) as info:
            await client.get("/big")  # no size: the server would send forever
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert info.value.internal is not None and "too large" in info.value.internal
    # bytes held: at most the cap plus one read chunk (64 KiB), plus connection set-up noise
    assert peak < cap + 64 * KIB + NOISE


async def test_body_just_under_the_cap_is_accepted(
    build: Build, misbehaving: MisbehavingServer
) -> None:
    cap = 64 * KIB
    client = build(fast(misbehaving.url, max_response_bytes=cap))
    response = await client.get("/big", params={"size": cap})
    assert len(response.content) == cap
    with pytest.raises(UpstreamError):
        await client.get("/big", params={"size": cap + 1})


async def test_gzip_bomb_is_refused(build: Build, misbehaving: MisbehavingServer) -> None:
    cap = 256 * KIB
    client = build(fast(misbehaving.url, max_response_bytes=cap, total_timeout=10))
    tracemalloc.start()
    try:
        with pytest.raises(UpstreamError) as info:
            await client.get("/gzip-bomb", params={"size": 32 * 1024 * KIB})
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert info.value.internal is not None and "inflated" in info.value.internal
    assert peak < cap + NOISE  # 32 MiB inflated, never held


async def test_hang_is_timeout_and_not_retried(
    build: Build, misbehaving: MisbehavingServer
) -> None:
    client = build(fast(misbehaving.url, read_timeout=0.3, retries=3))
    with pytest.raises(UpstreamTimeout) as info:
        await client.get("/hang")
    assert type(info.value) is UpstreamTimeout
    assert info.value.internal == "ReadTimeout"
    assert misbehaving.hits("/hang") == 1


async def test_drip_ends_at_the_total_deadline(
    build: Build, misbehaving: MisbehavingServer
) -> None:
    client = build(fast(misbehaving.url, read_timeout=1.0, total_timeout=1.0))
    started = time.monotonic()
    with pytest.raises(UpstreamTimeout) as info:
        await client.get("/drip", params={"interval": 0.2})
    elapsed = time.monotonic() - started
    assert info.value.internal == "deadline of 1.0 s passed"
    assert elapsed > 0.9  # ended by the deadline, which the message names
    assert misbehaving.bytes_sent["/drip"] > 0  # it was dripping, the read timeout never fired


async def test_slow_headers_end_at_the_total_deadline(
    build: Build, misbehaving: MisbehavingServer
) -> None:
    client = build(fast(misbehaving.url, read_timeout=1.0, total_timeout=1.0))
    with pytest.raises(UpstreamTimeout) as info:
        await client.get("/slow-headers", params={"interval": 0.2})
    assert info.value.internal == "deadline of 1.0 s passed"


async def test_slow_headers_past_read_timeout(build: Build, misbehaving: MisbehavingServer) -> None:
    client = build(fast(misbehaving.url, read_timeout=0.3))
    with pytest.raises(UpstreamTimeout) as info:
        await client.get("/slow-headers", params={"interval": 5})
    assert info.value.internal == "ReadTimeout"


async def test_connection_refused_is_unavailable(build: Build, closed_port: int) -> None:
    client = build(fast(f"http://127.0.0.1:{closed_port}", retries=0))
    with pytest.raises(UpstreamUnavailable) as info:
        await client.get("/ok")
    assert type(info.value) is UpstreamUnavailable
    assert info.value.code == "upstream_unavailable"
    assert client.breaker.consecutive_failures == 1


async def test_request_copy_seen_by_caller_has_no_credential(
    build: Build, misbehaving: MisbehavingServer, tmp_path: Path
) -> None:
    secret = tmp_path / "token"
    secret.write_text("s3cret-value\n")
    auth = {"scheme": "token", "secret_file": str(secret)}
    client = build(fast(misbehaving.url, auth=auth))
    response = await client.get("/echo", headers={"Authorization": "Bearer agent-token"})
    seen = response.json()["headers"]
    assert seen["authorization"] == "Token s3cret-value"  # injected, overriding the caller's
    assert "s3cret-value" not in str(response.request.headers)
    assert response.request.headers["authorization"] == "Bearer agent-token"


async def test_host_header_is_pinned(build: Build, misbehaving: MisbehavingServer) -> None:
    client = build(fast(misbehaving.url))
    response = await client.get("/echo", headers={"Host": "internal.admin"})
    assert response.json()["headers"]["host"] == f"127.0.0.1:{misbehaving.port}"


async def test_static_headers_and_user_agent_are_sent(
    build: Build, misbehaving: MisbehavingServer
) -> None:
    client = build(fast(misbehaving.url, headers={"X-Lab": "hermes"}))
    seen = (await client.get("/echo")).json()["headers"]
    assert seen["x-lab"] == "hermes"
    assert seen["user-agent"] == "labgate"
    assert seen["accept-encoding"] == "gzip, deflate"


async def test_cookies_are_not_kept(build: Build) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        assert "cookie" not in request.headers
        return httpx.Response(200, headers={"Set-Cookie": "sessionid=abc"}, json={})

    client = build(fast("http://svc.lan"), transport=httpx.MockTransport(handler))
    first = await client.get("/a")
    await client.get("/b")
    assert "set-cookie" not in first.headers
    assert not client.cookies


@pytest.mark.parametrize("pad", [0, 180, 190, 199])  # 180-199: the secret straddles the cut
async def test_failure_logs_never_show_the_secret(
    build: Build,
    misbehaving: MisbehavingServer,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    pad: int,
) -> None:
    secret = tmp_path / "pw"
    secret.write_text("hunter2-very-secret")
    auth = {"scheme": "basic", "username": "kuma", "secret_file": str(secret)}
    client = build(fast(misbehaving.url, auth=auth))
    caplog.set_level(logging.DEBUG)
    with pytest.raises(UpstreamError) as info:
        await client.get("/500", params={"echo": 1, "pad": pad})  # the body echoes our header
    encoded = "a3VtYTpodW50ZXIyLXZlcnktc2VjcmV0"  # base64("kuma:hunter2-very-secret")
    assert misbehaving.requests[0].headers["authorization"] == f"Basic {encoded}"
    for text in (str(info.value), info.value.detail, info.value.internal or "", caplog.text):
        assert "hunter2" not in text
        assert encoded[:4] not in text  # not even a prefix of it
    if pad == 0:
        assert "[redacted]" in (info.value.internal or "")
    assert "upstream svc: GET /500 failed" in caplog.text


async def test_upstream_metrics_and_span_are_recorded(
    build: Build, misbehaving: MisbehavingServer, telemetry: object
) -> None:
    from prometheus_client.parser import text_string_to_metric_families

    from gateway.telemetry import Telemetry

    assert isinstance(telemetry, Telemetry)
    client = build(fast(misbehaving.url))
    await client.get("/ok", params={"api_key": "q-secret"})
    with pytest.raises(UpstreamError):
        await client.get("/500")
    body, _ = telemetry.render()
    text = body.decode()
    assert "q-secret" not in text
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for fam in text_string_to_metric_families(text)
        for s in fam.samples
    }
    key = ("labgate_upstream_requests_total", (("status_class", "2xx"), ("upstream", "svc")))
    assert samples[key] == 1
    key5 = ("labgate_upstream_requests_total", (("status_class", "5xx"), ("upstream", "svc")))
    assert samples[key5] == 1
    count = ("labgate_upstream_duration_seconds_count", (("upstream", "svc"),))
    assert samples[count] == 2


async def test_upstream_requests_run_inside_a_span(build: Build) -> None:
    from gateway.telemetry import current_trace_id

    seen: list[str | None] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(current_trace_id())
        return httpx.Response(200, json={})

    client = build(fast("http://svc.lan"), transport=httpx.MockTransport(handler))
    await client.get("/x")
    assert seen[0] is not None and len(seen[0]) == 32
    assert current_trace_id() is None  # the span ended with the request


async def test_cancelled_request_is_counted_as_cancelled(
    build: Build, misbehaving: MisbehavingServer, telemetry: object
) -> None:
    from gateway.telemetry import Telemetry

    assert isinstance(telemetry, Telemetry)
    client = build(fast(misbehaving.url))
    task = asyncio.ensure_future(client.get("/hang"))
    while misbehaving.hits("/hang") == 0:
        await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    text = telemetry.render()[0].decode()
    assert 'labgate_upstream_requests_total{status_class="cancelled",upstream="svc"} 1.0' in text
    assert client.breaker.consecutive_failures == 0
