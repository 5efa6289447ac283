"""documents through every face of the full app, under the shipped policy, against the fake."""

from __future__ import annotations

from pathlib import Path

from capabilities.documents import CAPABILITY
from tests.support.faces import faces, stable

from .documents_fixtures import RunningFake, make_capability_config

TOOLS = {"documents_search", "documents_get", "documents_list_tags"}


async def test_every_face_under_policy(tmp_path: Path, paperless_fake: RunningFake) -> None:
    config = make_capability_config(paperless_fake.url, tmp_path / "paperless-token")
    async with faces(tmp_path, CAPABILITY, ["documents.yaml"], **config) as f:
        hermes = f.token()
        assert await f.rest_list(hermes) == TOOLS == await f.mcp_list(hermes)

        r = await f.rest(hermes, "documents_search", {"query": "telescope"})
        assert r.status_code == 200, r.text
        rest = r.json()
        assert rest["result"]["items"], "the fixture holds agent-visible telescope documents"
        mcp = await f.mcp_call(hermes, "documents_search", {"query": "telescope"})
        assert mcp.get("isError") is not True, mcp
        assert stable(mcp["structuredContent"]) == stable(rest)
        assert "items[].snippet" in rest["untrusted"]
        for item in rest["result"]["items"]:
            assert set(item) <= {
                "id",
                "title",
                "created",
                "correspondent",
                "document_type",
                "tags",
                "snippet",
                "score",
                "rank",
            }
            assert "medical" not in item["tags"] and "finance" not in item["tags"]

        # The policy's argument bound holds on both faces.
        too_big = await f.rest(hermes, "documents_search", {"query": "x", "page_size": 50})
        assert too_big.status_code in (403, 422)
        refused = await f.mcp_call(hermes, "documents_search", {"query": "x", "page_size": 50})
        assert refused["isError"] is True

        # A hidden document is "not found" exactly like a missing one, on both faces.
        missing = await f.rest(hermes, "documents_get", {"document_id": 999})
        assert missing.status_code == 404
        nf = await f.mcp_call(hermes, "documents_get", {"document_id": 999})
        assert nf["isError"] is True and '"not_found"' in nf["content"][0]["text"]

        records = f.records()
        assert [r["face"] for r in records] == ["rest", "mcp", "rest", "mcp", "rest", "mcp"]
