"""Query words, snippets, match evidence, score normalisation and cursors."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from capabilities.documents.cursor import Cursor, CursorError, fingerprint
from capabilities.documents.query import Readable, build_query, words
from gateway.capability import Principal, ToolContext
from gateway.errors import InvalidArguments


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("notes.note:statins", ["notes", "note", "statins"]),
        ("tag_id:4 OR owner_id:5", ["tag", "id", "owner"]),
        ('"Andromeda galaxy" AND NOT (x', ["andromeda", "galaxy"]),
        ("telesc* -invoice [2025 TO 2026]", ["telesc", "invoice", "2025", "2026"]),
        ("Café café", ["café"]),
        ("İstanbul", ["stanbul"]),  # lower() splits İ into i + a combining dot
    ],
)
def test_words_strip_all_syntax(query: str, expected: list[str]) -> None:
    assert words(query) == expected


@given(st.text(max_size=200))
def test_any_text_gives_words_or_nothing(text: str) -> None:
    terms = words(text)
    if terms:
        for part in build_query(terms).split(" AND "):
            assert part.startswith("(title:") and part.endswith(")")
            inner = part[1:-1].split(" OR ")
            word = inner[0].removeprefix("title:")
            assert inner == [f"title:{word}", f"content:{word}"] and word.isalnum()


def test_build_query_refuses_raw_text() -> None:
    for bad in (["tag:medical"], ["the"], []):
        with pytest.raises(ValueError):
            build_query(bad)


def test_readable_text_stops_at_the_limit_and_before_a_cut_word() -> None:
    doc = Readable.of("Title", "alpha beta gamma", 8)
    assert doc.text == "alpha "
    assert not doc.matches(["beta"]) and doc.matches(["alpha"]) and doc.matches(["title"])
    assert Readable.of("", "alpha beta", 6).text == "alpha "


def test_whole_words_only() -> None:
    doc = Readable.of("", "see example.com and 3.14", 100)
    assert not doc.matches(["example"]) and not doc.matches(["14"]) and doc.matches(["see"])


def test_snippet_is_plain_readable_text() -> None:
    doc = Readable.of("", "x " * 30 + "<b>telescope</b> night", 200)
    snippet = doc.snippet(["telescope"], 40)
    assert "telescope" in snippet and len(snippet) <= 40
    assert Readable.of("", "no match here", 100).snippet(["telescope"], 40) == ""


def test_cursor_round_trip_and_tampering() -> None:
    now = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    ctx: ToolContext = ToolContext(
        Principal(sub="hermes"), "r", now, None, None, {}, tool="documents_search"
    )
    fp = fingerprint(["telescope"])
    cursor = Cursor(10, fp)
    assert Cursor.decode(ctx, cursor.encode(ctx), fp) == cursor
    for bad in (Cursor(0, fp).encode(ctx), Cursor(2, "other").encode(ctx)):
        with pytest.raises(CursorError):
            Cursor.decode(ctx, bad, fp)
    for forged in ("", "e30", "%%%", "eyJmIjoiYWJjIiwibyI6MTB9", cursor.encode(ctx) + "A"):
        with pytest.raises(InvalidArguments):
            Cursor.decode(ctx, forged, fp)
