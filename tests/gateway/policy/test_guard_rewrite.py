"""The kill switch under in-place rewrites: the gateway as a real process, calls under load.

An editor or ``echo >`` truncates ``gateway.yaml`` and then writes it. Between the two the
file is empty (or, for a large file, partial); the watcher must never take that state for a
policy that lowers the kill switch. Each gap between truncate and write is tried 50 times
while a client calls a tool without pause; not one call may be allowed.
"""

from __future__ import annotations

import os
import threading
import time
from collections import Counter
from pathlib import Path

import httpx

from tests.support.live import live_config, running, token_headers

GAPS = (0.0, 0.05, 0.2)
TRIALS = 50
KILLED = b"# the kill switch is on\nkill_switch: true\nmaintenance: {enabled: false}\n"


def _rewrite_in_place(path: Path, content: bytes, gap: float) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_TRUNC)
    try:
        if gap:
            time.sleep(gap)
        os.write(fd, content)
    finally:
        os.close(fd)


class Load:
    """One client calling a tool back to back; counts answers per phase (the gap in force)."""

    def __init__(self, base: str, headers: dict[str, str]) -> None:
        self.base, self.headers = base, headers
        self.phase: float | None = None
        self.answers: Counter[tuple[float | None, int]] = Counter()
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        with httpx.Client(base_url=self.base, headers=self.headers, timeout=30) as client:
            while not self.stop.is_set():
                phase = self.phase
                r = client.post("/v1/tools/testcap_echo", json={"text": "hi"})
                self.answers[(phase, r.status_code)] += 1

    def count(self, phase: float | None, status: int) -> int:
        return self.answers[(phase, status)]


def test_in_place_rewrites_never_lower_the_kill_switch(tmp_path: Path) -> None:
    config = live_config(tmp_path)
    policy = Path(config["policy_dir"]) / "gateway.yaml"
    with running(tmp_path, config) as live:
        headers = token_headers(tmp_path)
        policy.write_bytes(KILLED)
        with httpx.Client(base_url=live.base, headers=headers) as client:
            while client.post("/v1/tools/testcap_echo", json={"text": "hi"}).status_code != 503:
                time.sleep(0.02)
        load = Load(live.base, headers)
        load.thread.start()
        try:
            for gap in GAPS:
                load.phase = gap
                for _ in range(TRIALS):
                    _rewrite_in_place(policy, KILLED, gap)
                    time.sleep(0.1)  # let the watcher see each written state
            load.phase = None
            time.sleep(0.5)  # calls answered after the last rewrite settled
        finally:
            load.stop.set()
            load.thread.join(60)
        allowed = {gap: load.count(gap, 200) for gap in GAPS}
        print(f"calls allowed across kill-switch rewrites per gap ({TRIALS} trials): {allowed}")
        for gap in GAPS:
            assert load.count(gap, 503) > 0, f"no call was made during the {gap} s gap trials"
        assert allowed == dict.fromkeys(GAPS, 0)
        assert load.count(None, 200) == 0
        ready = httpx.get(live.ops + "/readyz").json()
        assert ready["checks"]["policy"]["last_error"] is None
