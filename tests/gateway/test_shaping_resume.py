"""Shaping a paged result: a trimmed page resumes right after the last item the caller got."""

from __future__ import annotations

from typing import Any

import pytest

from gateway.errors import ResultTooLarge
from gateway.shaping import Shape, shape


def _page(n: int, next_cursor: str | None, text: int = 100) -> dict[str, Any]:
    items = [{"id": i, "text": "x" * text, "resume_cursor": f"after-{i}"} for i in range(n)]
    return {"items": items, "next_cursor": next_cursor, "partial": False}


def test_size_cap_moves_the_cursor_to_the_last_item_kept() -> None:
    out, partial = shape(_page(10, "after-9"), Shape(max_chars=700))
    kept = len(out["items"])
    assert 0 < kept < 10 and partial
    assert out["next_cursor"] == f"after-{kept - 1}"


def test_item_cap_on_the_last_page_still_gives_a_cursor() -> None:
    out, _ = shape(_page(5, None), Shape(max_items=2))
    assert [i["id"] for i in out["items"]] == [0, 1]
    assert out["next_cursor"] == "after-1"


def test_projection_does_not_lose_the_cursor() -> None:
    out, _ = shape(_page(5, "after-4"), Shape(fields=("id",), max_items=3))
    assert out["items"] == [{"id": 0}, {"id": 1}, {"id": 2}]
    assert out["next_cursor"] == "after-2"


def test_an_untrimmed_page_keeps_its_cursor() -> None:
    out, partial = shape(_page(3, "opaque-next"), Shape())
    assert out["next_cursor"] == "opaque-next" and not partial


def test_a_page_that_cannot_hold_one_item_is_refused_not_skipped() -> None:
    with pytest.raises(ResultTooLarge):
        shape(_page(1, "after-0", text=500), Shape(max_chars=200))
