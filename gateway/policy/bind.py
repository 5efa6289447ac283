"""Check a parsed capability policy against the registry: tools, arguments, records, scope.

A rule that names an unknown tool, argument, scope key or result field is a load error, as
is a bound that does not fit its argument's type (``max`` on a string, ``pattern`` on a
number). A rule listing several tools may name an argument or record field that at least one
of them has; a bound applies to the calls whose arguments carry it.

A ``tools`` entry with ``*``, ``?`` or ``[`` is a glob: it expands to the capability's own
tools that match it when the set loads (never to another capability's tool), and one that
matches none is a load error. An unknown tool name is an error that suggests the nearest
names and lists the capability's tools.
"""

from __future__ import annotations

import difflib
import enum
import types
from collections.abc import Mapping
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError

from gateway.capability import Capability, Tool
from gateway.errors import PolicyError
from gateway.policy.model import ArgBound, CapabilityPolicy, Rule, is_glob
from gateway.policy.yamlsrc import YamlDoc, pydantic_problems

__all__ = ["Bound", "bind_policy", "kinds"]


@dataclass(slots=True)
class Bound:
    """What binding found: validated scopes by rule id, expanded tools, and the problems."""

    scopes: dict[str, BaseModel] = field(default_factory=dict)
    #: Rule position -> its ``tools`` with every glob expanded (``["*"]`` stays as is).
    tools: dict[int, list[str]] = field(default_factory=dict)
    problems: list[PolicyError] = field(default_factory=list)


def kinds(annotation: Any) -> set[str]:
    """The value kinds an annotation admits: number, string, bool, list, other."""
    origin = get_origin(annotation)
    if origin is Annotated:
        return kinds(get_args(annotation)[0])
    if origin in (Union, types.UnionType):
        out: set[str] = set()
        for arg in get_args(annotation):
            if arg is not type(None):
                out |= kinds(arg)
        return out
    if origin is Literal:
        return {_scalar_kind(v) for v in get_args(annotation)}
    if origin in (list, tuple, set, frozenset):
        return {"list"}
    if annotation is bool:
        return {"bool"}
    if isinstance(annotation, type):
        if issubclass(annotation, bool):
            return {"bool"}
        if issubclass(annotation, int | float):
            return {"number"}
        if issubclass(annotation, str):
            return {"string"}
        if issubclass(annotation, enum.Enum):
            return {_scalar_kind(m.value) for m in annotation}
    return {"other"}


def _scalar_kind(value: object) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "other"


def _item_kinds(annotation: Any) -> set[str]:
    """Kinds of a list argument's items (for ``one_of`` on list arguments)."""
    origin = get_origin(annotation)
    if origin is Annotated:
        return _item_kinds(get_args(annotation)[0])
    if origin in (Union, types.UnionType):
        out: set[str] = set()
        for arg in get_args(annotation):
            out |= _item_kinds(arg)
        return out
    if origin in (list, tuple, set, frozenset):
        out = set()
        for arg in get_args(annotation):
            if arg is not Ellipsis:
                out |= kinds(arg)
        return out
    return set()


def _bound_problem(bound: ArgBound, annotation: Any) -> str | None:
    k = kinds(annotation)
    # list arguments: pattern and one_of apply to each item
    items = k | _item_kinds(annotation) if "list" in k else k
    if (bound.min is not None or bound.max is not None) and "number" not in k:
        return "min/max apply to numeric arguments only"
    if bound.max_length is not None and not k & {"string", "list"}:
        return "max_length applies to text or list arguments only"
    if bound.pattern is not None and "string" not in items:
        return "pattern applies to text arguments only"
    for item in bound.one_of or []:
        if _scalar_kind(item) not in items:
            return f"one_of value {item!r} does not fit the argument's type"
    return None


def _arg_fields(tools: list[Tool[Any, Any]], name: str) -> list[Any]:
    fields = [t.args_model.model_fields.get(name) for t in tools]
    return [f.annotation for f in fields if f is not None]


def _record_fields(tools: list[Tool[Any, Any]]) -> set[str]:
    out: set[str] = set()
    for t in tools:
        out |= set(t.record_model.model_fields)
    return out


def _unknown_tool(name: str, cap: Capability, others: Mapping[str, Capability]) -> str:
    names = [t.name for t in cap.tools]
    message = f"unknown tool {name} in capability {cap.name}"
    owner = next((c.name for c in others.values() if c.tool(name) is not None), None)
    close = difflib.get_close_matches(name, names, n=3, cutoff=0.6)
    if owner is not None and owner != cap.name:
        message += f" (it is a tool of capability {owner}: policies/{owner}.yaml)"
    elif close:
        message += f" (did you mean {' or '.join(close)}?)"
    return f"{message}; its tools: {', '.join(names)}; globs such as {cap.name}_* work too"


