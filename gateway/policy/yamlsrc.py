"""YAML with line numbers: parse once, keep the node tree, map error paths back to lines.

Only the safe loader is used. Duplicate keys, multi-document files, cyclic aliases and
alias bombs are refused. Validation paths (pydantic ``loc`` tuples) are followed through the
node tree so an error names the line of the offending key, item or value.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import yaml
from pydantic import ValidationError

from gateway.errors import PolicyError

__all__ = ["MAX_BYTES", "YamlDoc", "format_loc", "parse_yaml", "pydantic_problems"]

MAX_BYTES = 1_000_000
MAX_NODES = 100_000
Loc = Sequence[int | str]


@dataclass(frozen=True, slots=True)
class YamlDoc:
    file: str
    data: Any
    root: yaml.Node | None

    def line(self, loc: Loc) -> int:
        """1-based line of the deepest node reached by following ``loc``."""
        node = self.root
        if node is None:
            return 1
        line = node.start_mark.line + 1
        for part in loc:
            if isinstance(node, yaml.MappingNode):
                found = None
                for key, value in node.value:
                    if isinstance(key, yaml.ScalarNode) and key.value == str(part):
                        found = (key, value)
                        break
                if found is None:
                    continue  # a pydantic tag (union member, validator name): skip it
                line = found[0].start_mark.line + 1
                node = found[1]
            elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
                if not 0 <= part < len(node.value):
                    break
                node = node.value[part]
                line = node.start_mark.line + 1
            else:
                continue
        return line

    def error(self, message: str, loc: Loc = ()) -> PolicyError:
        return PolicyError(message, file=self.file, line=self.line(loc))


def parse_yaml(raw: bytes, file: str) -> YamlDoc:
    """Parse one YAML document; any failure is a :class:`PolicyError` with a line."""
    if len(raw) > MAX_BYTES:
        raise PolicyError(f"file is larger than {MAX_BYTES} bytes", file=file, line=1)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise PolicyError("file is not valid UTF-8", file=file, line=1) from None
    try:
        loader = yaml.SafeLoader(text)
        try:
            root = loader.get_single_node()
            if root is not None:
                _check_tree(root, file)
            data = loader.construct_document(root) if root is not None else None
        finally:
            loader.dispose()
    except PolicyError:
        raise
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else 1
        problem = exc.problem or exc.context
        raise PolicyError(f"invalid YAML: {problem}", file=file, line=line) from None
    except yaml.YAMLError as exc:
        raise PolicyError(f"invalid YAML: {type(exc).__name__}", file=file, line=1) from None
    except RecursionError:
        raise PolicyError("YAML nests too deeply", file=file, line=1) from None
    return YamlDoc(file=file, data=data, root=root)


def _check_tree(root: yaml.Node, file: str) -> None:
    """Refuse duplicate keys, cyclic aliases and documents that expand too far."""
    count = 0
    stack: list[tuple[yaml.Node, frozenset[int]]] = [(root, frozenset())]
    while stack:
        node, path = stack.pop()
        count += 1
        if count > MAX_NODES:
            raise PolicyError("YAML document expands to too many nodes", file=file, line=1)
        if id(node) in path:
            line = node.start_mark.line + 1
            raise PolicyError("YAML alias refers to itself", file=file, line=line)
        inner = path | {id(node)}
        if isinstance(node, yaml.MappingNode):
            seen: set[str] = set()
            for key, value in node.value:
                if not isinstance(key, yaml.ScalarNode):
                    raise PolicyError(
                        "mapping keys must be plain text", file=file, line=key.start_mark.line + 1
                    )
                if key.value != "<<":
                    if key.value in seen:
                        raise PolicyError(
                            f"duplicate key {key.value}", file=file, line=key.start_mark.line + 1
                        )
                    seen.add(key.value)
                stack.append((value, inner))
        elif isinstance(node, yaml.SequenceNode):
            stack.extend((item, inner) for item in node.value)


def format_loc(loc: Loc) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


def pydantic_problems(exc: ValidationError, doc: YamlDoc, prefix: Loc = ()) -> list[PolicyError]:
    """One :class:`PolicyError` per validation error, with the line of its path."""
    problems = []
    for err in exc.errors(include_url=False, include_input=False):
        loc = (*prefix, *err["loc"])
        if err["type"] == "extra_forbidden":
            message = f"unknown key {loc[-1]}"
            where = format_loc(loc[:-1])
        else:
            message = str(err["msg"]).removeprefix("Value error, ")
            where = format_loc(loc)
        problems.append(doc.error(f"{where}: {message}" if where else message, loc))
    return problems
