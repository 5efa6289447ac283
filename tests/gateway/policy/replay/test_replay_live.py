"""``labgate policy replay`` on traffic of a real gateway (uvicorn, its own process), read back
from its journal and from the real PostgreSQL audit table its shipper filled."""

from __future__ import annotations

import asyncio
import json
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
import yaml

from gateway.cli import main
from tests.support.live import live_config, running, token_headers


@dataclass
class Recorded:
    config: Path
    journal: Path
    dsn: str
    policies: Path
    calls: int


async def _pg_calls(dsn: str) -> int:
    conn = await asyncpg.connect(dsn)
    try:
        try:
            return int(await conn.fetchval("SELECT count(*) FROM labgate_audit WHERE kind='call'"))
        except asyncpg.UndefinedTableError:
            return 0
    finally:
        await conn.close()


def _traffic(base: str, tmp: Path) -> int:
    hermes = token_headers(tmp)
    reader = token_headers(tmp, client_id="other", groups=("readers",))
    calls = [
        (hermes, "testcap_list", {"page_size": 15}, 200),
        (hermes, "testcap_list", {"page_size": 30}, 403),
        (hermes, "testcap_echo", {"text": "secret words", "count": 2}, 200),
        (reader, "testcap_echo", {"text": "hi"}, 200),
        (reader, "testcap_list", {"page_size": 5}, 403),
    ]
    with httpx.Client(base_url=base, timeout=30) as client:
        for headers, tool, args, status in calls:
            assert (
                client.post(f"/v1/tools/{tool}", json=args, headers=headers).status_code == status
            )
    return len(calls)


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory, pg_module_dsn: str) -> Iterator[Recorded]:
    tmp = tmp_path_factory.mktemp("replay-live")
    config = {**live_config(tmp), "postgres": {"dsn": pg_module_dsn, "batch_size": 2}}
    with running(tmp, config) as gw:
        calls = _traffic(gw.base, tmp)
        while asyncio.run(_pg_calls(pg_module_dsn)) < calls:  # shipped: every call in PostgreSQL
            assert gw.proc.poll() is None, gw.log()
            time.sleep(0.05)
    yield Recorded(
        tmp / "gateway.yaml", gw.journal, pg_module_dsn, Path(config["policy_dir"]), calls
    )


def _proposed(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    data = yaml.safe_load((dst / "testcap.yaml").read_text())
    rules = {r["id"]: r for r in data["rules"]}
    rules["hermes-list"]["args"] = {"page_size": {"max": 40}}  # the refused 30: now allowed
    rules["readers-echo-only"]["tools"] = ["testcap_list"]  # readers lose echo, gain list
    rules["hermes-basic"]["args"] = {"count": {"max": 5}, "text": {"max_length": 4}}
    (dst / "testcap.yaml").write_text(yaml.safe_dump(data))
    return dst


def _replay(
    capsys: pytest.CaptureFixture[str], rec: Recorded, proposed: Path, *source: str
) -> tuple[int, dict[str, Any]]:
    code = main(
        ["--config", str(rec.config), "policy", "replay", str(proposed), "--json",
         "--fail-on", "widen", *source]
    )  # fmt: skip
    return code, json.loads(capsys.readouterr().out)


EXPECTED = {
    ("hermes/sub-hermes", "testcap_list", "widen", "deny (hermes-list)", "allow (hermes-list)"),
    ("other/sub-other", "testcap_list", "widen", "deny", "allow (readers-echo-only)"),
    ("other/sub-other", "testcap_echo", "narrow", "allow (readers-echo-only)", "deny"),
    ("hermes/sub-hermes", "testcap_echo", "undecidable", "allow (hermes-basic)", "?"),
}


@pytest.mark.parametrize("source", ["journal", "postgres"])
def test_replay_reads_the_same_flips_from_the_journal_and_postgresql(
    recorded: Recorded, tmp_path: Path, capsys: pytest.CaptureFixture[str], source: str
) -> None:
    proposed = _proposed(recorded.policies, tmp_path / "proposed")
    args = ["--journal", str(recorded.journal)] if source == "journal" else ["--postgres"]
    code, report = _replay(capsys, recorded, proposed, *args)
    assert code == 1  # widening flips and an undecidable call
    assert report["records"] == recorded.calls
    got = {(g["principal"], g["tool"], g["change"], g["before"], g["after"])
           for g in report["groups"]}  # fmt: skip
    assert got == EXPECTED
    (undecidable,) = [g for g in report["groups"] if g["change"] == "undecidable"]
    assert undecidable["why"] == "argument text is redacted; rule hermes-basic bounds it"


def test_the_live_set_replayed_on_its_traffic_passes_ci(
    recorded: Recorded, capsys: pytest.CaptureFixture[str]
) -> None:
    for source in (["--journal", str(recorded.journal)], ["--dsn", recorded.dsn]):
        code, report = _replay(capsys, recorded, recorded.policies, *source)
        assert (code, report["groups"], report["unchanged"]) == (0, [], recorded.calls)


def test_an_unreachable_postgresql_is_a_usage_error(
    recorded: Recorded, capsys: pytest.CaptureFixture[str]
) -> None:
    dead = "postgresql://postgres@127.0.0.1:1/none"
    code = main(["--config", str(recorded.config), "policy", "replay", str(recorded.policies),
                 "--dsn", dead])  # fmt: skip
    assert code == 2
    assert "cannot read the audit records (PostgreSQL)" in capsys.readouterr().err


def test_the_table_names_each_flip_once(
    recorded: Recorded, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    proposed = _proposed(recorded.policies, tmp_path / "proposed")
    args = ["policy", "replay", str(proposed), "--journal", str(recorded.journal)]
    assert main(["--config", str(recorded.config), *args]) == 0  # no --fail-on: report only
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].endswith("widen 2, narrow 1, rule 0, obligations 0, undecidable 1")
    assert lines[1].split() == ["principal", "tool", "change", "then", "proposed", "calls", "last"]
    assert len(lines) == 2 + len(EXPECTED)
    assert any("? argument text is redacted" in line for line in lines)
