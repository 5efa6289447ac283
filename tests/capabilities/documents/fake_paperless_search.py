"""The full-text part of the fake paperless-ngx: ``query=`` in the 2.20 (whoosh) and 3.0
(tantivy) flavours, as the recordings show them.

Reproduced (each from a named recording): 2.x ANDs bare words, 3.x ORs them and knows
explicit AND/OR/NOT and ``-word``; 3.x stems (``observing`` finds ``Observation``), 2.x
does not (``telescopes`` misses ``telescope``); 2.x wildcards; unqualified words match tag
names, also of tags the caller cannot see (``search-hermes-hidden-tag-name``) and, in 2.x
only, notes and custom field values (``search-hermes-notes``, and from a local 2.20.15 in
``real-local/``: ``search-hermes-note-only-bare-word``, ``search-hermes-custom-field-bare-word``);
``(title:w OR content:w)`` reaches neither (``search-hermes-note-only-title-content``);
``tag:``, ``title:``, ``correspondent:``, ``type:``
in both, ``notes:`` in 2.x, ``notes.note:``, ``tag_id:``, ``owner_id:`` in 3.x (reaching
other users' private notes, ``v3-search-hermes-notes-alice-private``); 3.x answers 400
text/html to unbalanced parentheses, unknown fields and purely negative queries, 2.x gives
200 with no hits for the unbalanced case. Scores: 2.x relative to the best hit, rank from 0;
3.x raw floats, rank from 1. Highlights: 2.x ``<span class="match termN">``, 3.x ``<b>``.
Not reproduced: BM25 itself (scores are term counts), date fields, more_like_id, ``text=``
adjacency beyond a plain substring.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Indexed", "SearchError", "run_query", "text_search"]

_TOKEN = re.compile(r'"[^"]*"|\(|\)|[^\s()]+')
_WORD = re.compile(r"[^\W_]+")
SYNTAX_ERROR = "Error listing search results, check logs for more detail."
_SUFFIXES = ("ations", "ation", "ings", "ing", "ers", "er", "es", "s", "ed", "e")


class SearchError(Exception):
    def __init__(self, status: int, content_type: str, body: Any) -> None:
        self.status, self.content_type, self.body = status, content_type, body
        super().__init__(body)


@dataclass
class Indexed:
    """One document as the index sees it (texts per field)."""

    id: int
    title: str
    content: str
    correspondent: str
    tags: list[str]
    tag_ids: list[int]
    type: str
    notes: list[str]
    owner_id: int | None
    owner_name: str
    custom_field_names: list[str] = field(default_factory=list)
    #: ``"<field name> : <value>"`` per field, as 2.x indexes them (``index.update_document``).
    custom_fields: list[str] = field(default_factory=list)


def _stem(word: str, major: int) -> str:
    if major < 3:
        return word
    for suffix in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 4:
            return word[: -len(suffix)]
    return word


def _words(text: str, major: int) -> list[str]:
    return [_stem(w.lower(), major) for w in _WORD.findall(text)]


@dataclass
class _Ctx:
    major: int
    positive: list[tuple[str, str]] = field(default_factory=list)  # (field, term)


def _fields(doc: Indexed, name: str) -> list[str]:
    table = {
        "title": [doc.title],
        "content": [doc.content],
        "correspondent": [doc.correspondent],
        "tag": doc.tags,
        "type": [doc.type],
        "document_type": [doc.type],
        "notes": doc.notes,
        "notes.note": doc.notes,
        "owner": [doc.owner_name],
        "custom_fields.name": doc.custom_field_names,
        "custom_fields": doc.custom_fields,
    }
    return table.get(name, [])


V2_FIELDS = {"title", "content", "correspondent", "tag", "type", "notes", "owner", "custom_fields"}
V3_FIELDS = {
    "title",
    "content",
    "correspondent",
    "tag",
    "type",
    "document_type",
    "notes",
    "notes.note",
    "tag_id",
    "owner_id",
    "custom_fields.name",
    "custom_fields.value",
}
DEFAULT = {
    # 2.x: index.DelayedFullTextQuery's MultifieldParser (search-hermes-custom-field-bare-word)
    2: ("title", "content", "correspondent", "tag", "type", "notes", "custom_fields"),
    3: ("title", "content", "correspondent", "tag", "type"),
}


def _term_matches(doc: Indexed, fieldname: str | None, term: str, ctx: _Ctx) -> bool:
    names = DEFAULT[2 if ctx.major < 3 else 3] if fieldname is None else (fieldname,)
    if fieldname == "tag_id":
        return term.isdigit() and int(term) in doc.tag_ids
    if fieldname == "owner_id":
        return term.isdigit() and doc.owner_id == int(term)
    if fieldname == "notes" and ctx.major >= 3:
        return False  # v3-search-hermes-notes-legacy-field: 0 hits
    wildcard = term.endswith("*")
    if wildcard and ctx.major >= 3:
        return False  # no wildcards in 3.x
    if term.startswith('"') or len(_WORD.findall(term)) > 1:
        # REF-002 is analysed into two words (search-hermes-custom-field-bare-word)
        phrase = " ".join(_words(term.strip('"'), ctx.major))
        return any(phrase in " ".join(_words(t, ctx.major)) for n in names for t in _fields(doc, n))
    wanted = _stem(term.rstrip("*").lower(), ctx.major)
    for name in names:
        for text in _fields(doc, name):
            for word in _words(text, ctx.major):
                if word == wanted or (wildcard and word.startswith(wanted)):
                    return True
    return False


def _parse_unit(tokens: list[str], pos: int, ctx: _Ctx) -> tuple[Any, int]:
    tok = tokens[pos]
    if tok == "NOT" or (ctx.major >= 3 and tok.startswith("-") and len(tok) > 1):
        if tok == "NOT":
            node, pos = _parse_unit(tokens, pos + 1, ctx)
        else:
            node, pos = _parse_unit([tok[1:]], 0, ctx)[0], pos + 1
        return ("not", node), pos
    if tok == "(":
        node, pos = _parse_seq(tokens, pos + 1, ctx)
        if pos >= len(tokens) or tokens[pos] != ")":
            raise SearchError(400, "text/html; charset=utf-8", SYNTAX_ERROR)
        return node, pos + 1
    if ":" in tok and not tok.startswith('"'):
        name, _, term = tok.partition(":")
        if name in ("created", "added", "modified"):  # date fields: only the 3.x error is faked
            if ctx.major >= 3 and not re.match(r"^(\[|\d{4}|today|yesterday)", term):
                detail = f"Invalid date value '{term}' for field '{name}'."
                raise SearchError(400, "application/json", {"query": [detail]})
            return ("none",), pos + 1
        known = V3_FIELDS if ctx.major >= 3 else V2_FIELDS
        if name not in known:
            if ctx.major >= 3:
                raise SearchError(400, "text/html; charset=utf-8", SYNTAX_ERROR)
            return ("none",), pos + 1
        if name not in ("tag_id", "owner_id"):
            ctx.positive.append((name, term))
        return ("term", name, term.lower()), pos + 1
    ctx.positive.append(("", tok))
    return ("term", None, tok), pos + 1


def _parse_seq(tokens: list[str], pos: int, ctx: _Ctx) -> tuple[Any, int]:
    """Units joined by AND/OR (explicit) or the flavour's default; AND binds tighter."""
    default = "AND" if ctx.major < 3 else "OR"
    groups: list[list[Any]] = [[]]
    pending: str | None = None
    while pos < len(tokens) and tokens[pos] != ")":
        if tokens[pos] in ("AND", "OR"):
            pending = tokens[pos]
            pos += 1
            continue
        node, pos = _parse_unit(tokens, pos, ctx)
        if groups[-1] and (pending or default) == "OR":
            groups.append([])
        groups[-1].append(node)
        pending = None
    return ("or", [("and", g) for g in groups if g]), pos


