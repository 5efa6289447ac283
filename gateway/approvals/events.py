"""What a Matrix event means for approvals: a pure reading, no I/O.

Counted as a verdict:

* a reaction (``m.reaction``, ``m.annotation``) whose key is ✅ (approve) or ❌ (deny), on
  the message labgate posted for a proposal;
* a message whose first line (the reply fallback's ``> `` lines skipped) is ``approve`` or
  ``deny``, optionally followed by the proposal id, sent as a reply to labgate's post or
  naming the proposal id.

Never counted: edits (``m.replace``: the first version was already read or ignored),
redactions (a decision is not undone by hiding its event), anything else. Which proposal and
which change is applied is decided by labgate's store, never by the text of a message.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

from gateway.approvals.matrix import RoomEvent

__all__ = ["Signal", "read_event"]

APPROVE_KEYS = frozenset({"✅"})
DENY_KEYS = frozenset({"❌"})
_COMMAND = re.compile(r"^\s*!?(approve|deny)\b\s*([A-Za-z0-9_-]{1,64})?\s*$", re.IGNORECASE)

Verdict = Literal["approve", "deny"]


@dataclass(frozen=True, slots=True)
class Signal:
    kind: Literal["verdict", "edit", "encryption"]
    event: RoomEvent
    verdict: Verdict | None = None
    #: The labgate post the event relates to (reaction target or reply parent).
    target_event: str | None = None
    #: The proposal id named in a command.
    proposal_id: str | None = None


def _key(raw: str) -> str:
    return raw.replace("\ufe0f", "").strip()


def _relates(content: dict[str, Any]) -> dict[str, Any]:
    rel = content.get("m.relates_to")
    return rel if isinstance(rel, dict) else {}


def read_event(event: RoomEvent, own_user: str | None) -> Signal | None:
    """The approval meaning of one event, or ``None`` when it has none."""
    if event.type == "m.room.encryption" and event.state_key == "":
        return Signal("encryption", event)
    if own_user is not None and event.sender == own_user:
        return None
    if event.type == "m.reaction":
        return _reaction(event)
    if event.type == "m.room.message":
        return _message(event)
    return None


def _reaction(event: RoomEvent) -> Signal | None:
    rel = _relates(event.content)
    target, key = rel.get("event_id"), rel.get("key")
    if rel.get("rel_type") != "m.annotation" or not isinstance(target, str):
        return None
    if not isinstance(key, str):
        return None
    key = _key(key)
    if key in APPROVE_KEYS:
        return Signal("verdict", event, "approve", target)
    if key in DENY_KEYS:
        return Signal("verdict", event, "deny", target)
    return None


def _message(event: RoomEvent) -> Signal | None:
    body = event.content.get("body")
    if not isinstance(body, str):
        return None
    rel = _relates(event.content)
    lines = [line for line in body.splitlines() if line.strip() and not line.startswith(">")]
    if not lines:
        return None
    first = lines[0]
    if first.startswith("* "):  # the fallback body of an edit
        first = first[2:]
    match = _COMMAND.match(first)
    if match is None:
        return None
    if rel.get("rel_type") == "m.replace" or "m.new_content" in event.content:
        return Signal("edit", event)
    verdict: Verdict = "approve" if match[1].lower() == "approve" else "deny"
    reply = rel.get("m.in_reply_to")
    target = reply.get("event_id") if isinstance(reply, dict) else None
    if not isinstance(target, str):
        target = None
    if target is None and match[2] is None:
        return None  # neither a reply to a proposal nor naming one: not for labgate
    return Signal("verdict", event, verdict, target, match[2])
