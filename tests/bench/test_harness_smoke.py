"""The harness's pure helpers: percentile and ratio math, goals, wrk report parsing, the
results writer, the py-spy summary, the generated policy. Nothing here is timed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.inprocess import generate_rules
from bench.profile import top_frames
from bench.results import Figure, Run, format_value, markdown, write_results
from bench.stats import Goal, growth, median, percentile, ratio, summarize
from bench.wrk import lua_script, parse_duration, parse_report

WRK_REPORT = """\
Running 8s test @ http://127.0.0.1:41234/v1/tools/bench_lookup
  1 threads and 16 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency    12.51ms    3.10ms  80.00ms   91.00%
    Req/Sec     1.29k    80.00     1.40k    70.00%
  Latency Distribution
     50%   11.99ms
     75%   13.85ms
     90%   18.33ms
     99%  790.00us
  10321 requests in 8.00s, 4.10MB read
  Socket errors: connect 0, read 2, write 0, timeout 1
  Non-2xx or 3xx responses: 7
Requests/sec:   1290.12
Transfer/sec:    524.80KB
"""


def test_percentile_interpolates_between_ranks() -> None:
    values = [4.0, 1.0, 3.0, 2.0]
    assert percentile(values, 0) == 1.0
    assert percentile(values, 100) == 4.0
    assert percentile(values, 50) == pytest.approx(2.5)
    assert percentile([10.0], 99) == 10.0
    assert median([3.0, 1.0, 2.0]) == 2.0
    assert percentile(list(range(101)), 99) == pytest.approx(99.0)


def test_percentile_refuses_nonsense() -> None:
    with pytest.raises(ValueError):
        percentile([], 50)
    with pytest.raises(ValueError):
        percentile([1.0], 101)


def test_ratio_and_growth() -> None:
    assert ratio(600.0, 1200.0) == 0.5
    assert growth(100.0, 105.0) == pytest.approx(0.05)
    assert growth(100.0, 90.0) == pytest.approx(-0.10)
    with pytest.raises(ValueError):
        ratio(1.0, 0.0)


def test_summarize() -> None:
    s = summarize([float(i) for i in range(1, 101)])
    assert s["p50"] == pytest.approx(50.5)
    assert s["max"] == 100.0 and s["count"] == 100.0
    assert s["p99"] == pytest.approx(99.01)


def test_goals() -> None:
    at_least, at_most = Goal(">=", 0.5), Goal("<=", 50)
    assert at_least.met(0.5) is True and at_least.met(0.49) is False
    assert at_most.met(50) is True and at_most.met(50.1) is False
    assert at_least.met(None) is None
    assert at_most.text("µs") == "<= 50 µs"
    reported = Goal("info", 0)
    assert reported.met(12.5) is None and reported.text("ms") == "(reported)"


def test_a_reported_figure_has_no_verdict() -> None:
    run = Run(machine={"cpu": "Test CPU", "cores": 2}, started_at="t")
    run.figures = [Figure("docs", "search p50", "ms", Goal("info", 0), 16.1, note="fake")]
    assert "| search p50 | 16.1 ms | (reported) | — | fake |" in markdown(run)


def test_cpu_ticks_split_the_event_loop_from_other_threads() -> None:
    import os

    from bench.stages import _task_ticks

    ticks = _task_ticks(os.getpid())
    assert "event loop" in ticks and all(v >= 0 for v in ticks.values())


def test_parse_wrk_report() -> None:
    r = parse_report(WRK_REPORT)
    assert r.requests == 10321 and r.seconds == 8.0 and r.rps == 1290.12
    assert r.non_2xx == 7 and r.socket_errors == 3 and not r.ok
    assert r.latency_ms == {"50": 11.99, "75": 13.85, "90": 18.33, "99": 0.79}


def test_parse_wrk_report_without_errors_is_ok() -> None:
    text = WRK_REPORT.replace("  Non-2xx or 3xx responses: 7\n", "").replace(
        "  Socket errors: connect 0, read 2, write 0, timeout 1\n", ""
    )
    assert parse_report(text).ok
    with pytest.raises(ValueError):
        parse_report("wrk: connection refused")


def test_parse_duration_units() -> None:
    assert parse_duration("250us") == pytest.approx(0.25)
    assert parse_duration("1.5s") == 1500.0
    assert parse_duration("2m") == 120_000.0
    with pytest.raises(ValueError):
        parse_duration("fast")


def test_lua_script_quotes_its_strings() -> None:
    body = json.dumps({"key": 'a"b\\c'})
    script = lua_script(method="POST", body=body, headers={"Authorization": "Bearer x.y.z"})
    assert 'wrk.method = "POST"' in script
    assert 'wrk.headers["Authorization"] = "Bearer x.y.z"' in script
    # The body survives as one string literal: decoding the literal gives the body back.
    literal = script.split("wrk.body = ", 1)[1].splitlines()[0]
    assert json.loads(literal) == body


def _run() -> Run:
    run = Run(machine={"cpu": "Test CPU", "cores": 2, "python": "3.11"}, started_at="t0")
    run.figures = [
        Figure("a", "ratio | one", "x", Goal(">=", 0.5), value=0.62, note="n|1"),
        Figure("b", "decision", "µs", Goal("<=", 50), value=1069.4),
        Figure("c", "mcp", "x", Goal(">=", 0.7), note="pending: not mounted"),
    ]
    return run


def test_markdown_table() -> None:
    text = markdown(_run())
    assert "| ratio \\| one | 0.62 | >= 0.5 | yes | n\\|1 |" in text
    assert "| decision | 1,069 µs | <= 50 µs | **no** |" in text
    assert "| mcp | pending | >= 0.7 | pending | pending: not mounted |" in text
    assert "Test CPU, 2 cores" in text


def test_write_results(tmp_path: Path) -> None:
    json_path, md_path = write_results(_run(), tmp_path / "out")
    data = json.loads(json_path.read_text())
    assert [f["key"] for f in data["figures"]] == ["a", "b", "c"]
    assert [f["met"] for f in data["figures"]] == [True, False, None]
    assert data["figures"][1]["goal"] == {"op": "<=", "limit": 50}
    assert md_path.read_text() == markdown(_run())


def test_format_value() -> None:
    assert format_value(None, "ms") == "pending"
    assert format_value(4.537, "ms") == "4.54 ms"
    assert format_value(21595.3, "rec/s") == "21,595 rec/s"
    assert format_value(0.133, "x") == "0.13"


def test_top_frames_counts_inclusive_and_self() -> None:
    collapsed = (
        "main (app.py:1);handle (app.py:5);verify (jwt.py:9) 30\n"
        "main (app.py:1);handle (app.py:5) 10\n"
        "main (app.py:1);write (journal.py:3) 60\n"
        "garbage line\n"
    )
    total, rows = top_frames(collapsed)
    assert total == 100
    table = {name: (inc, own) for name, inc, own in rows}
    assert table["main (app.py)"] == (100.0, 0.0)
    assert table["handle (app.py)"] == (40.0, 10.0)
    assert table["write (journal.py)"] == (60.0, 60.0)
    assert top_frames("") == (0, [])


def test_generated_policy_has_the_asked_size_and_shape() -> None:
    rules = generate_rules(1000)
    assert len(rules) == 1000
    assert len({r["id"] for r in rules}) == 1000
    deny = [r for r in rules if r.get("effect") == "deny"]
    assert len(deny) == 100 and all("args" not in r for r in deny)
    assert rules[-1]["effect"] == "deny" and rules[-2]["id"] == "allow-0998"