def _expand(
    rule: Rule,
    at: tuple[str, int],
    cap: Capability,
    others: Mapping[str, Capability],
    doc: YamlDoc,
    out: Bound,
) -> list[Tool[Any, Any]]:
    """The tools a rule names, globs expanded; unknown names and empty globs are problems."""
    tools: list[Tool[Any, Any]] = []
    for j, name in enumerate(rule.tools or []):
        if name == "*":
            tools = list(cap.tools)
            continue
        if is_glob(name):
            matched = [t for t in cap.tools if fnmatchcase(t.name, name)]
            if not matched:
                names = ", ".join(t.name for t in cap.tools)
                out.problems.append(
                    doc.error(
                        f"tools: {name} matches no tool of capability {cap.name}; "
                        f"its tools: {names}",
                        (*at, "tools", j),
                    )
                )
            tools.extend(t for t in matched if t not in tools)
            continue
        found = cap.tool(name)
        if found is None:
            out.problems.append(doc.error(_unknown_tool(name, cap, others), (*at, "tools", j)))
        elif found not in tools:
            tools.append(found)
    return tools


def _bind_rule(
    rule: Rule,
    i: int,
    cap: Capability,
    others: Mapping[str, Capability],
    doc: YamlDoc,
    out: Bound,
) -> None:
    at = ("rules", i)
    tools = _expand(rule, at, cap, others, doc, out)
    if rule.tools is not None:
        out.tools[i] = ["*"] if "*" in rule.tools else [t.name for t in tools]
    for arg, bound in (rule.args or {}).items():
        annotations = _arg_fields(tools, arg)
        if not annotations:
            out.problems.append(
                doc.error(f"unknown argument {arg} for {_names(rule)}", (*at, "args", arg))
            )
            continue
        for annotation in annotations:
            problem = _bound_problem(bound, annotation)
            if problem:
                out.problems.append(doc.error(f"args.{arg}: {problem}", (*at, "args", arg)))
                break
    for j, arg in enumerate(rule.redact or []):
        if not _arg_fields(tools, arg):
            out.problems.append(
                doc.error(f"redact names unknown argument {arg}", (*at, "redact", j))
            )
    if rule.result is not None:
        known = _record_fields(tools)
        for j, name in enumerate(rule.result.fields or []):
            if name not in known:
                out.problems.append(
                    doc.error(f"unknown result field {name}", (*at, "result", "fields", j))
                )
        for name in rule.result.truncate or {}:
            if name not in known:
                out.problems.append(
                    doc.error(
                        f"unknown result field {name} in truncate",
                        (*at, "result", "truncate", name),
                    )
                )
    if rule.scope is not None:
        _bind_scope(rule, at, cap, doc, out)
    _bind_approval(rule, at, tools, doc, out)


def _bind_approval(
    rule: Rule, at: tuple[str, int], tools: list[Tool[Any, Any]], doc: YamlDoc, out: Bound
) -> None:
    """A rule that allows a write (proposing) tool must say who approves its proposals, and
    may not cache its answers (a cached ticket would stand for a proposal never stored)."""
    if rule.effect != "allow":
        return
    writes = [t for t in tools if t.proposes]
    if writes and rule.cache is not None:
        out.problems.append(
            doc.error(
                f"rule {rule.id} allows the write tool {writes[0].name}: no cache", (*at, "cache")
            )
        )
    if rule.approval is not None:
        return
    for tool in writes:
        if tool.proposes:
            out.problems.append(
                doc.error(
                    f"rule {rule.id} allows the write tool {tool.name} without approval; "
                    "add approval: {required: true, approvers: [...], expires_after: 24h}",
                    (*at, "tools"),
                )
            )
            return


def _bind_scope(rule: Rule, at: tuple[str, int], cap: Capability, doc: YamlDoc, out: Bound) -> None:
    model = cap.scope_model
    if model is None:
        out.problems.append(doc.error(f"capability {cap.name} takes no scope", (*at, "scope")))
        return
    names = set(model.model_fields)
    names |= {f.alias for f in model.model_fields.values() if f.alias}
    unknown = [k for k in rule.scope or {} if k not in names]
    for key in unknown:
        out.problems.append(doc.error(f"unknown scope key {key}", (*at, "scope", key)))
    if unknown:
        return
    try:
        out.scopes[rule.id] = model.model_validate(rule.scope)
    except ValidationError as exc:
        out.problems.extend(pydantic_problems(exc, doc, (*at, "scope")))


def _names(rule: Rule) -> str:
    return ", ".join(rule.tools or ["*"])


def bind_policy(
    policy: CapabilityPolicy, stem: str, capabilities: Mapping[str, Capability], doc: YamlDoc
) -> Bound:
    out = Bound()
    if policy.capability != stem:
        out.problems.append(
            doc.error(
                f"capability is {policy.capability} but the file is named {stem}.yaml",
                ("capability",),
            )
        )
    cap = capabilities.get(stem)
    if cap is None:
        out.problems.append(doc.error(f"no capability named {stem} is registered"))
        return out
    seen: set[str] = set()
    for i, rule in enumerate(policy.rules):
        if rule.id in seen:
            out.problems.append(doc.error(f"rule id {rule.id} is used twice", ("rules", i, "id")))
        seen.add(rule.id)
        try:
            _bind_rule(rule, i, cap, capabilities, doc, out)
        except Exception as exc:  # a capability model that cannot be introspected
            out.problems.append(
                doc.error(f"rule cannot be checked: {type(exc).__name__}", ("rules", i))
            )
    return out
