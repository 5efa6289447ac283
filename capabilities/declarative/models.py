"""Pydantic models built from a tool definition: the agent's arguments and the result.

Arguments are strict, bounded and ``extra="forbid"``; strings must match their pattern as a
whole (``re.fullmatch``, so ``$`` never admits a trailing newline). Records are typed from the
declared fields, free text marked :data:`~gateway.capability.UntrustedText`, so the policy
binder can check ``result.fields`` and ``truncate`` against them.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, create_model

from gateway.capability import UntrustedText

from .schemas import ArgDef, FieldDef, ToolDef

__all__ = ["args_model", "model_prefix", "output_model", "record_model"]

_TYPES: dict[str, type[Any]] = {"string": str, "integer": int, "number": float, "boolean": bool}


def model_prefix(name: str) -> str:
    """``declarative_ha_sensor_state`` -> ``DeclarativeHaSensorState``."""
    return "".join(part.capitalize() for part in name.split("_"))


def _full_match(pattern: str) -> AfterValidator:
    compiled = re.compile(pattern)

    def check(value: str) -> str:
        if compiled.fullmatch(value) is None:
            raise ValueError("the value does not match the required pattern")
        return value

    return AfterValidator(check)


def _arg_annotation(arg: ArgDef) -> Any:
    if arg.type == "string":
        base: Any = Literal[tuple(arg.enum)] if arg.enum else str
        extra: list[Any] = []
        if arg.pattern is not None:
            extra.append(_full_match(arg.pattern))
        field = Field(
            description=arg.description,
            max_length=None if arg.enum else arg.max_length,
            min_length=None if arg.enum else 1,
            pattern=None if arg.enum else _anchored(arg.pattern),
        )
        return Annotated[base, field, *extra]
    if arg.type == "boolean":
        return Annotated[bool, Field(description=arg.description)]
    base = int if arg.type == "integer" else float
    return Annotated[base, Field(description=arg.description, ge=arg.minimum, le=arg.maximum)]


def _anchored(pattern: str | None) -> str | None:
    if pattern is None:
        return None
    return pattern if pattern.startswith("^") and pattern.endswith("$") else f"^(?:{pattern})$"


def args_model(defn: ToolDef) -> type[BaseModel]:
    fields: dict[str, Any] = {}
    for name, arg in defn.args.items():
        annotation = _arg_annotation(arg)
        if arg.required:
            fields[name] = (annotation, ...)
        else:
            fields[name] = (annotation | None, arg.default)
    config = ConfigDict(extra="forbid", strict=True, regex_engine="python-re")
    model: type[BaseModel] = create_model(
        model_prefix(defn.name) + "Args", __config__=config, **fields
    )
    return model


def _field_annotation(spec: FieldDef) -> Any:
    if spec.type == "string" and spec.untrusted:
        base: Any = UntrustedText
    else:
        base = _TYPES[spec.type]
    if spec.required:
        return (Annotated[base, Field(description=spec.description)], ...)
    return (Annotated[base | None, Field(description=spec.description)], None)


def record_model(defn: ToolDef) -> type[BaseModel]:
    fields = {name: _field_annotation(spec) for name, spec in defn.fields.items()}
    suffix = "Record" if defn.response.shape == "list" else "Result"
    config = ConfigDict(extra="forbid", strict=True)
    model: type[BaseModel] = create_model(
        model_prefix(defn.name) + suffix, __config__=config, **fields
    )
    return model


def output_model(defn: ToolDef, record: type[BaseModel]) -> type[BaseModel]:
    """The tool's output: the record itself (object shape) or ``{items, partial}``."""
    if defn.response.shape == "object":
        return record
    model: type[BaseModel] = create_model(
        model_prefix(defn.name) + "Result",
        __config__=ConfigDict(extra="forbid"),
        items=(list[record], Field(description="The records, newest or first first.")),  # type: ignore[valid-type]
        partial=(bool, Field(False, description="True when records were cut by a cap.")),
    )
    return model
