"""A tool's arguments from an untrusted JSON body: validated, never echoed back."""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from gateway.errors import InvalidArguments

__all__ = ["parse_arguments"]

M = TypeVar("M", bound=BaseModel)
MAX_ERRORS = 20


def parse_arguments(model: type[M], raw: Any) -> M:
    """The arguments as ``model``, or InvalidArguments locating each problem.

    Strict-mode tool exports make optional arguments nullable, so ``null`` for an optional
    argument means "use its default". Error entries carry location and message only: the
    input is never echoed (it may hold anything an agent was tricked into sending).
    """
    if not isinstance(raw, dict):
        raise InvalidArguments("The request body must be a JSON object of arguments.")
    fields = model.model_fields
    present = {
        k: v
        for k, v in raw.items()
        if not (v is None and k in fields and not fields[k].is_required())
    }
    try:
        return model.model_validate(present)
    except ValidationError as exc:
        raise InvalidArguments(errors=_errors(exc)) from None


def _errors(exc: ValidationError) -> list[dict[str, object]]:
    errors: list[dict[str, object]] = []
    for e in exc.errors(include_input=False, include_url=False)[:MAX_ERRORS]:
        errors.append(
            {"loc": ".".join(str(p) for p in e["loc"]), "msg": e["msg"], "type": e["type"]}
        )
    return errors
