"""The figures of several replicas: two-worker throughput, and how fast the kill switch spreads.

python -m bench.replicas            # both figures, printed (about two minutes)
python -m bench.replicas --only kill_switch_replicas   # one of them
python -m bench.replicas --quick    # short runs, to check the harness

* ``two_worker_ratio``: ``labgate serve --workers 2`` (each worker its own journal, limits and
  cache shared through a redis-server started here) against the bare hello with two workers
  on one socket, driven by wrk alike; afterwards ``labgate audit verify`` checks both chains.
* ``kill_switch_replicas``: three gateways watching one policy checkout; ``kill_switch: true``
  is written and each is polled until it refuses; the slowest replica's delay, median of
  several trials.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import yaml

from bench.figures import CACHED_ARGS, Load, _alternate
from bench.lab import Lab
from bench.procs import ROOT, Proc, spawn
from bench.results import Figure, format_value
from bench.serving import free_port
from bench.stats import Goal, median
from bench.target import gateway_config

__all__ = ["kill_switch_replicas", "two_worker_ratio"]


def _redis(tmp: Path) -> tuple[subprocess.Popen[bytes], str]:
    binary = shutil.which("redis-server")
    if binary is None:
        raise RuntimeError("redis-server is missing: run tests/support/install_replicas.sh")
    port = free_port()
    proc = subprocess.Popen(
        [binary, "--bind", "127.0.0.1", "--port", str(port), "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"redis://127.0.0.1:{port}/0"
    while True:
        try:
            import socket

            with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                s.sendall(b"PING\r\n")
                if s.recv(16).startswith(b"+PONG"):
                    return proc, url
        except OSError:
            if proc.poll() is not None:
                raise RuntimeError("redis-server exited") from None
            time.sleep(0.02)


def _ops_pair() -> int:
    """An operator port whose successor is free too (worker I listens on port + I)."""
    import socket

    while True:
        port = free_port()
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port + 1))
            except OSError:
                continue
        return port


def two_worker_ratio(lab: Lab, load: Load, rounds: int) -> Figure:
    tmp = lab.tmp / "workers"
    tmp.mkdir()
    redis, redis_url = _redis(tmp)
    hello_port, port, ops = free_port(), free_port(), _ops_pair()
    hello = spawn("hello-2", ["-m", "bench.hello", str(hello_port), "2"], tmp / "hello.log")
    config = gateway_config(
        tmp, issuer=lab.issuer.issuer, stub_url=lab.stub_url, dsn=lab.dsn, port=port, ops_port=ops
    )
    config["redis"] = {"url": redis_url}
    config["replica"] = {"id": "bench"}
    cfg = tmp / "gateway.yaml"
    cfg.write_text(yaml.safe_dump(config, sort_keys=False))
    args = ["-m", "gateway.cli", "--config", str(cfg), "serve", "--workers", "2"]
    gateway: Proc | None = None
    try:
        gateway = spawn("gateway-2", args, tmp / "gateway.log")
        for i in range(2):
            gateway.wait_http(f"http://127.0.0.1:{ops + i}/readyz", timeout=60)
        hello.wait_http(f"http://127.0.0.1:{hello_port}/ready")
        hello_req = ("POST", f"http://127.0.0.1:{hello_port}/hello", *lab.hello_request()[2:])
        method, _, headers, body = lab.rest_request("bench_lookup", CACHED_ARGS)
        gw_req = (method, f"http://127.0.0.1:{port}/v1/tools/bench_lookup", headers, body)
        load.run(hello_req, 2)
        load.run(gw_req, 3)
        base, gw, ratios = _alternate(load, hello_req, gw_req, rounds)
    finally:
        if gateway is not None:
            gateway.stop()
        hello.stop()
        redis.terminate()
        redis.wait(10)
    journals = sorted(tmp.glob("audit-w*.db"))
    verify = subprocess.run(
        [sys.executable, "-m", "gateway.cli", "audit", "verify"]
        + [a for j in journals for a in ("--journal", str(j))],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    if verify.returncode != 0 or len(journals) != 2:
        raise RuntimeError(f"audit verify failed on {journals}: {verify.stdout}{verify.stderr}")
    return Figure(
        key="two_worker_ratio",
        title="two workers (serve --workers 2, Redis) cached call throughput / hello, 2 workers",
        unit="x",
        goal=Goal(">=", 0.50),
        value=median(ratios),
        detail={
            "hello_rps": base,
            "gateway_rps": gw,
            "ratios": ratios,
            "connections": load.connections,
            "seconds_per_run": load.seconds,
            "journals": [j.name for j in journals],
            "verify": verify.stdout.strip().splitlines(),
        },
        note=(
            f"gateway {median(gw):,.0f} req/s vs hello {median(base):,.0f} req/s; "
            f"{len(journals)} journals, every chain intact (audit verify)"
        ),
    )


async def _until_refused(client: httpx.AsyncClient, url: str, headers: dict[str, str]) -> float:
    body = json.dumps(CACHED_ARGS)
    while True:
        r = await client.post(url, headers=headers, content=body)
        if r.status_code == 503:
            return time.monotonic()
        await asyncio.sleep(0.005)


def kill_switch_replicas(lab: Lab, trials: int, replicas: int = 3) -> Figure:
    tmp = lab.tmp / "kill"
    tmp.mkdir()
    policies: Path | None = None
    procs: list[tuple[Proc, str]] = []
    try:
        for i in range(replicas):
            home = tmp / f"r{i}"
            home.mkdir()
            port, ops = free_port(), free_port()
            config = gateway_config(
                home, issuer=lab.issuer.issuer, stub_url=lab.stub_url, dsn=lab.dsn,
                port=port, ops_port=ops,
            )  # fmt: skip
            policies = policies or Path(config["policy_dir"])
            config["policy_dir"] = str(policies)  # one checkout, watched by every replica
            config["replica"] = {"id": f"r{i}"}
            (home / "gateway.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
            args = ["-m", "gateway.cli", "--config", str(home / "gateway.yaml"), "serve"]
            proc = spawn(f"replica-{i}", args, home / "gateway.log")
            proc.wait_http(f"http://127.0.0.1:{ops}/readyz", timeout=60)
            procs.append((proc, f"http://127.0.0.1:{port}/v1/tools/bench_lookup"))
        assert policies is not None
        slowest = asyncio.run(_trials(lab, policies / "gateway.yaml", procs, trials))
    finally:
        for proc, _ in procs:
            proc.stop()
    return Figure(
        key="kill_switch_replicas",
        title=f"kill switch written to refused on all {replicas} replicas (slowest replica)",
        unit="ms",
        goal=Goal("<=", 1000),
        value=median(slowest),
        detail={"slowest_ms": slowest, "replicas": replicas, "trials": trials},
        note=f"median of {trials} trials; worst {max(slowest):.0f} ms; one checkout, watched",
    )


async def _trials(
    lab: Lab, gateway_yaml: Path, procs: list[tuple[Proc, str]], trials: int
) -> list[float]:
    original = gateway_yaml.read_text()
    data = yaml.safe_load(original)
    slowest: list[float] = []
    headers = lab.auth()
    async with httpx.AsyncClient(trust_env=False, timeout=10) as client:
        for _ in range(trials):
            data["kill_switch"] = True
            gateway_yaml.write_text(yaml.safe_dump(data, sort_keys=False))
            written = time.monotonic()
            done = await asyncio.gather(*(_until_refused(client, u, headers) for _, u in procs))
            slowest.append((max(done) - written) * 1000)
            data["kill_switch"] = False
            gateway_yaml.write_text(yaml.safe_dump(data, sort_keys=False))
            for _, url in procs:  # back in service everywhere before the next trial
                while (await client.post(url, headers=headers, json=CACHED_ARGS)).is_error:
                    await asyncio.sleep(0.05)
    gateway_yaml.write_text(original)
    return slowest


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.replicas", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="short runs (checks the harness)")
    parser.add_argument("--only", choices=["two_worker_ratio", "kill_switch_replicas"])
    args = parser.parse_args(argv)
    seconds, rounds, trials = (3.0, 1, 2) if args.quick else (8.0, 3, 5)
    figures: list[Figure] = []
    with tempfile.TemporaryDirectory(prefix="labgate-bench-") as tmp, Lab(Path(tmp)) as lab:
        load = Load(Path(tmp), seconds, connections=16)
        if args.only in (None, "two_worker_ratio"):
            figures.append(two_worker_ratio(lab, load, rounds))
        if args.only in (None, "kill_switch_replicas"):
            figures.append(kill_switch_replicas(lab, trials))
    for f in figures:
        print(f"{f.title}: {format_value(f.value, f.unit)} (goal {f.goal.text(f.unit)}) {f.note}")
        print(json.dumps(f.as_dict()["detail"], default=_plain))
    return 0


def _plain(value: Any) -> str:
    return str(value)


if __name__ == "__main__":
    sys.exit(main())
