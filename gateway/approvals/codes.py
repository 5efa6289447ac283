"""Stable codes of approval audit records (``kind: approval``).

``decision`` is the step; an ignored event carries one reason of :class:`Ignored`; a failed
proposal carries the applier's code or the gateway error code in ``error``.
"""

from __future__ import annotations

from enum import StrEnum

__all__ = ["Ignored", "Step"]


class Step(StrEnum):
    PROPOSED = "proposed"
    POSTED = "posted"
    APPROVED = "approved"
    DENIED = "denied"
    EXPIRED = "expired"
    APPLIED = "applied"
    FAILED = "failed"
    #: An approval event that changed nothing (forged, late, repeated, misplaced).
    IGNORED = "ignored"


class Ignored(StrEnum):
    NOT_AN_APPROVER = "not-an-approver"
    WRONG_ROOM = "wrong-room"
    REPLAYED_EVENT = "replayed-event"
    ALREADY_DECIDED = "already-decided"
    PROPOSAL_EXPIRED = "proposal-expired"
    UNKNOWN_PROPOSAL = "unknown-proposal"
    EDIT_IGNORED = "edit-ignored"
    ID_MISMATCH = "id-mismatch"
    POLICY_DENIES = "policy-denies"
