"""``python -m bench.stages``: what each stage of one call costs, measured, not estimated.

    python -m bench.stages                 # in process, then the servers under wrk
    python -m bench.stages --no-server     # in process only (no wrk, no PostgreSQL)

**In process.** A :class:`~gateway.app.Runtime` is built from the bench's own configuration
(OIDC against :class:`bench.issuer.LocalIssuer`, the shipped policies plus ``bench.yaml``, the
journal at its default ``synchronous=FULL``, the bench capability reaching
:mod:`bench.stub` through the guarded upstream client), and the stage functions the pipeline
calls are timed one by one, each many times in a row: for the cached ``bench_lookup`` call and
the uncached ``bench_fetch`` call (which reaches the stub). For each stage: the median wall
time of one run and the event-loop thread's CPU time per run (``time.thread_time_ns``: what it
costs the one thread that serves every request). The whole call (authenticate, then
``Pipeline.call``, then the JSON response) is timed the same way, sequentially and with 16
calls in flight (what group commit shares).

**Servers.** wrk drives the bare hello baseline and the gateway (cached REST call) for a few
seconds each; the CPU time each process spent, read from ``/proc/<pid>/task/*/stat``, divided
by the requests served, is its CPU per request, split by thread for the gateway (event loop,
journal writer, the rest). The baseline's figure is what the HTTP server and the framework
spend on the same request: the floor under any gateway work.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import logging
import os
import secrets
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from starlette.datastructures import Headers
from starlette.responses import JSONResponse

from bench.figures import CACHED_ARGS, Load
from bench.lab import Lab
from bench.procs import ROOT
from gateway.arguments import parse_arguments
from gateway.audit.chain import GENESIS, link, record_text
from gateway.audit.journal import Journal
from gateway.audit.log import AuditLog
from gateway.audit.record import AuditRecord, canonical_json
from gateway.capability import ToolContext
from gateway.ids import token_hex16
from gateway.logs import RawLineHandler
from gateway.policy.evaluate import CallRequest, evaluate, evaluate_arguments
from gateway.registry import registry_for
from gateway.runtime import Runtime
from gateway.serve import GC_THRESHOLD
from gateway.settings import load_settings
from gateway.shaping import HARD_CEILING, Provenance, Shape, envelope, shape

__all__ = ["Stage", "main", "measure_in_process", "measure_servers"]

UNCACHED_ARGS = {"key": "stages"}


@dataclass
class Stage:
    """One row of the table: median wall time of one run, loop-thread CPU per run (µs)."""

    name: str
    wall_us: float
    cpu_us: float
    runs: int
    note: str = ""


@dataclass
class Table:
    cached: list[Stage] = field(default_factory=list)
    uncached: list[Stage] = field(default_factory=list)
    whole: list[Stage] = field(default_factory=list)
    journal: list[Stage] = field(default_factory=list)
    servers: dict[str, Any] = field(default_factory=dict)


def _time_sync(name: str, fn: Callable[[], object], runs: int, note: str = "") -> Stage:
    for _ in range(min(200, runs)):
        fn()
    walls = []
    cpu0 = time.thread_time_ns()
    for _ in range(runs):
        t0 = time.perf_counter_ns()
        fn()
        walls.append(time.perf_counter_ns() - t0)
    cpu = (time.thread_time_ns() - cpu0) / runs
    return Stage(name, statistics.median(walls) / 1000, cpu / 1000, runs, note)


async def _time_async(
    name: str, fn: Callable[[], Awaitable[object]], runs: int, note: str = ""
) -> Stage:
    for _ in range(min(50, runs)):
        await fn()
    walls = []
    cpu0 = time.thread_time_ns()
    for _ in range(runs):
        t0 = time.perf_counter_ns()
        await fn()
        walls.append(time.perf_counter_ns() - t0)
    cpu = (time.thread_time_ns() - cpu0) / runs
    return Stage(name, statistics.median(walls) / 1000, cpu / 1000, runs, note)


async def _time_concurrent(
    name: str, fn: Callable[[], Awaitable[object]], batches: int, width: int, note: str = ""
) -> Stage:
    """``width`` runs at once, ``batches`` times: wall and CPU per run (amortised)."""
    await asyncio.gather(*(fn() for _ in range(width)))
    cpu0 = time.thread_time_ns()
    t0 = time.perf_counter_ns()
    for _ in range(batches):
        await asyncio.gather(*(fn() for _ in range(width)))
    wall = (time.perf_counter_ns() - t0) / (batches * width)
    cpu = (time.thread_time_ns() - cpu0) / (batches * width)
    return Stage(name, wall / 1000, cpu / 1000, batches * width, note)


def _headers(token: str) -> Headers:
    raw = [
        (b"host", b"127.0.0.1"),
        (b"authorization", f"Bearer {token}".encode()),
        (b"content-type", b"application/json"),
        (b"content-length", b"13"),
    ]
    return Headers(raw=raw)


async def _stages_of(
    rt: Runtime, token: str, tool: str, args: dict[str, Any], runs: int
) -> list[Stage]:
    """Every stage of one call of ``tool``, timed on its own."""
    pipeline = rt.pipeline
    headers = _headers(token)
    out: list[Stage] = []
    host = "127.0.0.1"

    async def admit() -> object:
        return await pipeline.admit(headers, host, face="rest")

    out.append(await _time_async("authenticate (verified-token cache hit)", admit, runs))
    principal = await pipeline.admit(headers, host, face="rest")

    ids = _time_sync(
        "ids and timestamp (request id, event id, record time)",
        lambda: (
            token_hex16(),
            token_hex16(),
            datetime.now(UTC).isoformat(timespec="microseconds"),
        ),
        runs,
    )
    out.append(ids)

    def span() -> object:
        with rt.telemetry.span("labgate.call", tool=tool, face="rest"):
            from gateway.telemetry import current_trace_id

            return current_trace_id()

    out.append(_time_sync("call span and trace id (span not recorded)", span, runs))

    policy_set = pipeline.policies.current
    cap, tool_obj = rt.registry.find_tool(tool) or (None, None)
    assert cap is not None and tool_obj is not None
    now = pipeline.clock()
    tool_req = CallRequest(principal, cap.name, tool, None, now)
    out.append(_time_sync("decide: the tool", lambda: evaluate(tool_req, policy_set), runs))
    first = evaluate(tool_req, policy_set)

    def arguments() -> dict[str, Any]:
        parsed = parse_arguments(tool_obj.args_model, args)
        values: dict[str, Any] = parsed.model_dump(mode="json")
        return values

    out.append(_time_sync("arguments: validate and dump", arguments, runs))
    parsed = parse_arguments(tool_obj.args_model, args)
    arg_values = arguments()
    call_req = CallRequest(principal, cap.name, tool, arg_values, now)
    out.append(
        _time_sync(
            "decide: the arguments (the tool's rule, its bounds)",
            lambda: evaluate_arguments(first, call_req, policy_set),
            runs,
            "a full second evaluation before this round",
        )
    )
    decision = evaluate_arguments(first, call_req, policy_set)
    obligations = decision.obligations
    assert decision.allowed and obligations is not None

    def limit() -> object:
        return pipeline.limiter.check(
            [
                (("*", principal.sub), policy_set.global_policy.limits),
                ((cap.name, obligations.rule_id or "", principal.sub), obligations.limits),
            ],
            time.monotonic(),
        )

    out.append(_time_sync("rate limit (global and rule)", limit, runs))

    ctx = ToolContext(
        principal=principal,
        request_id="r" * 32,
        now=now,
        scope=obligations.scope,
        config=pipeline.configs[cap.name],
        clients=pipeline.resources[cap.name].clients,
    )
    timeout = float(policy_set.global_policy.tool_timeout_seconds)

    async def run() -> tuple[dict[str, Any], bool, str]:
        return await pipeline._invoke(tool_obj, parsed, ctx, timeout)

    ttl = float(obligations.cache_ttl or 0)
    if ttl > 0:
        scope = obligations.scope

        async def cached() -> object:
            key = canonical_json(
                [tool, arg_values, scope.model_dump(mode="json") if scope else None]
            )
            return await pipeline.cache.get_or_run(key, ttl, time.monotonic, run)

        out.append(await _time_async("cache: key and hit", cached, runs))
        (output, partial, retrieved), _ = await pipeline.cache.get_or_run(
            canonical_json([tool, arg_values, None]), ttl, time.monotonic, run
        )
    else:
        out.append(
            await _time_async(
                "run: the tool, one upstream request to the stub",
                run,
                max(200, runs // 10),
                "wall includes the stub's own time",
            )
        )
        output, partial, retrieved = await run()

    scrubber = pipeline.scrubber
    out.append(_time_sync("secret scan of the result", lambda: scrubber.scan(output), runs))

    rule = obligations.result

    def shaping() -> dict[str, Any]:
        shape_rule = Shape(
            fields=tuple(rule.fields) if rule and rule.fields is not None else None,
            truncate=tuple((rule.truncate or {}).items()) if rule else (),
            max_items=rule.max_items if rule else None,
            max_chars=min(policy_set.global_policy.max_result_chars, HARD_CEILING),
        )
        shaped, cut = shape(output, shape_rule)
        len(canonical_json(shaped).encode())
        provenance = Provenance(cap.name, tool, tool_obj.upstream, retrieved)
        return envelope(shaped, provenance, ttl > 0, [], partial or cut, "r" * 32)

    out.append(_time_sync("shape, result size, envelope", shaping, runs))
    env = shaping()

    def build() -> AuditRecord:
        record = AuditRecord(kind="call", request_id="r" * 32, face="rest", tool=tool)
        record.trace_id = "t" * 32
        record.sub, record.client_id = principal.sub, principal.client_id
        record.username, record.groups = principal.username, list(principal.groups)
        record.token_id = principal.token_id
        record.policy_version = policy_set.version
        record.capability = cap.name
        record.arguments = dict(arg_values)
        record.decision, record.rule_id = "allow", decision.rule_id
        record.reasons = [str(r) for r in decision.reasons]
        record.upstream = tool_obj.upstream
        record.cached = ttl > 0
        record.result_count, record.result_bytes = 1, 120
        record.latency_ms = 0.3
        return record

    out.append(_time_sync("audit record: build", build, runs))
    record = build()
    out.append(_time_sync("audit record: canonical JSON", lambda: record_text(record), runs))
    text = record_text(record)
    out.append(_time_sync("audit record: chain hash (SHA-256)", lambda: link(GENESIS, text), runs))

    devnull = open(os.devnull, "w")
    logger = logging.getLogger("bench.stages.audit")
    logger.handlers[:] = [RawLineHandler(devnull)]
    logger.propagate = False
    logger.setLevel(logging.INFO)
    audit_log = AuditLog(logger)
    assert rt.journal is not None
    row = await rt.journal.append_row(record)
    out.append(
        _time_sync(
            "audit log line (one JSON line, one write)",
            lambda: audit_log.emit_rows([row]),
            runs,
            "writer thread, after the commit",
        )
    )
    devnull.close()

    def metrics() -> None:
        rt.telemetry.record_call(tool, "allow", "rest", 0.0003)
        if ttl > 0:
            rt.telemetry.record_cache(tool, "hit")

    out.append(_time_sync("metrics (calls, duration" + (", cache)" if ttl else ")"), metrics, runs))

    def response() -> object:
        return JSONResponse(env, headers={"X-Request-Id": "r" * 32})

    out.append(_time_sync("response: JSON body and headers", response, runs))
    return out


async def _whole(rt: Runtime, token: str, runs: int) -> list[Stage]:
    headers = _headers(token)

    def call(tool: str, args: dict[str, Any]) -> Callable[[], Awaitable[object]]:
        async def one() -> object:
            outcome = await rt.pipeline.call(
                headers=headers,
                client_host="127.0.0.1",
                tool_name=tool,
                raw_args=args,
                face="rest",
            )
            return JSONResponse(outcome.envelope, headers={"X-Request-Id": "r" * 32})

        return one

    few = max(200, runs // 10)
    return [
        await _time_async(
            "cached call, one at a time",
            call("bench_lookup", CACHED_ARGS),
            few,
            "every call waits for its own commit",
        ),
        await _time_concurrent(
            "cached call, 16 in flight",
            call("bench_lookup", CACHED_ARGS),
            few // 16 + 1,
            16,
            "per call; group commit shares each fsync",
        ),
        await _time_async(
            "uncached call, one at a time",
            call("bench_fetch", UNCACHED_ARGS),
            few,
            "wall includes the stub's own time",
        ),
        await _time_concurrent(
            "uncached call, 16 in flight",
            call("bench_fetch", UNCACHED_ARGS),
            few // 16 + 1,
            16,
            "per call",
        ),
    ]


async def _journal(tmp: Path, runs: int) -> list[Stage]:
    """The journal alone: one record appended at a time and 16 at a time, at FULL and NORMAL."""
    out: list[Stage] = []
    record = AuditRecord(kind="call", tool="bench_lookup", decision="allow", face="rest")
    few = max(200, runs // 10)
    syncs: tuple[Literal["FULL", "NORMAL"], ...] = ("FULL", "NORMAL")
    for sync in syncs:
        async with Journal(tmp / f"journal-{sync}.db", synchronous=sync) as journal:

            async def one() -> object:
                record.event_id = secrets.token_hex(16)
                return await journal.append_row(record)

            out.append(
                await _time_async(
                    f"journal append, one at a time, synchronous={sync}",
                    one,
                    few,
                    "hand-off to the writer, insert, commit, hand-back",
                )
            )
            out.append(
                await _time_concurrent(
                    f"journal append, 16 in flight, synchronous={sync}",
                    one,
                    few // 16 + 1,
                    16,
                    "per record",
                )
            )
    out.append(await _hop_only(few))
    return out


async def _hop_only(runs: int) -> Stage:
    """The two thread hand-offs of a journal append without any write (the floor of a
    writer thread): loop -> thread (queue), thread -> loop (``call_soon_threadsafe``)."""
    import queue

    jobs: queue.SimpleQueue[asyncio.Future[int] | None] = queue.SimpleQueue()
    loop = asyncio.get_running_loop()

    def worker() -> None:
        while (fut := jobs.get()) is not None:
            loop.call_soon_threadsafe(fut.set_result, 1)

    thread = threading.Thread(target=worker)
    thread.start()

    async def one() -> object:
        fut: asyncio.Future[int] = loop.create_future()
        jobs.put(fut)
        return await fut

    stage = await _time_async(
        "thread round trip alone (no write)", one, runs, "the two hops any writer thread costs"
    )
    jobs.put(None)
    thread.join()
    return stage


def _asgi_call(
    app: Any, path: str, headers: list[tuple[bytes, bytes]], body: bytes
) -> Callable[[], Awaitable[object]]:
    """One request straight into the ASGI app (no socket, no HTTP parser): the face's own
    cost, pipeline included. Raises unless the answer is 200."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": headers,
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8080),
        "app": app,
    }

    async def one() -> object:
        sent = False

        async def receive() -> dict[str, Any]:
            nonlocal sent
            if sent:
                await asyncio.sleep(3600)
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        status = 0

        async def send(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]

        await app(dict(scope, state={}), receive, send)
        if status != 200:
            raise RuntimeError(f"{path} answered {status}")
        return status

    return one


