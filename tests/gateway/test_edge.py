"""The HTTP edge under attack, against the gateway as a real process under uvicorn.

Header floods, slowloris and connection floods on both listeners. Figures (RSS added by the
header flood, a normal client's latency with and without a slowloris) are printed: run with
``pytest tests/gateway/test_edge.py -s`` to see them.
"""

from __future__ import annotations

import socket
import statistics
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from gateway.edge import EDGE_CODES
from tests.support.live import ROOT, LiveGateway, live_config, running, token_headers

MB = 1 << 20
WAIT = 60.0  # a guard against hanging forever, not a bound the test asserts


def _address(url: str) -> tuple[str, int]:
    host, port = url.removeprefix("http://").rsplit(":", 1)
    return host, int(port)


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


def _connect(url: str) -> socket.socket:
    return socket.create_connection(_address(url), timeout=WAIT)


def _read_until_closed(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection (the close event)."""
    received = b""
    try:
        while chunk := sock.recv(65536):
            received += chunk
    except ConnectionResetError:
        pass
    return received


def _read_response(sock: socket.socket) -> bytes:
    """One whole response (head and ``content-length`` body) on a connection kept open."""
    received = b""
    while b"\r\n\r\n" not in received:
        received += sock.recv(65536)
    head, body = received.split(b"\r\n\r\n", 1)
    length = next(
        int(line.split(b":", 1)[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    while len(body) < length:
        body += sock.recv(65536)
    return head + b"\r\n\r\n" + body


def _is_open(sock: socket.socket) -> bool:
    sock.setblocking(False)
    try:
        return sock.recv(1, socket.MSG_PEEK) != b""
    except BlockingIOError:
        return True
    except ConnectionError:
        return False
    finally:
        sock.setblocking(True)
        sock.settimeout(WAIT)


def _start_head(url: str) -> socket.socket:
    sock = _connect(url)
    sock.sendall(b"GET /v1/tools HTTP/1.1\r\nHost: labgate\r\n")
    return sock


class Slowloris:
    """Connections that send a head one header line at a time and never finish it."""

    def __init__(self, url: str, count: int, every: float = 0.5) -> None:
        self.socks = [_start_head(url) for _ in range(count)]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._trickle, args=(every,), daemon=True)
        self._thread.start()

    def _trickle(self, every: float) -> None:
        n = 0
        while not self._stop.wait(every):
            n += 1
            for sock in self.socks:
                try:
                    sock.send(f"X-Slow-{n}: x\r\n".encode())
                except OSError:
                    pass

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        for sock in self.socks:
            sock.close()


def _with_bounds(tmp: Path, **bounds: float) -> dict[str, Any]:
    """Fixture policies and the test capability; both listeners with ``bounds``."""
    config = live_config(tmp)
    config["listen"] = dict(bounds)
    config["operator_listen"] = dict(bounds)
    return config


@pytest.fixture(scope="module")
def roomy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LiveGateway, Path]]:
    """Default bounds, except a head timeout long enough to hold a slowloris for a while."""
    tmp = tmp_path_factory.mktemp("roomy")
    with running(tmp, _with_bounds(tmp, header_timeout=120)) as live:
        yield live, tmp


@pytest.fixture(scope="module")
def tight(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LiveGateway, Path]]:
    """Five connections per listener, one second for a head, one second of idle keep-alive."""
    tmp = tmp_path_factory.mktemp("tight")
    config = _with_bounds(tmp, max_connections=5, header_timeout=1, keep_alive_timeout=1)
    with running(tmp, config) as live:
        yield live, tmp


# The header flood


def _flood(url: str, authorization: str | None, size: int) -> bytes:
    """One request whose header is ``size`` bytes; what the server answered before closing."""
    sock = _connect(url)
    auth = f"Authorization: {authorization}\r\n".encode() if authorization else b""
    try:
        sock.sendall(b"GET /v1/tools HTTP/1.1\r\nHost: labgate\r\n" + auth + b"X-Big: ")
        chunk = b"a" * MB
        for _ in range(size // MB):
            sock.sendall(chunk)
        sock.sendall(b"\r\n\r\n")
        return _read_until_closed(sock)
    except (BrokenPipeError, ConnectionResetError):
        return b""
    finally:
        sock.close()


def test_header_flood_adds_little_memory_and_a_normal_client_is_served(
    roomy: tuple[LiveGateway, Path],
) -> None:
    """Four clients (two with a token, two without) send 64 MB headers, again and again while a
    normal client makes its calls."""
    live, tmp = roomy
    token = token_headers(tmp)["Authorization"]
    url = live.base + "/v1/tools"
    with httpx.Client(headers={"Authorization": token}, timeout=WAIT) as client:
        alone = _latencies(client, url)
    before = _rss_mb(live.proc.pid)
    answers: list[bytes] = []
    done = threading.Event()

    def flood(authorization: str | None) -> None:
        answers.append(_flood(live.base, authorization, 64 * MB))
        while not done.is_set():
            answers.append(_flood(live.base, authorization, 64 * MB))

    floods = [threading.Thread(target=flood, args=(a,)) for a in (token, token, None, None)]
    for thread in floods:
        thread.start()
    try:
        with httpx.Client(headers={"Authorization": token}, timeout=WAIT) as client:
            during = _latencies(client, url)
    finally:
        done.set()
        for thread in floods:
            thread.join()
    added = _rss_mb(live.proc.pid) - before
    print(
        f"\nheader flood, {len(answers)} requests of 64 MB from 4 clients:"
        f" RSS {before:.1f} MB -> {before + added:.1f} MB (+{added:.1f});"
        f" normal client median (p95): alone {_ms(alone)}, during the flood {_ms(during)}"
    )
    assert added <= 20, f"the flood added {added:.1f} MB"
    # No flood request reached the application: each was refused (431) or cut off.
    assert all(a == b"" or a.startswith(b"HTTP/1.1 431 ") for a in answers), answers[:4]


def _ms(seconds: list[float]) -> str:
    return f"{statistics.median(seconds) * 1e3:.1f} ms ({_p95(seconds) * 1e3:.1f})"


def _trailer_flood(url: str, authorization: str, size: int) -> bytes:
    """A chunked request whose body ends with a trailer field of ``size`` bytes."""
    sock = _connect(url)
    body = b'{"text": "hi"}'
    head = (
        "POST /v1/tools/testcap_echo HTTP/1.1\r\nHost: labgate\r\n"
        f"Authorization: {authorization}\r\nContent-Type: application/json\r\n"
        "Transfer-Encoding: chunked\r\n\r\n"
    ).encode()
    try:
        sock.sendall(head + b"%x\r\n%s\r\n0\r\nX-Big: " % (len(body), body))
        chunk = b"a" * MB
        for _ in range(size // MB):
            sock.sendall(chunk)
        sock.sendall(b"\r\n\r\n")
        return _read_until_closed(sock)
    except (BrokenPipeError, ConnectionResetError):
        return b""
    finally:
        sock.close()


def test_a_trailer_flood_adds_little_memory(roomy: tuple[LiveGateway, Path]) -> None:
    """Trailer fields after a chunked body are buffered like header fields: the same bound."""
    live, tmp = roomy
    token = token_headers(tmp)["Authorization"]
    before = _rss_mb(live.proc.pid)
    answers: list[bytes] = []
    floods = [
        threading.Thread(target=lambda: answers.append(_trailer_flood(live.base, token, 64 * MB)))
        for _ in range(2)
    ]
    for thread in floods:
        thread.start()
    for thread in floods:
        thread.join()
    added = _rss_mb(live.proc.pid) - before
    print(f"\ntrailer flood 2 x 64 MB: RSS +{added:.1f} MB")
    assert added <= 20, f"the flood added {added:.1f} MB"
    # The body never ended: no answer but the refusal.
    assert all(a == b"" or a.startswith(b"HTTP/1.1 431 ") for a in answers), answers


def test_a_body_in_many_small_chunks_is_served(roomy: tuple[LiveGateway, Path]) -> None:
    """Chunk framing is progress: 1-byte chunks adding up to far more than the head limit."""
    live, tmp = roomy
    body = b'{"text": "hi"' + b" " * 20_000 + b"}"
    chunks = b"".join(b"1\r\n%s\r\n" % body[i : i + 1] for i in range(len(body))) + b"0\r\n\r\n"
    auth = token_headers(tmp)["Authorization"]
    head = (
        "POST /v1/tools/testcap_echo HTTP/1.1\r\nHost: labgate\r\nConnection: close\r\n"
        f"Authorization: {auth}\r\nContent-Type: application/json\r\n"
        "Transfer-Encoding: chunked\r\n\r\n"
    ).encode()
    answer = _exchange(live.base, head + chunks)
    assert answer.startswith(b"HTTP/1.1 200 "), answer[:200]


# Head size and header count


def _exchange(url: str, request: bytes) -> bytes:
    sock = _connect(url)
    try:
        sock.sendall(request)
        return _read_until_closed(sock)
    finally:
        sock.close()


def _get(path: str, headers: list[str], extra: bytes = b"") -> bytes:
    lines = [f"GET {path} HTTP/1.1", "Host: labgate", "Connection: close", *headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + extra


@pytest.mark.parametrize("face", ["base", "ops"])
def test_a_head_over_the_byte_limit_gets_431(roomy: tuple[LiveGateway, Path], face: str) -> None:
    live, _ = roomy
    url = getattr(live, face)
    path = "/v1/tools" if face == "base" else "/healthz"
    answer = _exchange(url, _get(path, ["X-Big: " + "a" * 32_768]))
    assert answer.startswith(b"HTTP/1.1 431 "), answer[:80]
    assert b'"code":"header_too_large"' in answer
    # Just under the limit is served.
    answer = _exchange(url, _get(path, ["X-Big: " + "a" * 30_000]))
    assert answer.split(b" ", 2)[1] in (b"200", b"401"), answer[:80]


def test_too_many_header_fields_get_431(roomy: tuple[LiveGateway, Path]) -> None:
    live, _ = roomy
    answer = _exchange(live.base, _get("/v1/tools", [f"X-F{i}: v" for i in range(101)]))
    assert answer.startswith(b"HTTP/1.1 431 "), answer[:80]
    answer = _exchange(live.base, _get("/v1/tools", [f"X-F{i}: v" for i in range(90)]))
    assert answer.startswith(b"HTTP/1.1 401 "), answer[:80]


def test_a_body_is_not_counted_as_head(roomy: tuple[LiveGateway, Path]) -> None:
    """A small head followed in the same write by a body larger than the head limit."""
    live, tmp = roomy
    body = b'{"text": "' + b"a" * 100_000 + b'"}'
    auth = token_headers(tmp)["Authorization"]
    head = (
        "POST /v1/tools/testcap_echo HTTP/1.1\r\nHost: labgate\r\nConnection: close\r\n"
        f"Authorization: {auth}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode()
    answer = _exchange(live.base, head + body)
    assert not answer.startswith(b"HTTP/1.1 431 "), answer[:80]
    assert answer.startswith(b"HTTP/1.1 "), answer[:80]


# Slowloris


def _latencies(client: httpx.Client, url: str, n: int = 30) -> list[float]:
    seconds = []
    for _ in range(n):
        started = time.perf_counter()
        r = client.get(url)
        seconds.append(time.perf_counter() - started)
        assert r.status_code == 200, r.text
    return seconds


def test_a_normal_client_is_served_while_200_slow_connections_are_held(
    roomy: tuple[LiveGateway, Path],
) -> None:
    live, tmp = roomy
    url = live.base + "/v1/tools"
    with httpx.Client(headers=token_headers(tmp), timeout=WAIT) as client:
        alone = _latencies(client, url)
    slow = Slowloris(live.base, 200)
    try:
        with httpx.Client(headers=token_headers(tmp), timeout=WAIT) as client:
            during = _latencies(client, url)
        held = sum(_is_open(s) for s in slow.socks)
        with httpx.Client(timeout=WAIT) as client:
            assert client.get(live.ops + "/readyz").status_code == 200
    finally:
        slow.close()
    print(
        "\nnormal client GET /v1/tools, median (p95):"
        f" alone {_ms(alone)}, with 200 slow connections held {_ms(during)}"
    )
    assert held == 200


def _p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20)[-1]


@pytest.mark.parametrize("face", ["base", "ops"])
def test_slow_heads_are_closed_after_the_header_timeout(
    tight: tuple[LiveGateway, Path], face: str
) -> None:
    live, _ = tight
    url = getattr(live, face)
    slow = Slowloris(url, 3, every=0.2)  # keeps sending: never idle
    silent = _connect(url)  # sends nothing at all
    try:
        for sock in [*slow.socks, silent]:
            answer = _read_until_closed(sock)
            assert answer.startswith(b"HTTP/1.1 408 "), answer[:80]
            assert b'"code":"request_timeout"' in answer
    finally:
        slow.close()
        silent.close()
    listener = "agent" if face == "base" else "operator"
    assert _refusals(live, listener, "request_timeout") >= 4


def test_a_keep_alive_connection_cannot_be_held_with_a_partial_head(
    tight: tuple[LiveGateway, Path],
) -> None:
    """One byte after a response stops uvicorn's keep-alive timer; the head deadline still runs."""
    live, _ = tight
    sock = _connect(live.base)
    try:
        sock.sendall(b"GET /v1/tools HTTP/1.1\r\nHost: labgate\r\n\r\n")
        first = _read_response(sock)
        assert first.startswith(b"HTTP/1.1 401 "), first[:80]
        sock.sendall(b"G")
        assert _read_until_closed(sock).startswith(b"HTTP/1.1 408 ")
    finally:
        sock.close()


def test_a_late_pipelined_head_closes_the_connection_after_the_response(
    tight: tuple[LiveGateway, Path],
) -> None:
    """A head that trickles in behind a request in progress gets no 408 cut into that response:
    the response is whole, then the connection closes."""
    live, tmp = tight
    # Answered by the fixture policy's 2 s tool deadline, after the 1 s head deadline has passed.
    body = b'{"seconds": 3}'
    request = (
        "POST /v1/tools/testcap_slow HTTP/1.1\r\nHost: labgate\r\n"
        f"Authorization: {token_headers(tmp)['Authorization']}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode() + body
    sock = _connect(live.base)
    try:
        sock.sendall(request + b"GET /v1/tools HTTP/1.1\r\nHost: labgate\r\n")
        answer = _read_until_closed(sock)
    finally:
        sock.close()
    assert answer.startswith(b"HTTP/1.1 504 "), answer[:200]
    assert b"connection: close" in answer.lower()
    assert answer.count(b"HTTP/1.1 ") == 1
    assert answer.endswith(b"}")


def test_an_idle_keep_alive_connection_is_closed(tight: tuple[LiveGateway, Path]) -> None:
    live, _ = tight
    sock = _connect(live.base)
    try:
        sock.sendall(b"GET /v1/tools HTTP/1.1\r\nHost: labgate\r\n\r\n")
        assert _read_response(sock).startswith(b"HTTP/1.1 401 ")
        assert _read_until_closed(sock) == b""  # closed without another answer
    finally:
        sock.close()


# Connection cap


def _refused(url: str) -> bytes:
    sock = _connect(url)
    try:
        return _read_until_closed(sock)
    finally:
        sock.close()


@pytest.mark.parametrize("face", ["base", "ops"])
def test_connections_over_the_cap_are_refused(tight: tuple[LiveGateway, Path], face: str) -> None:
    live, _ = tight
    url = getattr(live, face)
    held = [_start_head(url) for _ in range(5)]
    try:
        answer = _refused(url)
        assert answer.startswith(b"HTTP/1.1 503 "), answer[:80]
        assert b'"code":"too_many_connections"' in answer
        assert all(_is_open(s) for s in held)
    finally:
        for sock in held:
            sock.close()
    # Once they are gone, connections are accepted again.
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        sock = _connect(url)
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: labgate\r\nConnection: close\r\n\r\n")
        answer = _read_until_closed(sock)
        sock.close()
        if not answer.startswith(b"HTTP/1.1 503 "):
            break
        time.sleep(0.05)
    assert answer.split(b" ", 2)[1] in (b"200", b"404"), answer[:80]
    listener = "agent" if face == "base" else "operator"
    assert _refusals(live, listener, "too_many_connections") >= 1


def _refusals(live: LiveGateway, listener: str, code: str) -> float:
    """``labgate_edge_refusals_total`` for one listener and code (0 before the first)."""
    text = httpx.get(live.ops + "/metrics", timeout=WAIT).text
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "labgate_edge_refusals_total" and sample.labels == {
                "listener": listener,
                "code": code,
            }:
                return sample.value
    return 0


def test_edge_answers_are_documented() -> None:
    text = (ROOT / "docs" / "envelope.md").read_text()
    assert [c for c in EDGE_CODES if f"`{c}`" not in text] == []
