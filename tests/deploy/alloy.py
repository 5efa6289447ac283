"""A reader for the subset of the Alloy configuration syntax that deploy/alloy uses.

Alloy is not packaged for Debian or PyPI, so the tests read its configuration here: blocks
``name.path "label" { ... }``, attributes ``name = value``, values (strings with escapes,
numbers, booleans, ``null``, lists, objects) and references to other components' exports
(``loki.process.labgate.receiver``). Anything else is a syntax error, as in Alloy.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Block", "Ref", "parse"]

_TOKEN = re.compile(
    r"""\s+|//[^\n]*|/\*.*?\*/
    |(?P<string>"(?:[^"\\\n]|\\.)*")
    |(?P<number>-?\d+(?:\.\d+)?)
    |(?P<ident>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)
    |(?P<punct>[{}\[\]=,])
    """,
    re.S | re.X,
)


@dataclass(frozen=True)
class Ref:
    """A reference to another component's export, e.g. ``discovery.docker.labgate.targets``."""

    path: str


@dataclass
class Block:
    name: str
    label: str | None = None
    attrs: dict[str, Any] = field(default_factory=dict)
    blocks: list[Block] = field(default_factory=list)

    def all(self, name: str) -> list[Block]:
        return [b for b in self.blocks if b.name == name]

    def one(self, name: str, label: str | None = None) -> Block:
        (found,) = [
            b for b in self.blocks if b.name == name and (label is None or b.label == label)
        ]
        return found


def _tokens(text: str) -> list[tuple[str, str]]:
    out, pos = [], 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None:
            raise SyntaxError(f"unexpected {text[pos : pos + 20]!r} at {pos}")
        pos = m.end()
        if m.lastgroup is not None:
            out.append((m.lastgroup, m.group(m.lastgroup)))
    return out


class _Parser:
    def __init__(self, text: str) -> None:
        self.toks = _tokens(text)
        self.i = 0

    def peek(self, k: int = 0) -> tuple[str, str]:
        return self.toks[self.i + k] if self.i + k < len(self.toks) else ("eof", "")

    def take(self, kind: str, value: str | None = None) -> str:
        tok = self.peek()
        if tok[0] != kind or (value is not None and tok[1] != value):
            raise SyntaxError(f"expected {value or kind}, got {tok[1]!r}")
        self.i += 1
        return tok[1]

    def body(self, into: Block, end: str) -> None:
        while self.peek() != ("punct", end) and self.peek()[0] != "eof":
            name = self.take("ident")
            if self.peek() == ("punct", "="):
                self.take("punct", "=")
                if name in into.attrs:
                    raise SyntaxError(f"attribute {name} set twice")
                into.attrs[name] = self.value()
                continue
            label = json.loads(self.take("string")) if self.peek()[0] == "string" else None
            block = Block(name, label)
            self.take("punct", "{")
            self.body(block, "}")
            self.take("punct", "}")
            into.blocks.append(block)

    def value(self) -> Any:
        kind, text = self.peek()
        if kind == "string":
            self.i += 1
            return json.loads(text)
        if kind == "number":
            self.i += 1
            return float(text) if "." in text else int(text)
        if kind == "ident":
            self.i += 1
            return {"true": True, "false": False, "null": None}.get(text, Ref(text))
        if (kind, text) == ("punct", "["):
            return self.sequence("]", lambda: self.value())
        if (kind, text) == ("punct", "{"):
            return dict(self.sequence("}", self.pair))
        raise SyntaxError(f"unexpected {text!r}")

    def pair(self) -> tuple[str, Any]:
        kind, key = self.peek()
        key = json.loads(self.take("string")) if kind == "string" else self.take("ident")
        self.take("punct", "=")
        return key, self.value()

    def sequence(self, end: str, item: Any) -> list[Any]:
        self.take("punct", "[" if end == "]" else "{")
        items = []
        while self.peek() != ("punct", end):
            items.append(item())
            if self.peek() == ("punct", ","):
                self.take("punct", ",")
            elif self.peek() != ("punct", end):
                raise SyntaxError(f"expected , or {end}")
        self.take("punct", end)
        return items


def parse(text: str) -> Block:
    """The file as a root block whose ``blocks`` are its components."""
    parser = _Parser(text)
    root = Block("root")
    parser.body(root, "")
    if parser.peek()[0] != "eof":
        raise SyntaxError(f"unexpected {parser.peek()[1]!r}")
    return root
