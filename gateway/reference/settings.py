"""Every setting, walked from the pydantic models: key, default, meaning.

The meaning is the field's ``description``, else its ``#:`` comment in the model's source,
else :data:`gateway.reference.notes.SETTING_NOTES` (for longer operator text). A setting with
no meaning anywhere is an error: add a ``#:`` comment where the setting is declared.
"""

from __future__ import annotations

import inspect
import re
import types
from collections.abc import Iterator
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from .notes import SETTING_NOTES

__all__ = ["Setting", "settings"]

_COMMENT = re.compile(r"^\s*#:\s?(.*)$")
_FIELD = re.compile(r"^\s*(\w+)\s*:")


@dataclass(frozen=True, slots=True)
class Setting:
    key: str
    default: str
    meaning: str


def _comments(model: type[BaseModel]) -> dict[str, str]:
    """``#:`` comments above each field in the source of ``model`` and its bases."""
    out: dict[str, str] = {}
    for cls in reversed(model.__mro__):
        if not (isinstance(cls, type) and issubclass(cls, BaseModel)) or cls is BaseModel:
            continue
        try:
            lines = inspect.getsource(cls).splitlines()
        except (OSError, TypeError):
            continue
        pending: list[str] = []
        for line in lines:
            comment, field = _COMMENT.match(line), _FIELD.match(line)
            if comment:
                pending.append(comment.group(1).strip())
            elif field and pending:
                out[field.group(1)] = " ".join(pending).replace("``", "`")
                pending = []
            else:
                pending = []
    return out


def _models(annotation: Any) -> tuple[type[BaseModel] | None, bool]:
    """The model inside ``annotation`` (``X``, ``X | None``, ``dict[str, X]``), and if a dict."""
    origin = get_origin(annotation)
    if origin in (Union, types.UnionType):
        found = [a for a in get_args(annotation) if a is not type(None)]
        return _models(found[0]) if len(found) == 1 else (None, False)
    if origin is dict:
        inner, _ = _models(get_args(annotation)[1])
        return inner, inner is not None
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation, False
    return None, False


def _show(value: Any) -> str:
    if isinstance(value, Enum):
        value = value.value
    if isinstance(value, BaseModel):
        return "see below"
    if isinstance(value, Path):
        return f"`{value}`"
    if value is None:
        return "none"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, list | tuple):
        return "`[" + ", ".join(str(v) for v in value) + "]`"
    if isinstance(value, dict):
        return "`{}`" if not value else f"`{value}`"
    return f"`{value}`"


def _default(info: FieldInfo) -> str:
    if info.default is not PydanticUndefined:
        return _show(info.default)
    if info.default_factory is not None:
        return _show(info.default_factory())  # type: ignore[call-arg]
    return "required"


def _choices(annotation: Any) -> str:
    if get_origin(annotation) is Literal:
        return " One of " + ", ".join(f"`{a}`" for a in get_args(annotation)) + "."
    return ""


def walk(
    model: type[BaseModel], prefix: str = "", instance: BaseModel | None = None
) -> Iterator[Setting]:
    """``instance``: the parent's default value of this section (its values are the defaults)."""
    comments = _comments(model)
    for name, info in model.model_fields.items():
        key = f"{prefix}{name}"
        inner, is_map = _models(info.annotation)
        note = SETTING_NOTES.get(key)
        meaning = note or info.description or comments.get(name, "")
        default = _show(getattr(instance, name)) if instance is not None else _default(info)
        if inner is not None:
            yield Setting(key, "`{}`" if is_map else default, meaning)
            value = getattr(instance, name) if instance is not None else _value(info)
            section = value if isinstance(value, BaseModel) else None
            yield from walk(inner, f"{key}.<name>." if is_map else f"{key}.", section)
            continue
        yield Setting(key, default, meaning + ("" if note else _choices(info.annotation)))


def _value(info: FieldInfo) -> Any:
    if info.default is not PydanticUndefined:
        return info.default
    if info.default_factory is not None:
        return info.default_factory()  # type: ignore[call-arg]
    return None


def settings() -> list[Setting]:
    from gateway.settings import Settings

    return list(walk(Settings))
