"""``python -m bench``: measure every figure of the budget in one run and write the results.

python -m bench                  # the full run (about four minutes), writes bench/results/
python -m bench --quick          # short runs, to check the harness itself
python -m bench --profile        # also sample the gateway under load with py-spy
python -m bench.replicas         # only the figures of several replicas (bench/replicas.py)
python -m bench --only latency,documents   # only these groups of figures (see GROUPS)
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import figures, inprocess, profile, replicas
from bench.lab import Lab
from bench.procs import ROOT
from bench.results import Figure, Run, format_value, markdown, write_results
from bench.stats import Goal

ORDER = (
    "throughput_ratio",
    "latency_added_p50",
    "latency_added_p99",
    "latency_added_p50_normal",
    "latency_added_p99_normal",
    "mcp_ratio",
    "documents_search_p50",
    "documents_search_p99",
    "single_flight",
    "two_worker_ratio",
    "kill_switch_replicas",
    "policy_decision",
    "result_scrub",
    "audit_shipped",
    "rss_after_calls",
    "rss_growth",
    "start_to_ready",
)


#: ``--only`` groups: the figures each measures.
GROUPS = (
    "start",
    "throughput",
    "mcp",
    "latency",
    "latency_normal",
    "documents",
    "single_flight",
    "rss",
    "policy",
    "scrub",
    "shipping",
    "replicas",
)


def say(text: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


def machine() -> dict[str, Any]:
    cpu = "unknown CPU"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break

    def has(module: str) -> bool:
        import importlib.util

        return importlib.util.find_spec(module) is not None

    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "loadavg": " ".join(f"{x:.2f}" for x in os.getloadavg()),
        "uvicorn_loop": "uvloop" if has("uvloop") else "asyncio",
        "uvicorn_http": "httptools" if has("httptools") else "h11",
    }


def policy_figure() -> Figure:
    result = inprocess.measure_policy()
    worst = result["last_rule"]
    return Figure(
        key="policy_decision",
        title="policy decision with 1,000 rules (median)",
        unit="µs",
        goal=Goal("<=", 50),
        value=worst["median_us"],
        detail=result,
        note=(
            f"worst case (matching rule last); first rule {result['first_rule']['median_us']:.0f}"
            f" µs; p99 {worst['p99_us']:.0f} µs"
        ),
    )


def scrub_figure() -> Figure:
    result = inprocess.measure_scrub()
    small, large = result["small"], result["large"]
    return Figure(
        key="result_scrub",
        title=f"secret scan of one result, {result['secrets']} secrets configured (median)",
        unit="µs",
        goal=Goal("<=", 20),
        value=small["median_us"],
        detail=result,
        note=(
            f"the bench tool's result; p99 {small['p99_us']:.1f} µs; a 50,000-character result"
            f" {large['median_us']:.0f} µs (p99 {large['p99_us']:.0f} µs);"
            f" {result['needles']} needles"
        ),
    )


def shipping_figure(dsn: str, count: int) -> Figure:
    result = asyncio.run(inprocess.measure_shipping(dsn, count))
    return Figure(
        key="audit_shipped",
        title="audit records shipped to PostgreSQL per second",
        unit="rec/s",
        goal=Goal(">=", 5000),
        value=result["per_second"],
        detail=result,
        note=f"{result['records']:,} records drained in batches of {result['batch_size']}",
    )


def profile_gateway(lab: Lab, load: figures.Load, out: Path, seconds: int) -> None:
    """Sample the gateway while wrk drives cached REST calls; write a text summary."""
    import threading

    raw = out / "profile-rest-cached.txt.raw"
    sampler = threading.Thread(target=profile.record, args=(lab.gateway_pid, seconds, raw))
    sampler.start()
    load.run(lab.rest_request("bench_lookup", figures.CACHED_ARGS), seconds + 2)
    sampler.join()
    total, rows = profile.top_frames(raw.read_text(), top=10_000)
    lines = [f"py-spy, {total} samples of the gateway under wrk (cached REST calls)", ""]
    for title, key in (("by inclusive share", 1), ("by self share", 2)):
        lines += [title, "inclusive%  self%  frame"]
        ranked = sorted(rows, key=lambda r: -float(r[key]))[:40]
        lines += [f"{inc:9.1f}  {own:5.1f}  {name}" for name, inc, own in ranked] + [""]
    (out / "profile-rest-cached.txt").write_text("\n".join(lines) + "\n")
    raw.unlink()
    say(f"profile written to {out / 'profile-rest-cached.txt'}")


def _replica_figures(lab: Any, load: Any, rounds: int, quick: bool) -> list[Figure]:
    """Two workers against the bare server with two workers; the kill switch across replicas."""
    return [
        figures.guarded(
            lambda: replicas.two_worker_ratio(lab, load, rounds),
            "two_worker_ratio",
            "two workers (serve --workers 2, Redis) cached call throughput / hello, 2 workers",
            Goal(">=", 0.50),
            "x",
        ),
        figures.guarded(
            lambda: replicas.kill_switch_replicas(lab, 2 if quick else 5),
            "kill_switch_replicas",
            "kill switch written to refused on all 3 replicas (slowest replica)",
            Goal("<=", 1000),
            "ms",
        ),
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short runs (checks the harness)")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    parser.add_argument("--profile", action="store_true", help="sample the gateway with py-spy")
    parser.add_argument(
        "--only",
        default="",
        help=f"comma-separated groups to measure, of: {', '.join(GROUPS)} (default: all)",
    )
    args = parser.parse_args(argv)
    only = {g.strip() for g in args.only.split(",") if g.strip()} or set(GROUPS)
    if only - set(GROUPS):
        parser.error(f"unknown groups: {', '.join(sorted(only - set(GROUPS)))}")
    seconds, rounds, calls, starts, lat_count, ship = (
        (3.0, 1, 5_000, 2, 100, 5_000) if args.quick else (8.0, 3, 100_000, 3, 500, 50_000)
    )
    t0 = time.monotonic()
    run = Run(machine=machine(), started_at=datetime.now(UTC).isoformat(timespec="seconds"))
    found: dict[str, Figure] = {}

    def keep(*figs: Figure) -> None:
        for f in figs:
            found[f.key] = f
            say(f"{f.title}: {format_value(f.value, f.unit)} (goal {f.goal.text(f.unit)}) {f.note}")

    with tempfile.TemporaryDirectory(prefix="labgate-bench-") as tmp, Lab(Path(tmp)) as lab:
        say(f"issuer {lab.issuer.issuer}, stub {lab.stub_url}, hello {lab.hello_url}")
        samples = []
        for i in range(starts if "start" in only else 1):
            samples.append(lab.start_gateway())
            if i < starts - 1 and "start" in only:
                lab.stop_gateway()
        if "start" in only:
            keep(figures.start_to_ready(samples))
        load = figures.Load(Path(tmp), seconds, connections=16)
        if only & {"throughput", "mcp", "rss"} or args.profile:
            say("warming up")
            load.run(lab.hello_request(), 2)
            load.run(lab.rest_request("bench_lookup", figures.CACHED_ARGS), 3)
        first: dict[str, Callable[[], list[Figure]]] = {
            "throughput": lambda: [figures.throughput_ratio(lab, load, rounds)],
            "mcp": lambda: [figures.mcp_ratio(lab, load, max(1, rounds - 1))],
            "latency": lambda: list(figures.latency_added(lab, lat_count)),
            "documents": lambda: list(figures.documents_search(lab, lat_count // 2)),
            "single_flight": lambda: [figures.single_flight(lab)],
            "rss": lambda: list(
                figures.rss_over_calls(lab, figures.Load(Path(tmp), 20.0, 16), calls)
            ),
        }
        for group, measure in first.items():
            if group in only:
                keep(*measure())
        if args.profile:
            profile_gateway(lab, load, args.out, 10)
        lab.stop_gateway()
        if "latency_normal" in only:
            say("restarting the gateway with journal_synchronous: NORMAL")
            lab.start_gateway(synchronous="NORMAL")
            keep(*figures.latency_added(lab, lat_count, synchronous="NORMAL"))
            lab.stop_gateway()
        later: dict[str, Callable[[], list[Figure]]] = {
            "policy": lambda: [policy_figure()],
            "scrub": lambda: [scrub_figure()],
            "shipping": lambda: [shipping_figure(lab.dsn, ship)],
            "replicas": lambda: _replica_figures(lab, load, rounds, args.quick),
        }
        for group, measure in later.items():
            if group in only:
                keep(*measure())
    run.figures = [found[k] for k in ORDER if k in found]
    run.seconds = time.monotonic() - t0
    run.machine["loadavg_end"] = " ".join(f"{x:.2f}" for x in os.getloadavg())
    # A partial run never replaces the full run's files.
    json_path, md_path = write_results(run, args.out / "only" if args.only else args.out)
    print(markdown(run))
    say(f"wrote {json_path} and {md_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
