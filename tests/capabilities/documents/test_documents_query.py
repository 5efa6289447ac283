"""Query words, snippets, match evidence, score normalisation and cursors."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from capabilities.documents.cursor import Cursor, CursorError, fingerprint
from capabilities.documents.query import build_query, clean_snippet, evidenced, normalise, words


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("notes.note:statins", ["notes", "note", "statins"]),
        ("tag_id:4 OR owner_id:5", ["tag", "id", "4", "or", "owner", "5"]),
        ('"Andromeda galaxy" AND NOT (x', ["andromeda", "galaxy", "and", "not", "x"]),
        ("telesc* -invoice [2025 TO 2026]", ["telesc", "invoice", "2025", "to", "2026"]),
        ("Café café", ["café"]),
    ],
)
def test_words_strip_all_syntax(query: str, expected: list[str]) -> None:
    assert words(query) == expected


@given(st.text(max_size=200))
def test_built_queries_are_plain_words(text: str) -> None:
    terms = words(text)
    if terms:
        for part in build_query(terms).split(" AND "):
            assert part.isalnum() and part == part.lower()


def test_build_query_refuses_raw_text() -> None:
    with pytest.raises(ValueError):
        build_query(["tag:medical"])


@pytest.mark.parametrize(
    "highlights",
    [
        'x <span class="match term0">telescope</span> &lt;b&gt;',  # 2.20
        "x <b>telescope</b> <b>",  # 3.0
    ],
)
def test_snippets_are_plain_text(highlights: str) -> None:
    text = clean_snippet(highlights, 300)
    assert text.startswith("x telescope") and "span" not in text and "</b>" not in text
    assert clean_snippet("a" * 500, 40) == "a" * 39 + "…"
    assert clean_snippet(None, 10) == ""


def test_evidence_allows_stems_and_refuses_hidden_matches() -> None:
    assert evidenced(["observing"], "Observation log", "")
    assert evidenced(["telescopes"], "", "a telescope")
    assert not evidenced(["medical"], "Appointment reminder Dr. Smith", "cholesterol results")
    assert not evidenced(["statins"], "Appointment", "bring your insurance card")


def test_normalise_scores_and_ranks() -> None:
    assert normalise(0.5, 0, 2, None) == (0.5, 1)
    assert normalise(3.3, 4, 3, 6.6) == (0.5, 4)
    assert normalise(9.0, 1, 3, 6.6) == (1.0, 1)  # 3.x scores are not sorted: cap at 1
    assert normalise(None, None, 3, None) == (0.0, None)


def test_cursor_round_trip_and_tampering() -> None:
    fp = fingerprint(["telescope"])
    cursor = Cursor(2, fp, 6.5)
    assert Cursor.decode(cursor.encode(), fp) == cursor
    for bad in ("", "e30", Cursor(1, fp).encode(), Cursor(2, "other").encode(), "%%%"):
        with pytest.raises(CursorError):
            Cursor.decode(bad, fp)
