"""health through every face of the full app, under the shipped policy, against the fake Kuma."""

from __future__ import annotations

from pathlib import Path

import pytest

from capabilities.health import CAPABILITY
from tests.support.faces import faces, stable

from .fake_kuma import FakeKuma, serve
from .support import make_capability_config

TOOLS = {"health_list_services", "health_get_service", "health_summary"}


@pytest.mark.parametrize("version", ["1.23.17", "2.0.2", "2.5.3"])
async def test_every_face_under_policy(tmp_path: Path, version: str) -> None:
    with serve(FakeKuma(version)) as url:
        config = make_capability_config(url, tmp_path / "kuma-key")
        async with faces(tmp_path, CAPABILITY, ["health.yaml"], **config) as f:
            hermes = f.token()
            assert await f.rest_list(hermes) == TOOLS == await f.mcp_list(hermes)

            r = await f.rest(hermes, "health_list_services", {})
            assert r.status_code == 200, r.text
            rest = r.json()
            assert rest["result"]["items"], "no services listed"
            mcp = await f.mcp_call(hermes, "health_list_services", {})
            assert mcp.get("isError") is not True, mcp
            assert stable(mcp["structuredContent"]) == stable(rest)
            assert url.split("//")[1] not in r.text  # the upstream's address never shows

            summary = await f.rest(hermes, "health_summary", {})
            assert summary.status_code == 200, summary.text

            other = f.token("other-agent", ["others"])
            assert await f.rest_list(other) == set() == await f.mcp_list(other)
            denied = await f.rest(other, "health_summary", {})
            assert denied.status_code == 403
            refused = await f.mcp_call(other, "health_summary", {})
            assert refused["isError"] is True
            assert '"denied"' in refused["content"][0]["text"]

            faces_seen = [(rec["face"], rec["decision"]) for rec in f.records()]
            assert faces_seen == [
                ("rest", "allow"),
                ("mcp", "allow"),
                ("rest", "allow"),
                ("rest", "deny"),
                ("mcp", "deny"),
            ]