def _eval(node: Any, doc: Indexed, ctx: _Ctx) -> bool:
    kind = node[0]
    if kind == "term":
        return _term_matches(doc, node[1], node[2], ctx)
    if kind == "not":
        return not _eval(node[1], doc, ctx)
    if kind == "and":
        return all(_eval(n, doc, ctx) for n in node[1])
    if kind == "or":
        return any(_eval(n, doc, ctx) for n in node[1])
    return False


def _only_negative(node: Any) -> bool:
    if node[0] == "not":
        return True
    if node[0] in ("and", "or"):
        return bool(node[1]) and all(_only_negative(n) for n in node[1])
    return False


def _mark(text: str, terms: list[str], major: int, limit: int) -> str:
    """An excerpt of ``text`` around the first match with the flavour's highlight marks."""
    wanted = {_stem(t.lower(), major) for t in terms}
    spans = [m for m in _WORD.finditer(text) if _stem(m.group().lower(), major) in wanted]
    if not spans:
        return ""
    start = max(0, spans[0].start() - (60 if major < 3 else 0))
    end = min(len(text), start + limit)
    out, cursor = [], start
    for m in spans:
        if m.start() < start or m.end() > end:
            continue
        piece = text[cursor : m.start()]
        out.append(html.escape(piece, quote=False) if major < 3 else piece)
        word = m.group()
        out.append(f'<span class="match term0">{word}</span>' if major < 3 else f"<b>{word}</b>")
        cursor = m.end()
    tail = text[cursor:end]
    out.append(html.escape(tail, quote=False) if major < 3 else tail)
    return "".join(out)


