"""The fake paperless-ngx answers the recorded requests as the real servers did."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from .documents_fixtures import RunningFake
from .fake_paperless import FLAVOURS, HERE, recording

CASES = sorted(
    (version, path.stem)
    for version in FLAVOURS
    for path in (HERE / version).glob("*.json")
    if path.stem not in ("fixture", "autocomplete-hermes-limit-non-int")
    and not path.stem.endswith("-admin")
)
UNORDERED = ("search-", "v3-search-")


def _replay(url: str, rec: dict[str, Any]) -> httpx.Response:
    headers = {k: v for k, v in rec["request"]["headers"].items() if k.lower() != "host"}
    with httpx.Client(base_url=url, follow_redirects=False) as client:
        return client.get(rec["request"]["path"], headers=headers)


@pytest.mark.parametrize(("version", "name"), CASES, ids=[f"{v}:{n}" for v, n in CASES])
def test_fake_matches_recording(
    _paperless_servers: dict[str, RunningFake], version: str, name: str
) -> None:
    rec = recording(version, name)
    want = rec["response"]
    got = _replay(_paperless_servers[version].url, rec)
    assert got.status_code == want["status"]
    want_headers = dict(want["headers"])
    assert got.headers["content-type"] == want_headers["content-type"]
    for header in ("x-api-version", "x-version", "www-authenticate", "location"):
        assert got.headers.get(header) == want_headers.get(header), header
    body = want.get("body_json")
    if body is None:
        assert got.text == (want.get("body_text") or "")
        return
    got_body = got.json()
    if not (isinstance(body, dict) and "results" in body):
        assert got_body == body
        return
    assert set(got_body) == set(body)
    assert got_body["count"] == body["count"]
    ids = [r["id"] for r in got_body["results"]]
    want_ids = [r["id"] for r in body["results"]]
    if name.startswith(UNORDERED) and "page=" in rec["request"]["path"]:
        # a page of a ranked list: the fake ranks by term counts, not BM25
        assert len(ids) == len(want_ids)
        assert set(ids) <= set(body["all"])
    elif name.startswith(UNORDERED):
        assert sorted(ids) == sorted(want_ids)
    else:
        assert ids == want_ids
    paged = name.startswith(UNORDERED) and "page=" in rec["request"]["path"]
    for got_item, want_item in (
        []
        if paged
        else zip(
            sorted(got_body["results"], key=lambda r: r["id"]),
            sorted(body["results"], key=lambda r: r["id"]),
            strict=True,
        )
    ):
        assert set(got_item) == set(want_item)
        if "__search_hit__" in want_item:
            got_hit, want_hit = got_item["__search_hit__"], want_item["__search_hit__"]
            assert (got_hit["note_highlights"] is None) == (want_hit["note_highlights"] is None)
            assert bool(got_hit["note_highlights"]) == bool(want_hit["note_highlights"])
            assert bool(got_hit["highlights"]) == bool(want_hit["highlights"])
        for key in ("tags", "notes", "content", "created", "owner"):
            if key in want_item:
                assert got_item[key] == want_item[key], key
    if body.get("next"):
        assert got_body["next"].split("?")[1] == body["next"].split("?")[1]


def test_recordings_are_copies_of_the_shared_set() -> None:
    """The copied recordings keep the recorded server's identity (guards against edits)."""
    for version in FLAVOURS:
        rec = json.loads((Path(HERE) / version / "search-hermes-telescope.json").read_text())
        assert rec["server"].startswith(f"paperless-ngx v{version}")
