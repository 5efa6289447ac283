"""The declarative tool file format, the capability's config and its policy scope.

One YAML file in the configured directory defines one tool::

    name: declarative_ha_sensor_state           # prefixed with "declarative_", <= 40 chars
    title: Home Assistant sensor state
    description: Current state of one allowed Home Assistant sensor.
    upstream: homeassistant                     # an entry of the gateway's `upstreams:`
    request:
      path: /api/states/{entity_id}             # GET; each {arg} is one whole path segment
      query: {}                                 # static query parameters
    args:
      entity_id: {type: string, in: path, pattern: '^sensor\\.[a-z0-9_]+$', max_length: 80,
                  description: "Sensor entity id."}
    response:
      shape: object                             # object | list
      projection: "{entity_id: entity_id, state: state}"   # JMESPath
      max_items: 50
    fields:
      entity_id: {type: string}
      state: {type: string, untrusted: true}

The models here check one file on its own; ``loader.py`` checks the set (names, upstreams).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

import jmespath
from jmespath.exceptions import JMESPathError
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

__all__ = [
    "MAX_PATH_SEGMENTS",
    "PREFIX",
    "ArgDef",
    "DeclarativeConfig",
    "DeclarativeScope",
    "FieldDef",
    "RequestDef",
    "ResponseDef",
    "ToolDef",
]

PREFIX = "declarative_"
MAX_PATH_SEGMENTS = 16
_IDENT = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
_RESERVED = frozenset({"items", "partial", "next_cursor"})
#: Static path segment characters (RFC 3986 pchar without "%": no pre-encoded text).
_STATIC_SEGMENT = re.compile(r"^[A-Za-z0-9._~!$&'()*+,;=:@-]+$")
_PLACEHOLDER = re.compile(r"^\{([a-z][a-z0-9_]*)\}$")
_QUERY_NAME = re.compile(r"^[A-Za-z0-9_.\[\]-]{1,64}$")

Scalar = str | int | float | bool


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _check_ident(value: str, what: str) -> str:
    if not _IDENT.match(value) or value.startswith("model_"):
        raise ValueError(f"{what} {value!r} must be snake_case (a-z, 0-9, _), not model_*")
    return value


class ArgDef(_Strict):
    """One argument the agent passes; typed and bounded, never free text into a URL."""

    type: Literal["string", "integer", "number", "boolean"]
    description: str = Field(min_length=1, max_length=500)
    #: Where the value goes: one path segment, or one query parameter.
    location: Literal["path", "query"] = Field("query", alias="in")
    #: Name of the query parameter upstream (default: the argument's name).
    query_name: str | None = None
    required: bool = True
    default: Scalar | None = None
    #: Strings: a regular expression the whole value must match (required for strings).
    pattern: str | None = None
    #: Strings: the allowed values (instead of, or besides, ``pattern``).
    enum: list[str] | None = Field(None, min_length=1, max_length=100)
    max_length: int = Field(100, ge=1, le=200)
    minimum: int | float | None = None
    maximum: int | float | None = None
    #: Record field this argument filters on: the policy scope's ``match`` for that field
    #: limits the values allowed here and fills the argument in when the agent omits it.
    scope_field: str | None = None
    #: Query arguments filled from a scope with several values join them with this text.
    join: str | None = Field(None, min_length=1, max_length=3)

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"pattern does not compile: {exc}") from None
        return value

    @field_validator("query_name")
    @classmethod
    def _query_name(cls, value: str | None) -> str | None:
        if value is not None and not _QUERY_NAME.match(value):
            raise ValueError("query_name must be 1-64 of A-Z a-z 0-9 _ . [ ] -")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> ArgDef:
        if self.type == "string":
            if self.pattern is None and self.enum is None:
                raise ValueError("a string argument needs a pattern or an enum")
            if self.minimum is not None or self.maximum is not None:
                raise ValueError("minimum/maximum apply to numeric arguments only")
        elif self.pattern is not None or self.enum is not None:
            raise ValueError("pattern/enum apply to string arguments only")
        if self.type in ("integer", "number") and (self.minimum is None or self.maximum is None):
            raise ValueError("a numeric argument needs both minimum and maximum")
        if self.location == "path":
            if not self.required or self.default is not None:
                raise ValueError("a path argument is required and has no default")
            if self.query_name is not None or self.join is not None:
                raise ValueError("query_name/join apply to query arguments only")
        if self.default is not None and self.required:
            raise ValueError("an argument with a default is not required: set required: false")
        return self


class FieldDef(_Strict):
    """One field of a result record."""

    type: Literal["string", "integer", "number", "boolean"]
    description: str | None = Field(None, max_length=500)
    #: Free text from the upstream (names, messages): marked untrusted for the agent.
    untrusted: bool = False
    #: A required field missing or null means the upstream answered with the wrong shape.
    required: bool = False
    #: Strings longer than this are cut (and the result marked partial).
    max_chars: int = Field(500, ge=1, le=10_000)


class RequestDef(_Strict):
    path: str = Field(min_length=1, max_length=500)
    query: dict[str, Scalar] = Field(default_factory=dict, max_length=20)

    @field_validator("path")
    @classmethod
    def _path(cls, value: str) -> str:
        if not value.startswith("/") or value.startswith("//"):
            raise ValueError("path must start with a single '/'")
        segments = value[1:].split("/")
        if len(segments) > MAX_PATH_SEGMENTS:
            raise ValueError(f"path has more than {MAX_PATH_SEGMENTS} segments")
        for seg in segments:
            if _PLACEHOLDER.match(seg):
                continue
            if seg in (".", "..") or not _STATIC_SEGMENT.match(seg):
                raise ValueError(
                    f"path segment {seg[:40]!r}: use plain characters, no '%', '?', '#', "
                    "'\\' or dot segments; an argument fills a whole segment as {name}"
                )
        return value

    @field_validator("query")
    @classmethod
    def _query(cls, value: dict[str, Scalar]) -> dict[str, Scalar]:
        for name, item in value.items():
            if not _QUERY_NAME.match(name):
                raise ValueError(f"query parameter name {name[:40]!r} is not allowed")
            if isinstance(item, str) and any(ord(c) < 0x20 or ord(c) == 0x7F for c in item):
                raise ValueError(f"query parameter {name} has control characters")
        return value

    def placeholders(self) -> list[str]:
        out = []
        for seg in self.path[1:].split("/"):
            found = _PLACEHOLDER.match(seg)
            if found:
                out.append(found.group(1))
        return out


class ResponseDef(_Strict):
    shape: Literal["object", "list"]
    #: JMESPath expression applied to the JSON body; gives an object or a list of objects.
    projection: str = Field(min_length=1, max_length=2000)
    #: Records kept at most (the rest is cut and the result marked partial).
    max_items: int = Field(50, ge=1, le=500)
    #: Largest upstream body this tool accepts, in bytes (the upstream's own cap also holds).
    max_bytes: int = Field(1_048_576, ge=1024, le=8_388_608)
    #: Upstream 4xx statuses with a meaning: "not_found" (404 -> no such item) or
    #: "invalid_arguments" (the upstream refused the argument values).
    statuses: dict[int, Literal["not_found", "invalid_arguments"]] = Field(default_factory=dict)

    @field_validator("projection")
    @classmethod
    def _compiles(cls, value: str) -> str:
        try:
            jmespath.compile(value)
        except JMESPathError as exc:
            raise ValueError(f"projection is not valid JMESPath: {exc}") from None
        return value

    @field_validator("statuses")
    @classmethod
    def _four_xx(cls, value: dict[int, str]) -> dict[int, str]:
        for status in value:
            if not 400 <= status < 500 or status in (401, 403, 407):
                raise ValueError(f"status {status}: only 4xx other than 401/403/407 map")
        return value


class ToolDef(_Strict):
    """One declarative tool: one file."""

    name: str = Field(min_length=len(PREFIX) + 1, max_length=40)
    title: str = Field(min_length=1, max_length=80)
    description: str = Field(min_length=1, max_length=1000)
    upstream: str = Field(pattern=r"^[a-z][a-z0-9_-]{0,39}$")
    request: RequestDef
    args: dict[str, ArgDef] = Field(default_factory=dict, max_length=20)
    response: ResponseDef
    fields: dict[str, FieldDef] = Field(min_length=1, max_length=50)

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not value.startswith(PREFIX) or not re.match(r"^[a-z][a-z0-9]*(_[a-z0-9]+)*$", value):
            raise ValueError(f"name must be snake_case and start with {PREFIX!r}")
        return value

    @field_validator("args", "fields")
    @classmethod
    def _names(cls, value: dict[str, object]) -> dict[str, object]:
        for key in value:
            _check_ident(key, "name")
            if key in _RESERVED:
                raise ValueError(f"name {key!r} is reserved")
        return value

    @model_validator(mode="after")
    def _wired(self) -> ToolDef:
        placeholders = self.request.placeholders()
        if len(set(placeholders)) != len(placeholders):
            raise ValueError("a path argument appears twice in the path")
        path_args = {n for n, a in self.args.items() if a.location == "path"}
        if set(placeholders) != path_args:
            raise ValueError(
                "every {placeholder} must be an argument with in: path, and every path "
                f"argument must appear in the path (path: {sorted(placeholders)}, "
                f"args: {sorted(path_args)})"
            )
        names = [a.query_name or n for n, a in self.args.items() if a.location == "query"]
        clash = (set(names) & set(self.request.query)) or len(set(names)) != len(names)
        if clash:
            raise ValueError("a query parameter is set twice (static query and arguments)")
        for name, arg in self.args.items():
            if arg.scope_field is not None and arg.scope_field not in self.fields:
                raise ValueError(f"args.{name}.scope_field names no declared field")
        return self


class DeclarativeConfig(_Strict):
    """``capabilities.declarative`` in gateway.yaml."""

    #: Directory of tool files (``*.yaml``); unset: the examples shipped with labgate.
    directory: Path | None = None


class DeclarativeScope(_Strict):
    """Policy ``scope`` for declarative tools.

    ``match: {camera: [front_door, driveway]}`` keeps only records whose ``camera`` field is
    one of the listed values; arguments declaring ``scope_field: camera`` are limited to them.
    """

    match: dict[str, list[Scalar]] = Field(default_factory=dict, max_length=20)

    @field_validator("match")
    @classmethod
    def _non_empty(cls, value: dict[str, list[Scalar]]) -> dict[str, list[Scalar]]:
        for name, allowed in value.items():
            _check_ident(name, "field")
            if not allowed:
                raise ValueError(f"match.{name} lists no value")
        return value
