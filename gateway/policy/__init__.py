"""Policies: YAML files that say who may call which tool, with which bounds and obligations.

``model`` (file shape) · ``bind`` (checked against the registry) · ``loader`` (directory ->
:class:`PolicySet`) · ``evaluate`` (the pure decision) · ``store`` (reload) · ``commands``
(``labgate policy ...``). The reference for operators is ``docs/policy.md``.
"""

from __future__ import annotations

from gateway.policy.evaluate import (
    NOT_PERMITTED,
    CallRequest,
    Decision,
    Obligations,
    allowed_tools,
    capability_for_tool,
    evaluate,
)
from gateway.policy.loader import PolicyLoadError, load_policy_dir
from gateway.policy.policyset import PolicySet
from gateway.policy.reasons import Reason
from gateway.policy.store import PolicyStore, ReloadEvent

__all__ = [
    "NOT_PERMITTED",
    "CallRequest",
    "Decision",
    "Obligations",
    "PolicyLoadError",
    "PolicySet",
    "PolicyStore",
    "Reason",
    "ReloadEvent",
    "allowed_tools",
    "capability_for_tool",
    "evaluate",
    "load_policy_dir",
]
