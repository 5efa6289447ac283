"""``labgate policy replay``: what a proposed policy set would have done to recorded calls.

``calls`` (an audit record read back as a call and its recorded outcome) · ``decide`` (one
call re-decided under the proposed set) · ``sources`` (the journal or PostgreSQL, one window)
· ``report`` (flips grouped by principal and tool, as a table or JSON, and the exit code) ·
``command`` (the CLI). The reference for operators is ``docs/policy.md``.
"""

from __future__ import annotations

from gateway.policy.replay.calls import RecordedCall, parse_call
from gateway.policy.replay.decide import Verdict, replay_call
from gateway.policy.replay.report import Report

__all__ = ["RecordedCall", "Report", "Verdict", "parse_call", "replay_call"]
