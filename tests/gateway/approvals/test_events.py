"""What a Matrix event means for approvals (pure reading, no server)."""

from __future__ import annotations

from typing import Any

import pytest

from gateway.approvals.events import read_event
from gateway.approvals.matrix import RoomEvent

ME = "@labgate:lab"
POST = "$post"


def event(kind: str, content: dict[str, Any], sender: str = "@owner:lab") -> RoomEvent:
    return RoomEvent("!room", "$e", sender, kind, content)


def reaction(key: str, target: str = POST) -> RoomEvent:
    relates = {"rel_type": "m.annotation", "event_id": target, "key": key}
    return event("m.reaction", {"m.relates_to": relates})


def message(body: str, reply_to: str | None = None, **extra: Any) -> RoomEvent:
    content: dict[str, Any] = {"msgtype": "m.text", "body": body, **extra}
    if reply_to:
        content["m.relates_to"] = {"m.in_reply_to": {"event_id": reply_to}}
    return event("m.room.message", content)


@pytest.mark.parametrize(
    ("key", "verdict"), [("✅", "approve"), ("✅\ufe0f", "approve"), ("❌", "deny")]
)
def test_check_and_cross_reactions_are_verdicts(key: str, verdict: str) -> None:
    signal = read_event(reaction(key), ME)
    assert signal is not None and signal.kind == "verdict"
    assert signal.verdict == verdict and signal.target_event == POST


@pytest.mark.parametrize("key", ["👍", "✔", "ok", "✅✅"])
def test_other_reactions_mean_nothing(key: str) -> None:
    assert read_event(reaction(key), ME) is None


def test_a_reply_command_skips_the_quoted_fallback() -> None:
    body = "> <@labgate:lab> labgate proposal abc: deny this?\n\napprove"
    signal = read_event(message(body, reply_to=POST), ME)
    assert signal is not None and signal.verdict == "approve" and signal.target_event == POST


def test_a_command_naming_a_proposal_needs_no_reply() -> None:
    signal = read_event(message("deny 3f2a9c0d1e2b4a5c"), ME)
    assert signal is not None and signal.verdict == "deny"
    assert signal.proposal_id == "3f2a9c0d1e2b4a5c" and signal.target_event is None


@pytest.mark.parametrize(
    "body",
    [
        "approve",  # neither a reply nor naming a proposal
        "I approve of this",  # prose
        "please approve 3f2a9c0d1e2b4a5c now",
        "> approve 3f2a9c0d1e2b4a5c",  # only quoted text
    ],
)
def test_prose_and_bare_words_are_not_commands(body: str) -> None:
    assert read_event(message(body), ME) is None


def test_an_edit_is_never_a_verdict() -> None:
    extra: dict[str, Any] = {
        "m.new_content": {"msgtype": "m.text", "body": "approve 3f2a9c0d1e2b4a5c"},
        "m.relates_to": {"rel_type": "m.replace", "event_id": "$old"},
    }
    edit = message("* approve 3f2a9c0d1e2b4a5c", **extra)
    signal = read_event(edit, ME)
    assert signal is not None and signal.kind == "edit" and signal.verdict is None


def test_labgates_own_messages_are_skipped() -> None:
    own = RoomEvent("!room", "$e", ME, "m.room.message", {"body": "approve 3f2a9c0d1e2b4a5c"})
    assert read_event(own, ME) is None


def test_encryption_turned_on_is_noticed() -> None:
    enc = RoomEvent("!room", "$e", "@owner:lab", "m.room.encryption", {}, state_key="")
    signal = read_event(enc, ME)
    assert signal is not None and signal.kind == "encryption"