async def _faces(lab: Lab, settings: Any, runs: int) -> list[Stage]:
    """REST and MCP (2026-07-28) ``tools/call`` of the cached tool, straight into the app."""
    from gateway.app import create_app

    app = create_app(settings)
    _, _, rest_headers, rest_body = lab.rest_request("bench_lookup", CACHED_ARGS)
    _, _, mcp_headers, mcp_body = lab.mcp_request("bench_lookup", CACHED_ARGS)

    def raw(headers: dict[str, str], body: str | None) -> tuple[list[tuple[bytes, bytes]], bytes]:
        data = (body or "").encode()
        items = [(b"host", b"127.0.0.1:8080"), (b"content-length", str(len(data)).encode())]
        items += [(k.lower().encode(), v.encode()) for k, v in headers.items()]
        return items, data

    out: list[Stage] = []
    async with app.router.lifespan_context(app):
        rest = _asgi_call(app, "/v1/tools/bench_lookup", *raw(rest_headers, rest_body))
        mcp = _asgi_call(app, "/mcp", *raw(mcp_headers, mcp_body))
        few = max(200, runs // 10)
        for name, fn in (("REST", rest), ("MCP (2026-07-28)", mcp)):
            out.append(
                await _time_async(f"{name} cached call into the app, one at a time", fn, few)
            )
            out.append(
                await _time_concurrent(
                    f"{name} cached call into the app, 16 in flight",
                    fn,
                    few // 16 + 1,
                    16,
                    "per call",
                )
            )
    return out


async def measure_in_process(lab: Lab, runs: int) -> Table:
    table = Table()
    journal_path = lab.tmp / "stages-audit.db"
    settings = load_settings(lab.config_path, journal_path=journal_path, postgres=None)
    rt = Runtime(settings, registry_for(settings))
    async with rt:
        table.cached = await _stages_of(rt, lab.token, "bench_lookup", CACHED_ARGS, runs)
        table.uncached = await _stages_of(rt, lab.token, "bench_fetch", UNCACHED_ARGS, runs)
        table.whole = await _whole(rt, lab.token, runs)
    faces_settings = load_settings(
        lab.config_path, journal_path=lab.tmp / "stages-faces.db", postgres=None
    )
    table.whole += await _faces(lab, faces_settings, runs)
    table.journal = await _journal(lab.tmp, runs)
    return table


def _task_ticks(pid: int) -> dict[str, int]:
    """CPU ticks (user + system) of ``pid``: its main thread (the event loop) and the rest."""
    out: dict[str, int] = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            stat = (task / "stat").read_text()
        except OSError:
            continue
        name = "event loop" if task.name == str(pid) else "other threads"
        fields = stat[stat.rindex(")") + 2 :].split()
        out[name] = out.get(name, 0) + int(fields[11]) + int(fields[12])
    return out


def _cpu_per_request(pid: int, load: Load, request: Any, seconds: float) -> dict[str, Any]:
    tick_us = 1e6 / os.sysconf("SC_CLK_TCK")
    before = _task_ticks(pid)
    result = load.run(request, seconds)
    after = _task_ticks(pid)
    per = {
        name: (after.get(name, 0) - before.get(name, 0)) * tick_us / result.requests
        for name in after
        if after.get(name, 0) - before.get(name, 0) > 0
    }
    return {
        "requests": result.requests,
        "rps": result.rps,
        "cpu_us_per_request": sum(per.values()),
        "by_thread_us": dict(sorted(per.items(), key=lambda kv: -kv[1])),
    }


def measure_servers(lab: Lab, seconds: float) -> dict[str, Any]:
    """CPU per request of the bare baseline and the gateway's cached call, under wrk."""
    load = Load(lab.tmp, seconds, connections=16)
    lab.start_gateway()
    try:
        rest = lab.rest_request("bench_lookup", CACHED_ARGS)
        load.run(lab.hello_request(), 2)
        load.run(rest, 2)
        assert lab.hello is not None
        hello = _cpu_per_request(lab.hello.pid, load, lab.hello_request(), seconds)
        gateway = _cpu_per_request(lab.gateway_pid, load, rest, seconds)
        out = {"hello": hello, "gateway_cached_rest": gateway, "seconds": seconds}
        if lab.mcp_status() == "ok":
            mcp = lab.mcp_request("bench_lookup", CACHED_ARGS)
            load.run(mcp, 2)
            out["gateway_cached_mcp"] = _cpu_per_request(lab.gateway_pid, load, mcp, seconds)
    finally:
        lab.stop_gateway()
    return out


def markdown(table: Table) -> str:
    lines: list[str] = []

    def block(title: str, stages: list[Stage]) -> None:
        if not stages:
            return
        lines.extend(
            [
                f"**{title}**",
                "",
                "| stage | wall, median (µs) | loop-thread CPU (µs) | note |",
                "|---|---:|---:|---|",
            ]
        )
        for s in stages:
            lines.append(f"| {s.name} | {s.wall_us:,.1f} | {s.cpu_us:,.1f} | {s.note} |")
        if title.startswith("One"):
            total = sum(s.cpu_us for s in stages)
            lines.append(f"| **sum of the stages** | | **{total:,.1f}** | |")
        lines.append("")

    block("One cached call (`bench_lookup`), stage by stage", table.cached)
    block("One uncached call (`bench_fetch`), stage by stage", table.uncached)
    block("The whole call in process (authenticate, pipeline, response)", table.whole)
    block("The journal alone", table.journal)
    if table.servers:
        lines += [
            "**The servers under wrk (16 connections), CPU per request**",
            "",
            "| server | req/s | CPU per request (µs) | by thread (µs) |",
            "|---|---:|---:|---|",
        ]
        for name in ("hello", "gateway_cached_rest", "gateway_cached_mcp"):
            if name not in table.servers:
                continue
            s = table.servers[name]
            threads = ", ".join(f"{k} {v:,.0f}" for k, v in s["by_thread_us"].items())
            lines.append(
                f"| {name} | {s['rps']:,.0f} | {s['cpu_us_per_request']:,.0f} | {threads} |"
            )
        lines.append("")
    return "\n".join(lines)


def _run_loop(coro: Coroutine[Any, Any, Table]) -> Table:
    """On uvloop when installed, as ``labgate serve`` runs."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coro)
    return uvloop.run(coro)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.stages", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--runs", type=int, default=5000, help="runs per in-process stage")
    parser.add_argument("--seconds", type=float, default=5.0, help="wrk seconds per server")
    parser.add_argument("--no-server", action="store_true", help="skip the servers under wrk")
    parser.add_argument("--server-only", action="store_true", help="only the servers under wrk")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    args = parser.parse_args(argv)
    logging.getLogger("labgate.audit").disabled = True  # the journal's lines are not the point
    gc.set_threshold(GC_THRESHOLD, 20, 20)  # as labgate serve runs
    with tempfile.TemporaryDirectory(prefix="labgate-stages-") as tmp, Lab(Path(tmp)) as lab:
        table = Table() if args.server_only else _run_loop(measure_in_process(lab, args.runs))
        if not args.no_server:
            table.servers = measure_servers(lab, args.seconds)
    text = markdown(table)
    print(text)
    args.out.mkdir(parents=True, exist_ok=True)
    data = {
        "machine_loadavg": " ".join(f"{x:.2f}" for x in os.getloadavg()),
        "cores": os.cpu_count(),
        **asdict(table),
    }
    (args.out / "stages.json").write_text(json.dumps(data, indent=2) + "\n")
    (args.out / "stages.md").write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
