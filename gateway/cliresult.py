"""``CommandResult``: what a CLI command found, handed back to gateway/cli.py to show.

Commands compute; they never print or exit. ``gateway/cli.py`` writes ``lines`` to stdout
and returns ``exit_code`` (0 ok, 1 a problem found, 2 bad input or configuration), so a
command is tested by what it returns and can be reused (the doctor, the editor schema).
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["CommandResult"]


@dataclass(slots=True)
class CommandResult:
    lines: list[str] = field(default_factory=list)
    exit_code: int = 0
    #: Lines for standard error (bad input, a command that could not run).
    errors: list[str] = field(default_factory=list)

    def say(self, text: str) -> None:
        """One more line of output (may hold newlines)."""
        self.lines.append(text)

    def end(self, exit_code: int) -> CommandResult:
        self.exit_code = exit_code
        return self

    @property
    def text(self) -> str:
        """The output as printed: each line ended by a newline."""
        return "".join(f"{line}\n" for line in self.lines)