def run_query(query: str, docs: list[Indexed], major: int) -> list[dict[str, Any]]:
    """Hits in rank order: ``{"id", "raw", "highlights", "note_highlights"}``."""
    tokens = _TOKEN.findall(query)
    if not tokens:
        return []
    ctx = _Ctx(major)
    try:
        node, pos = _parse_seq(tokens, 0, ctx)
        if pos != len(tokens) or (tokens.count("(") != tokens.count(")")):
            raise SearchError(400, "text/html; charset=utf-8", SYNTAX_ERROR)
    except SearchError:
        if major >= 3:
            raise
        return []  # search-hermes-syntax-odd: 200 with no hits on 2.20
    except IndexError:
        if major >= 3:
            raise SearchError(400, "text/html; charset=utf-8", SYNTAX_ERROR) from None
        return []  # search-hermes-syntax-odd: 200 with no hits on 2.20
    if major >= 3 and _only_negative(node):
        raise SearchError(400, "text/html; charset=utf-8", SYNTAX_ERROR)
    hits: list[dict[str, Any]] = []
    for doc in docs:
        if not _eval(node, doc, ctx):
            continue
        content_terms = [t for f, t in ctx.positive if f in ("", "content")]
        # Notes of a hit are highlighted whenever they contain a query word, also in 3.x
        # where bare words do not search notes (search-hermes-notes on 3.0.5).
        note_terms = [t for f, t in ctx.positive if f in ("", "notes", "notes.note")]
        counts = sum(
            _words(doc.title + " " + doc.content, major).count(_stem(t.lower(), major))
            for _, t in ctx.positive
        )
        notes = [_mark(n, note_terms, major, 150) for n in doc.notes] if note_terms else []
        note_hl = next((n for n in notes if n), "" if major < 3 else None)
        hits.append(
            {
                "id": doc.id,
                "raw": 1.0 + counts,
                "highlights": _mark(doc.content, content_terms, major, 150),
                "note_highlights": note_hl,
            }
        )
    hits.sort(key=lambda h: -float(h["raw"]))
    return hits


def text_search(text: str, docs: list[Indexed]) -> list[dict[str, Any]]:
    """3.x ``text=``: case-insensitive substring over title and content, no query syntax."""
    needle = " ".join(text.split()).casefold()
    found = []
    for doc in docs:
        hay = " ".join(f"{doc.title} {doc.content}".split()).casefold()
        if needle and needle in hay:
            found.append({"id": doc.id, "raw": 1.0, "highlights": "", "note_highlights": None})
    return found
