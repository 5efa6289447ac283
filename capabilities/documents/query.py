"""The agent's query is words, not query language; and what comes back is plain text.

Both paperless generations parse ``query=`` as a full query language (whoosh in 2.x, tantivy
behind a whoosh-compatible layer in 3.x): ``notes.note:``, ``tag:``, ``tag_id:``, ``owner_id:``,
wildcards, ranges. A qualified query reaches other users' private notes and hidden tag names.
So only letters and digits survive; every word is lower-cased (``AND``/``OR``/``NOT``/``TO``
are operators only in upper case) and the words are joined with an explicit ``AND``, which
both generations honour (2.x ANDs bare terms, 3.x ORs them).

Unqualified words still match more than title and content (2.x: notes, both: tag names the
gateway's user cannot list). :func:`evidenced` keeps a hit only when every word shows up in
its title or text, so a match through a note or a hidden tag name never surfaces.
"""

from __future__ import annotations

import html
import re

__all__ = ["build_query", "clean_snippet", "evidenced", "normalise", "words"]

_WORD = re.compile(r"[^\W_]+")
_TAG = re.compile(r"<[^>]*>")
_SPACE = re.compile(r"\s+")
MAX_WORD_CHARS = 64
#: Words shorter than this need no evidence (stop words, initials).
MIN_EVIDENCE_CHARS = 3


def words(query: str) -> list[str]:
    """The words of ``query``: runs of letters/digits, lower-cased, de-duplicated, in order."""
    seen: dict[str, None] = {}
    for match in _WORD.finditer(query):
        word = match.group().lower()
        if len(word) <= MAX_WORD_CHARS:
            seen.setdefault(word)
    return list(seen)


def build_query(terms: list[str]) -> str:
    """The ``query=`` value: ``w1 AND w2 ...`` (every term already reduced by :func:`words`)."""
    if not terms or any(not _WORD.fullmatch(t) or t != t.lower() for t in terms):
        raise ValueError("terms must come from words()")
    return " AND ".join(terms)


def clean_snippet(highlights: str | None, limit: int) -> str:
    """Highlight HTML (``<span class="match">``, ``<b>``) to plain, single-spaced text."""
    if not highlights:
        return ""
    text = html.unescape(_TAG.sub("", highlights))
    text = _SPACE.sub(" ", text).strip()
    if len(text) > limit:
        text = text[: max(0, limit - 1)].rstrip() + "…"
    return text


def _key(word: str) -> str:
    """A crude stem: long enough to be specific, short enough to survive 3.x stemming."""
    return word[: max(4, len(word) - 3)]


def evidenced(terms: list[str], title: str, content: str) -> bool:
    """True when each term (or a word sharing its stem) occurs in the title or the text."""
    tokens = {m.group().lower() for m in _WORD.finditer(f"{title}\n{content}")}
    for term in terms:
        if len(term) < MIN_EVIDENCE_CHARS or term in tokens:
            continue
        key = _key(term)
        if not any(t.startswith(key) or (len(t) >= 4 and term.startswith(_key(t))) for t in tokens):
            return False
    return True


def normalise(
    score: float | None, rank: int | None, major: int, best: float | None
) -> tuple[float, int | None]:
    """One shape from both generations: score in [0, 1] relative to the best hit, 1-based rank.

    2.x already scores relative to the best hit and ranks from 0; 3.x returns raw BM25
    (``best`` is the highest raw score seen on the first page) and ranks from 1.
    """
    raw = score or 0.0
    if major >= 3:
        relative = raw / best if best and best > 0 else 0.0
        one_based = rank
    else:
        relative = raw
        one_based = None if rank is None else rank + 1
    return round(min(1.0, max(0.0, relative)), 4), one_based
