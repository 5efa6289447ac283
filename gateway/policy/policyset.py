"""``PolicySet``: one loaded, fully validated policy directory (the data, not the loading).

Built by :func:`gateway.policy.loader.load_policy_dir`, read by the evaluator
(:mod:`gateway.policy.evaluate`), the store, the doctor and the CLI. Pure data: no I/O here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

from gateway.policy.index import ToolRules
from gateway.policy.model import CapabilityPolicy, GlobalPolicy

__all__ = ["PolicySet"]


@dataclass(frozen=True, slots=True)
class PolicySet:
    """One fully validated policy directory; replaced whole, never changed in place."""

    global_policy: GlobalPolicy
    capabilities: Mapping[str, CapabilityPolicy]
    version: str
    files: tuple[str, ...]
    #: Tool names of every capability that has a policy (the capability is on).
    tools: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    #: Validated scope objects: capability -> rule id -> scope model instance.
    scopes: Mapping[str, Mapping[str, BaseModel]] = field(default_factory=dict)
    #: Argument defaults: capability -> tool -> argument -> default (bounds apply to them).
    arg_defaults: Mapping[str, Mapping[str, Mapping[str, Any]]] = field(default_factory=dict)
    #: capability -> tool -> the rules that may apply (see gateway/policy/index.py).
    index: Mapping[str, Mapping[str, ToolRules]] = field(default_factory=dict)
    #: capability -> rule id -> ``tools`` as written, for rules with a glob (the rules
    #: themselves hold the expansion).
    globs: Mapping[str, Mapping[str, tuple[str, ...]]] = field(default_factory=dict)
