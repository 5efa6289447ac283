"""Per-tool rule index of one capability policy, built once when the set is loaded.

For every tool it keeps, in file order, the positions of the rules that name the tool, split by
the ``who.clients`` they require, and the tool's redaction list. The evaluator then looks only
at rules that could match the caller's client; a rule left out could not have matched (its
``who.clients`` does not name the caller), so decisions are unchanged.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from gateway.policy.model import CapabilityPolicy

__all__ = ["ToolRules", "build_index"]


@dataclass(frozen=True, slots=True)
class ToolRules:
    redact: tuple[str, ...]
    #: Rules (positions) a caller with this client may match: its own plus ``any_client``.
    by_client: Mapping[str, tuple[int, ...]]
    #: Rules naming the tool without a ``who.clients`` key.
    any_client: tuple[int, ...]
    total: int

    def candidates(self, client: str | None) -> tuple[int, ...]:
        if client is None:
            return self.any_client
        return self.by_client.get(client, self.any_client)


def _clients(policy: CapabilityPolicy, position: int) -> list[str] | None:
    who = policy.rules[position].who
    return None if who is None else who.clients


def build_index(policy: CapabilityPolicy, tools: Iterable[str]) -> dict[str, ToolRules]:
    out: dict[str, ToolRules] = {}
    for tool in tools:
        named = [i for i, r in enumerate(policy.rules) if r.applies_to(tool)]
        redact = sorted({n for i in named for n in policy.rules[i].redact or ()})
        anyone = tuple(i for i in named if _clients(policy, i) is None)
        clients: dict[str, list[int]] = {}
        for i in named:
            for c in _clients(policy, i) or ():
                clients.setdefault(c, []).append(i)
        by_client = {c: tuple(sorted(set(p) | set(anyone))) for c, p in clients.items()}
        out[tool] = ToolRules(tuple(redact), by_client, anyone, len(policy.rules))
    return out
