"""From an upstream JSON body to the tool's typed result: projection, types, scope, caps.

The JMESPath projection picks and renames; only declared fields survive; each record is then
validated against the generated model (strict types), so an upstream that answers with the
wrong shape is an error, not a half-empty result. The scope's ``match`` is checked on every
record. Item and text caps cut the result and mark it partial.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import jmespath
from jmespath.exceptions import JMESPathError
from pydantic import BaseModel, ValidationError

from .schemas import DeclarativeScope, Scalar, ToolDef

__all__ = ["OutsideScope", "Projected", "WrongShape", "project"]

TRUNCATION_MARK = "…"


class WrongShape(Exception):
    """The body does not have the shape the tool declares (message for logs only)."""


class OutsideScope(Exception):
    """The one record an object-shaped tool found is outside the policy scope."""


@dataclass(slots=True)
class Projected:
    output: BaseModel
    partial: bool
    dropped: int  # records removed because the scope does not admit them


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _admitted(record: dict[str, Any], match: dict[str, list[Scalar]]) -> bool:
    for name, allowed in match.items():
        value = record.get(name)
        if value is None or isinstance(value, dict | list):
            return False
        if _text(value) not in {_text(a) for a in allowed}:
            return False
    return True


def _record(defn: ToolDef, raw: Any, model: type[BaseModel], where: str) -> tuple[BaseModel, bool]:
    if not isinstance(raw, dict):
        raise WrongShape(f"{where}: projection gave {type(raw).__name__}, not an object")
    cut = False
    picked: dict[str, Any] = {}
    for name, spec in defn.fields.items():
        value = raw.get(name)
        if isinstance(value, str) and len(value) > spec.max_chars:
            value, cut = value[: spec.max_chars] + TRUNCATION_MARK, True
        picked[name] = value
    try:
        return model.model_validate(picked), cut
    except ValidationError as exc:
        first = exc.errors(include_input=False, include_url=False)[0]
        loc = ".".join(str(p) for p in first["loc"])
        raise WrongShape(f"{where}.{loc}: {first['msg']}") from None


def project(
    defn: ToolDef,
    body: Any,
    record_model: type[BaseModel],
    output_model: type[BaseModel],
    scope: DeclarativeScope | None,
) -> Projected:
    try:
        value = jmespath.search(defn.response.projection, body)
    except JMESPathError as exc:  # runtime type errors of functions, e.g. join on a number
        raise WrongShape(f"projection failed: {type(exc).__name__}") from None
    match = scope.match if scope is not None else {}
    if defn.response.shape == "object":
        if value is None:
            raise WrongShape("projection gave nothing")
        if match and not _admitted(value if isinstance(value, dict) else {}, match):
            raise OutsideScope()
        record, cut = _record(defn, value, record_model, "result")
        return Projected(record, cut, 0)
    if not isinstance(value, list):
        raise WrongShape(f"projection gave {type(value).__name__}, not a list")
    kept: list[BaseModel] = []
    partial = dropped = 0
    for i, raw in enumerate(value):
        if isinstance(raw, dict) and match and not _admitted(raw, match):
            dropped += 1
            continue
        if len(kept) >= defn.response.max_items:
            partial = True
            break
        record, cut = _record(defn, raw, record_model, f"items[{i}]")
        kept.append(record)
        partial = partial or cut
    output = output_model(items=kept, partial=bool(partial))
    return Projected(output, bool(partial), dropped)
