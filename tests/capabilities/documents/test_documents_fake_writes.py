"""The fake's write endpoints answer as the real paperless-ngx 2.20.15 did.

``recordings/writes-2.20.15/`` holds exchanges recorded once against a real server (REAL.md
recipe, seeded with an unowned ``Scan 0001`` tagged agent-visible + inbox, and an admin-owned
``Owned scan`` that alice and hermes may view; alice has ``change_document``, hermes only view
permissions). Each is replayed against the fake world of ``proposals_world`` with the ids
mapped: status, content type and error bodies must be equal, and a 200 carries the same tags
and title.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from .fake_paperless import TOKENS, serve
from .proposals_world import make_world

HERE = Path(__file__).parent / "recordings" / "writes-2.20.15"
RECORDINGS = sorted(HERE.glob("*.json"))
#: Recorded ids -> the fake world's (scan 1 -> 1, owned 2 -> 3; tags by name).
DOCS = {1: 1, 2: 3}
TAGS = {1: "agent-visible", 2: "inbox", 3: "ai/invoice"}


def _map(value: Any, ids: dict[str, int], key: str | None = None) -> Any:
    if isinstance(value, dict):
        return {k: _map(v, ids, k) for k, v in value.items()}
    if isinstance(value, list):
        return [_map(v, ids, key) for v in value]
    if isinstance(value, int) and key in ("tags", "add_tags", "remove_tags"):
        return ids[TAGS[value]] if value in TAGS else value
    if isinstance(value, int) and key == "documents":
        return DOCS.get(value, value)
    return value


def test_there_are_recordings() -> None:
    assert len(RECORDINGS) >= 8


@pytest.mark.parametrize("path", RECORDINGS, ids=lambda p: p.stem)
def test_the_fake_answers_writes_as_paperless_did(path: Path) -> None:
    rec = json.loads(path.read_text("utf-8"))
    req, want = rec["request"], rec["response"]
    world = make_world()
    target = req["path"]
    for real, fake in DOCS.items():
        target = target.replace(f"/api/documents/{real}/", f"/api/documents/{fake}/")
    body = _map(req["body_json"], world.ids)
    with serve(world.fake) as url:
        headers = {
            "Authorization": f"Token {TOKENS[rec['as_user']]}",
            "Accept": "application/json; version=9",
        }
        got = httpx.request(req["method"], url + target, json=body, headers=headers)
    assert got.status_code == want["status"], got.text
    ctype = dict(want["headers"])["content-type"]
    assert got.headers["content-type"].split(";")[0] == ctype.split(";")[0]
    if want["status"] != 200:
        if want["body_json"] is not None:
            assert got.json() == want["body_json"]
        else:
            assert got.text == want["body_text"]
        return
    if "bulk_edit" in target:
        assert got.json() == want["body_json"]
        return
    names = {v: k for k, v in world.ids.items()}
    real_names = {TAGS[t] for t in want["body_json"]["tags"]}
    assert {names[t] for t in got.json()["tags"]} == real_names
    assert got.json()["title"] == want["body_json"]["title"]
