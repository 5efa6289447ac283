"""Replay results grouped by principal and tool, printed as a table or JSON, and the exit code.

``--fail-on widen`` fails on calls the proposed set would allow that were denied, and on calls
allowed by another rule or under other obligations (their grant changed: it may be wider);
``--fail-on any`` also on calls that would now be denied. Undecidable calls fail both, unless
``--allow-undecidable``: what cannot be decided cannot be shown not to widen.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, TextIO

from gateway.capability import Principal
from gateway.policy.outcome import Change, Outcome
from gateway.policy.replay.decide import Verdict

__all__ = ["FailOn", "Group", "Report"]

FailOn = Literal["widen", "any"]
#: Changes ``--fail-on widen`` fails on.
WIDENING = frozenset({Change.WIDEN, Change.RULE, Change.OBLIGATIONS})


def principal_label(p: Principal) -> str:
    who = p.client_id or "-"
    return f"{who}/{p.username or p.sub}"


def _side(o: Outcome | None) -> str:
    if o is None:
        return "?"
    return ("allow" if o.allowed else "deny") + (f" ({o.rule_id})" if o.rule_id else "")


@dataclass
class Group:
    principal: str
    tool: str
    #: The change (``widen``, ``narrow``, ``rule``, ``obligations``) or ``undecidable``.
    change: str
    before: str
    after: str
    why: str | None = None
    calls: int = 0
    first: datetime | None = None
    last: datetime | None = None
    example: str = ""

    def add(self, verdict: Verdict) -> None:
        when = verdict.call.time
        self.calls += 1
        self.example = self.example or verdict.call.event_id
        self.first = when if self.first is None else min(self.first, when)
        self.last = when if self.last is None else max(self.last, when)

    def as_json(self) -> dict[str, Any]:
        return {
            "principal": self.principal,
            "tool": self.tool,
            "change": self.change,
            "before": self.before,
            "after": self.after,
            "why": self.why,
            "calls": self.calls,
            "first": self.first.isoformat() if self.first else None,
            "last": self.last.isoformat() if self.last else None,
            "example_event_id": self.example,
        }


@dataclass
class Report:
    proposed_version: str
    since: datetime
    baseline_version: str | None = None
    records: int = 0
    decided: int = 0
    unchanged: int = 0
    groups: dict[tuple[str, ...], Group] = field(default_factory=dict)

    def count_record(self) -> None:
        self.records += 1

    def add(self, verdict: Verdict) -> None:
        self.decided += 1
        if verdict.undecidable is None and verdict.change is None:
            self.unchanged += 1
            return
        kind = "undecidable" if verdict.change is None else str(verdict.change)
        key = (
            principal_label(verdict.call.principal),
            verdict.call.tool,
            kind,
            _side(verdict.call.outcome),
            _side(verdict.after),
            verdict.undecidable or "",
        )
        group = self.groups.get(key)
        if group is None:
            group = self.groups[key] = Group(*key[:5], why=verdict.undecidable)
        group.add(verdict)

    def extend(self, verdicts: Iterable[Verdict]) -> None:
        for v in verdicts:
            self.add(v)

    def count(self, kind: str) -> int:
        return sum(g.calls for g in self.groups.values() if g.change == kind)

    def sorted_groups(self) -> list[Group]:
        return sorted(self.groups.values(), key=lambda g: (g.principal, g.tool, g.change))

    def exit_code(self, fail_on: FailOn | None, allow_undecidable: bool) -> int:
        if fail_on is None:
            return 0
        kinds = {str(c) for c in (WIDENING if fail_on == "widen" else Change)}
        if not allow_undecidable:
            kinds.add("undecidable")
        return 1 if any(g.change in kinds for g in self.groups.values()) else 0

    def as_json(self) -> dict[str, Any]:
        return {
            "proposed": self.proposed_version,
            "baseline": self.baseline_version,
            "since": self.since.isoformat(),
            "records": self.records,
            "decided": self.decided,
            "unchanged": self.unchanged,
            "counts": {k: self.count(k) for k in [*(str(c) for c in Change), "undecidable"]},
            "groups": [g.as_json() for g in self.sorted_groups()],
        }

    def print_json(self, out: TextIO) -> None:
        print(json.dumps(self.as_json(), indent=2, sort_keys=True), file=out)

    def print_table(self, out: TextIO) -> None:
        counts = ", ".join(f"{k} {self.count(k)}" for k in self.as_json()["counts"])
        print(
            f"replay of policy {self.proposed_version} on calls since "
            f"{self.since.isoformat(timespec='seconds')}: {self.records} call records, "
            f"{self.decided} decided by policy then, {self.unchanged} unchanged; {counts}",
            file=out,
        )
        if self.baseline_version:
            print(f"obligations compared against {self.baseline_version}", file=out)
        rows = [("principal", "tool", "change", "then", "proposed", "calls", "last")]
        for g in self.sorted_groups():
            last = g.last.isoformat(timespec="seconds") if g.last else "-"
            after = g.after if g.why is None else f"? {g.why}"
            rows.append((g.principal, g.tool, g.change, g.before, after, str(g.calls), last))
        if len(rows) == 1:
            print("no call flips", file=out)
            return
        widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]) - 1)]
        for r in rows:
            cells = [c.ljust(w) for c, w in zip(r, widths, strict=False)]
            print("  ".join([*cells, r[-1]]).rstrip(), file=out)
