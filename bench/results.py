"""The results of one run: figures with their goals, written as JSON and as a Markdown table."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.stats import Goal

__all__ = ["Figure", "Run", "format_value", "markdown", "write_results"]


@dataclass(slots=True)
class Figure:
    """One line of the table. ``value`` is ``None`` while the figure is pending."""

    key: str
    title: str
    unit: str
    goal: Goal
    value: float | None = None
    #: What the headline was computed from (raw rates, percentiles, sample sizes...).
    detail: dict[str, Any] = field(default_factory=dict)
    note: str = ""

    @property
    def met(self) -> bool | None:
        return self.goal.met(self.value)

    def as_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "title": self.title,
            "value": self.value,
            "unit": self.unit,
            "goal": {"op": self.goal.op, "limit": self.goal.limit},
            "met": self.met,
            "note": self.note,
            "detail": self.detail,
        }


@dataclass(slots=True)
class Run:
    machine: dict[str, Any]
    started_at: str
    figures: list[Figure] = field(default_factory=list)
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "started_at": self.started_at,
            "seconds": round(self.seconds, 1),
            "machine": self.machine,
            "figures": [f.as_dict() for f in self.figures],
        }


def format_value(value: float | None, unit: str) -> str:
    if value is None:
        return "pending"
    if unit in ("", "x"):
        text = f"{value:.2f}"
    elif abs(value) >= 100:
        text = f"{value:,.0f}"
    elif abs(value) >= 10:
        text = f"{value:.1f}"
    else:
        text = f"{value:.2f}"
    return f"{text} {unit}".strip() if unit not in ("", "x") else text


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _met(value: bool | None) -> str:
    return {True: "yes", False: "**no**", None: "pending"}[value]


def markdown(run: Run) -> str:
    """A Markdown table of the run, one figure per row, with its goal and whether it is met."""
    lines = [
        "| figure | measured | goal | met | note |",
        "|---|---|---|---|---|",
    ]
    for f in run.figures:
        unit = "" if f.unit == "x" else f.unit
        lines.append(
            f"| {_cell(f.title)} | {format_value(f.value, f.unit)} | {f.goal.text(unit)} "
            f"| {'—' if f.goal.op == 'info' else _met(f.met)} | {_cell(f.note)} |"
        )
    m = run.machine
    head = (
        f"Run of {run.started_at} ({run.seconds:.0f} s) on {m.get('cpu', '?')}, "
        f"{m.get('cores', '?')} cores, Python {m.get('python', '?')}, "
        f"load average at start {m.get('loadavg', '?')}."
    )
    return head + "\n\n" + "\n".join(lines) + "\n"


def write_results(run: Run, directory: Path) -> tuple[Path, Path]:
    """Write ``latest.json`` and ``latest.md`` into ``directory``; return their paths."""
    directory.mkdir(parents=True, exist_ok=True)
    json_path = directory / "latest.json"
    md_path = directory / "latest.md"
    json_path.write_text(json.dumps(run.as_dict(), indent=2, sort_keys=False) + "\n")
    md_path.write_text(markdown(run))
    return json_path, md_path
