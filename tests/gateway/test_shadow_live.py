"""Shadow mode under load on a real gateway (uvicorn, its own process): the shadow set appears
while it runs (its watcher), calls from many clients at once each get their note exactly when
the sets disagree, and an invalid shadow edit mid-load changes nothing for the live set."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

from gateway.audit.reader import JournalReader
from tests.gateway.test_shadow import stricter, write_shadow
from tests.support.live import LiveGateway, live_config, running, token_headers

WORKERS = 8
ROUNDS = 24  # each worker makes each call of CALLS equally often


def _records(journal: Path, kind: str) -> list[dict[str, Any]]:
    with JournalReader(journal) as reader:
        rows = [json.loads(r.record) for r in reader.iter_rows()]
    return [r for r in rows if r["kind"] == kind]


def _wait_for_shadow_reload(gw: LiveGateway, ok: bool) -> None:
    want = "ok" if ok else "failed"
    while not any(
        r["notes"].get("set") == "shadow" and r["decision"] == want
        for r in _records(gw.journal, "policy_reload")
    ):
        assert gw.proc.poll() is None, gw.log()
        time.sleep(0.05)


# (headers key, tool, args, live status, shadow change or None)
CALLS: list[tuple[str, str, dict[str, Any], int, str | None]] = [
    ("hermes", "testcap_list", {"page_size": 10}, 200, "narrow"),
    ("hermes", "testcap_list", {"page_size": 3}, 200, None),
    ("reader", "testcap_list", {"page_size": 3}, 403, "widen"),
    ("reader", "testcap_echo", {"text": "hi"}, 200, None),
]


async def _worker(base: str, headers: dict[str, dict[str, str]], n: int) -> None:
    async with httpx.AsyncClient(base_url=base, timeout=60) as client:
        for i in range(ROUNDS):
            who, tool, args, status, _ = CALLS[(n + i) % len(CALLS)]
            r = await client.post(f"/v1/tools/{tool}", json=args, headers=headers[who])
            assert r.status_code == status, r.text


async def _load(base: str, headers: dict[str, dict[str, str]]) -> None:
    await asyncio.gather(*(_worker(base, headers, n) for n in range(WORKERS)))


def _metric(gw: LiveGateway) -> dict[tuple[str, str], float]:
    text = httpx.get(gw.ops + "/metrics", timeout=30).text
    out = {}
    for fam in text_string_to_metric_families(text):
        if fam.name == "labgate_shadow_disagreements":
            for s in fam.samples:
                if s.name.endswith("_total"):
                    out[(s.labels["tool"], s.labels["change"])] = s.value
    return out


def test_shadow_disagreements_are_recorded_under_load(tmp_path: Path) -> None:
    config = live_config(tmp_path)
    policies = Path(config["policy_dir"])
    headers = {
        "hermes": token_headers(tmp_path),
        "reader": token_headers(tmp_path, client_id="other", groups=("readers",)),
    }
    with running(tmp_path, config) as gw:
        shadow = write_shadow(policies, stricter)  # appears while the gateway runs
        _wait_for_shadow_reload(gw, ok=True)
        asyncio.run(_load(gw.base, headers))
        (shadow / "testcap.yaml").write_text("capability: testcap\nrules: [{id: x}]\n")
        _wait_for_shadow_reload(gw, ok=False)
        asyncio.run(_load(gw.base, headers))  # the last good shadow set is still the one
        metric = _metric(gw)
    calls = _records(gw.journal, "call")
    assert len(calls) == 2 * WORKERS * ROUNDS
    clients = {"hermes": "hermes", "reader": "other"}
    # A call refused on the tool is recorded without arguments.
    expected = {
        (clients[c[0]], c[1], c[2].get("page_size") if c[3] == 200 else None): c[4] for c in CALLS
    }
    counted: dict[tuple[str, str], int] = {}
    for record in calls:
        args = record["arguments"] or {}
        change = expected[(record["client_id"], record["tool"], args.get("page_size"))]
        assert (record["notes"].get("shadow") or {}).get("change") == change, record
        if change is not None:
            key = (record["tool"], change)
            counted[key] = counted.get(key, 0) + 1
    each = 2 * WORKERS * ROUNDS // len(CALLS)
    assert counted == {("testcap_list", "narrow"): each, ("testcap_list", "widen"): each}
    assert metric == counted
