"""The agent's query is words, not query language; hits are judged on readable text only.

Both paperless generations parse ``query=`` as a full query language (whoosh in 2.x, tantivy
behind a whoosh-compatible layer in 3.x): ``notes.note:``, ``tag:``, ``tag_id:``, ``owner_id:``,
wildcards, ranges. A qualified query reaches other users' private notes and hidden tag names,
and in 2.x even bare words search notes and custom fields. So:

* only letters and digits survive (:func:`words`; any input text gives words or nothing, never
  an error); stop words and one-letter words, which the 2.x index drops, are dropped too;
* each word is asked for in ``title`` and ``content`` only (:func:`build_query`), which both
  generations honour: notes, custom fields and tag names never make a hit upstream;
* every hit is judged again on what the agent may read (:class:`Readable`): the title and the
  text up to the scope's ``max_content_chars``. A word counts only where both generations'
  tokenisers see it whole, so a readable match is always an upstream match too, and presence,
  score, rank and snippet are functions of the readable text alone (paperless' own score, rank
  and highlights are never used).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["Readable", "build_query", "words"]

_WORD = re.compile(r"[^\W_]+")
#: whoosh's ``StandardAnalyzer`` token (2.x): ``example.com`` and ``3.14`` are one token.
_WHOOSH_TOKEN = re.compile(r"\w+(?:\.?\w+)*")
_SPACE = re.compile(r"\s+")
MAX_WORD_CHARS = 64
#: whoosh's ``STOP_WORDS`` (2.x drops them, and words shorter than 2, from index and query).
STOP_WORDS = frozenset(
    "a an and are as at be by can for from have if in is it may not of on or tbd that the "
    "this to us we when will with yet you your".split()
)
#: Characters of text shown before the first match in a snippet.
SNIPPET_LEAD = 40


def words(query: str) -> list[str]:
    """The searchable words of ``query``: lower-cased letter/digit runs, de-duplicated."""
    seen: dict[str, None] = {}
    for word in _WORD.findall(query.lower()):
        if 2 <= len(word) <= MAX_WORD_CHARS and word not in STOP_WORDS:
            seen.setdefault(word)
    return list(seen)


def build_query(terms: list[str]) -> str:
    """The ``query=`` value: ``(title:w1 OR content:w1) AND (title:w2 OR content:w2) ...``."""
    if not terms or any(not _WORD.fullmatch(t) or t in STOP_WORDS for t in terms):
        raise ValueError("terms must come from words()")
    return " AND ".join(f"(title:{t} OR content:{t})" for t in terms)


def _whole_words(text: str) -> list[str]:
    """Words both tokenisers see whole: a letter/digit run that is also a whoosh token."""
    lowered = text.lower()
    whoosh = set(_WHOOSH_TOKEN.findall(lowered))
    return [w for w in _WORD.findall(lowered) if w in whoosh]


@dataclass(frozen=True, slots=True)
class Readable:
    """What the agent may read of one document: its title and the text up to the limit."""

    title: str
    text: str

    @classmethod
    def of(cls, title: str, content: str | None, limit: int) -> Readable:
        return cls(title, _cut((content or ""), limit))

    def _counts(self, terms: list[str]) -> tuple[int, int, set[str]]:
        wanted = set(terms)
        title = [w for w in _whole_words(self.title) if w in wanted]
        text = [w for w in _whole_words(self.text) if w in wanted]
        return len(title), len(text), set(title) | set(text)

    def matches(self, terms: list[str]) -> bool:
        """True when every term occurs as a whole word in the title or the readable text."""
        return self._counts(terms)[2] == set(terms)

    def score(self, terms: list[str]) -> int:
        """Occurrences of the terms, a title occurrence counting three times."""
        title, text, _ = self._counts(terms)
        return 3 * title + text

    def snippet(self, terms: list[str], limit: int) -> str:
        """Plain text of at most ``limit`` characters from just before the first term."""
        wanted = set(terms) & set(_whole_words(self.text))
        for match in _WORD.finditer(self.text):
            if match.group().lower() in wanted:
                start = max(0, match.start() - min(SNIPPET_LEAD, limit // 3))
                break
        else:
            return ""
        piece = _SPACE.sub(" ", self.text[start:]).strip()
        if len(piece) > limit:
            piece = piece[: max(0, limit - 1)].rstrip() + "…"
        return piece


def _cut(full: str, limit: int) -> str:
    """``full[:limit]``; without its last chunk when that continues past the limit.

    A word cut by the limit is not a word the agent can read (nor one the index holds).
    """
    if len(full) <= limit or full[limit].isspace():
        return full[:limit]
    end = limit
    while end > 0 and not full[end - 1].isspace():
        end -= 1
    return full[:end]
