"""A doctor run's findings: grouped by section, rendered as text or JSON, turned into an exit code.

Exit codes: 0 when nothing failed (warnings allowed), 1 when a check failed (or, with
``strict``, warned), 2 when the configuration itself does not load.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Literal

from gateway.capability import Finding

__all__ = ["EXIT_CONFIG", "EXIT_FAILED", "EXIT_OK", "Preview", "Report", "Section"]

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_CONFIG = 2
_MARK = {"ok": "ok  ", "warn": "WARN", "fail": "FAIL"}


@dataclass(slots=True)
class Section:
    title: str
    findings: list[Finding] = field(default_factory=list)

    def add(self, status: Literal["ok", "warn", "fail"], subject: str, code: str, msg: str) -> None:
        self.findings.append(Finding(status, subject, code, msg))


@dataclass(slots=True)
class Preview:
    """What one principal's policy admits today: one row per allowed tool."""

    principal: dict[str, Any]
    #: (tools, rule id, {kind: names}) per rule that lets this principal call tools; ``None``
    #: when nothing is known (no probe for the capability, or its upstream check failed).
    rows: list[tuple[str, str, dict[str, list[str]] | None]] = field(default_factory=list)


@dataclass(slots=True)
class Report:
    sections: list[Section] = field(default_factory=list)
    preview: Preview | None = None
    config_error: bool = False

    def section(self, title: str) -> Section:
        section = Section(title)
        self.sections.append(section)
        return section

    def findings(self) -> list[Finding]:
        return [f for s in self.sections for f in s.findings]

    def exit_code(self, *, strict: bool = False) -> int:
        if self.config_error:
            return EXIT_CONFIG
        bad = {"fail", "warn"} if strict else {"fail"}
        return EXIT_FAILED if any(f.status in bad for f in self.findings()) else EXIT_OK

    def as_json(self, *, strict: bool = False) -> str:
        doc: dict[str, Any] = {
            "exit_code": self.exit_code(strict=strict),
            "sections": [
                {
                    "title": s.title,
                    "findings": [_finding(f) for f in s.findings],
                }
                for s in self.sections
            ],
        }
        if self.preview is not None:
            doc["preview"] = {
                "principal": self.preview.principal,
                "rules": [
                    {"tools": tools.split(", "), "rule": rule, "admits": admits}
                    for tools, rule, admits in self.preview.rows
                ],
            }
        return json.dumps(doc, indent=2, sort_keys=True)

    def as_text(self) -> str:
        lines: list[str] = []
        for s in self.sections:
            lines.append(f"== {s.title}")
            for f in s.findings:
                lines.append(f"  {_MARK[f.status]} {f.subject}: {f.message} [{f.code}]")
        if self.preview is not None:
            lines.extend(_preview_table(self.preview))
        counts = {k: sum(1 for f in self.findings() if f.status == k) for k in _MARK}
        lines.append(f"{counts['ok']} ok, {counts['warn']} warnings, {counts['fail']} failed")
        return "\n".join(lines)


def _finding(f: Finding) -> dict[str, str]:
    return {"status": f.status, "subject": f.subject, "code": f.code, "message": f.message}


def _preview_table(preview: Preview) -> list[str]:
    who = ", ".join(f"{k}={v}" for k, v in sorted(preview.principal.items()))
    lines = [f"== scope preview for {who}"]
    if not preview.rows:
        return [*lines, "  no tool: the policy admits nothing for this principal"]
    rows = [("tools", "rule", "admits today")]
    for tool, rule, admits in preview.rows:
        rows.append((tool, rule, _admits_text(admits)))
    widths = [max(len(r[i]) for r in rows) for i in range(2)]
    for tool, rule, text in rows:
        lines.append(f"  {tool:<{widths[0]}}  {rule:<{widths[1]}}  {text}")
    return lines


def _admits_text(admits: dict[str, list[str]] | None) -> str:
    if admits is None:
        return "(not known: no probe, or the upstream check failed)"
    text = "; ".join(f"{k}: {', '.join(v) if v else '(none)'}" for k, v in admits.items())
    return text or "(nothing to list)"
