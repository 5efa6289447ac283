"""Grafana's query-time rewriting of a panel's SQL, for running dashboard queries in tests.

Two steps, in Grafana's order: the frontend interpolates template variables (``$var``,
``${var}``, ``${var:format}``, ``[[var]]``, built-ins such as ``$__interval``), then the
PostgreSQL datasource expands its macros (``$__timeFilter(col)``, ``$__timeGroupAlias(col, 5m)``,
...). Formatting follows Grafana's SQL datasources: a multi-value or include-All variable
becomes a comma-separated list of single-quoted literals (quotes doubled); a custom All value
is inserted as written; a single free-text value is inserted with its quotes doubled.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

__all__ = ["ALL", "Variable", "expand_macros", "interpolate", "interval_seconds"]

#: The value Grafana stores for "All".
ALL = "$__all"

_VAR = re.compile(r"\$\{(\w+)(?::(\w+))?\}|\[\[(\w+)\]\]|\$(\w+)")
_MACRO = re.compile(r"\$__(\w+)\(")


@dataclass
class Variable:
    name: str
    multi: bool = False
    include_all: bool = False
    all_value: str | None = None
    #: Every option the variable offers (what "All" means without a custom all value).
    options: list[str] = field(default_factory=list)
    #: The selection: a list for multi/All variables, a string for a text box.
    current: list[str] | str = ""

    @classmethod
    def from_dashboard(cls, spec: dict[str, Any], options: list[str]) -> Variable:
        return cls(
            name=spec["name"],
            multi=bool(spec.get("multi")),
            include_all=bool(spec.get("includeAll")),
            all_value=spec.get("allValue") or None,
            options=options,
            current=[ALL] if spec.get("includeAll") else "",
        )

    def render(self) -> str:
        values = self.current
        if isinstance(values, list) and ALL in values:
            if self.all_value is not None:
                return self.all_value  # custom all values are not formatted
            values = self.options
        if isinstance(values, list):
            return ",".join(_quote(v) for v in values)
        if self.multi or self.include_all:
            return _quote(values)
        return values.replace("'", "''")


def _quote(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def interpolate(sql: str, variables: dict[str, Variable], builtins: dict[str, str]) -> str:
    """Replace template variables; macros (``$__name(``) are left for :func:`expand_macros`.
    A reference to an unknown variable raises ``KeyError`` (Grafana would leave it as is,
    and PostgreSQL would then fail on it)."""

    def sub(m: re.Match[str]) -> str:
        name = m.group(1) or m.group(3) or m.group(4)
        if name in builtins:
            return builtins[name]
        if name in variables:
            return variables[name].render()
        if name.startswith("__") and sql[m.end() : m.end() + 1] == "(":
            return m.group(0)  # a macro
        raise KeyError(f"undefined template variable ${name}")

    return _VAR.sub(sub, sql)


def interval_seconds(text: str) -> float:
    m = re.fullmatch(r"\s*'?(\d+(?:\.\d+)?)(ms|s|m|h|d|w)'?\s*", text)
    if m is None:
        raise ValueError(f"bad interval {text!r}")
    scale = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}[m.group(2)]
    return float(m.group(1)) * scale


def _args(sql: str, start: int) -> tuple[list[str], int]:
    """Arguments of the call whose ``(`` is at ``start - 1``; returns (args, index after ``)``)."""
    depth, i, current = 1, start, ""
    args: list[str] = []
    while i < len(sql):
        ch = sql[i]
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth == 0:
                if current.strip() or args:
                    args.append(current.strip())
                return args, i + 1
        elif ch == "," and depth == 1:
            args.append(current.strip())
            current = ""
            i += 1
            continue
        current += ch
        i += 1
    raise ValueError("unbalanced parentheses in macro call")


def _ts(moment: datetime) -> str:
    return "'" + moment.strftime("%Y-%m-%dT%H:%M:%SZ") + "'"


def expand_macros(sql: str, start: datetime, end: datetime) -> str:
    """Expand the PostgreSQL datasource's macros as Grafana's backend does."""
    out, pos = "", 0
    while (m := _MACRO.search(sql, pos)) is not None:
        name = m.group(1)
        args, after = _args(sql, m.end())
        if name == "timeFilter":
            text = f"{args[0]} BETWEEN {_ts(start)} AND {_ts(end)}"
        elif name == "timeFrom":
            text = _ts(start)
        elif name == "timeTo":
            text = _ts(end)
        elif name == "time":
            text = f'{args[0]} AS "time"'
        elif name == "timeEpoch":
            text = f'extract(epoch from {args[0]}) AS "time"'
        elif name in ("timeGroup", "timeGroupAlias"):
            seconds = interval_seconds(args[1])
            step = int(seconds) if seconds == int(seconds) else seconds
            text = f"floor(extract(epoch from {args[0]})/{step})*{step}"
            if name == "timeGroupAlias":
                text += ' AS "time"'
        else:
            raise ValueError(f"macro $__{name} is not expanded by this helper")
        out += sql[pos : m.start()] + text
        pos = after
    return out + sql[pos:]
