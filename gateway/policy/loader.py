"""Load a policy directory into a :class:`PolicySet`, or fail with file:line.

The directory holds ``gateway.yaml`` (required) and one ``<capability>.yaml`` per enabled
capability. ``*.cases.yaml`` (decision cases), dotfiles and anything not ending in ``.yaml``
are ignored, except a ``.yml`` file, which is an error (it would otherwise leave its
capability off without a word). A capability without a file is off. ``gateway.yaml`` is read
first: its principal aliases resolve the ``who`` of every rule, and its rule ids may not
recur in a capability file (a decision's rule id names one rule). Every problem in the set
is collected; the first (in file, then line order) is raised as a :class:`PolicyLoadError`
that carries them all. Nothing but :class:`PolicyError` leaves :func:`load_policy_dir`.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any

from pydantic import BaseModel, ValidationError

from gateway.capability import Capability
from gateway.errors import PolicyError
from gateway.policy.aliases import check_aliases, resolve_who
from gateway.policy.bind import Bound, bind_policy
from gateway.policy.index import build_index
from gateway.policy.model import CapabilityPolicy, GlobalPolicy, is_glob
from gateway.policy.policyset import PolicySet
from gateway.policy.version import policy_version
from gateway.policy.yamlsrc import YamlDoc, parse_yaml, pydantic_problems

__all__ = [
    "EMPTY_GLOBAL",
    "GLOBAL_FILE",
    "PolicyLoadError",
    "PolicySet",
    "load_policy_dir",
    "policy_files",
]

GLOBAL_FILE = "gateway.yaml"
CASES_SUFFIX = ".cases.yaml"
MAX_FILES = 200
#: An empty ``gateway.yaml`` is what an in-place rewrite shows between truncate and write;
#: it must never pass for "all defaults" (which would lower a kill switch that is on).
EMPTY_GLOBAL = "gateway.yaml is empty: state the global policy, at least kill_switch: false"


class PolicyLoadError(PolicyError):
    """The first problem of a policy set; ``problems`` holds every one found."""

    def __init__(self, problems: list[PolicyError]) -> None:
        first = problems[0]
        super().__init__(first.message, file=first.file, line=first.line)
        self.problems = tuple(problems)


def _frozen(value: Mapping[str, Any]) -> Mapping[str, Any]:
    return MappingProxyType(dict(value))


def misnamed_files(path: Path) -> list[Path]:
    """``.yml`` files: never read, so refused rather than silently leaving a capability off."""
    return sorted(
        p
        for p in path.iterdir()
        if p.suffix.lower() in (".yml", ".yaml")
        and not p.name.endswith(".yaml")
        and not p.name.startswith(".")
        and p.is_file()
    )


def policy_files(path: Path) -> list[Path]:
    """The files :func:`load_policy_dir` reads, sorted by name."""
    return sorted(
        p
        for p in path.iterdir()
        if p.name.endswith(".yaml")
        and not p.name.endswith(CASES_SUFFIX)
        and not p.name.startswith(".")
        and p.is_file()
    )


def _defaults(cap: Capability) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for t in cap.tools:
        values: dict[str, Any] = {}
        for name, info in t.args_model.model_fields.items():
            if not info.is_required():
                values[name] = info.get_default(call_default_factory=True)
        out[t.name] = values
    return out


def _validate(model: type[BaseModel], doc: YamlDoc, problems: list[PolicyError]) -> Any:
    if not isinstance(doc.data, dict):
        problems.append(doc.error("the file must hold a mapping (key: value lines)"))
        return None
    try:
        return model.model_validate(doc.data)
    except ValidationError as exc:
        problems.extend(pydantic_problems(exc, doc))
        return None


def _misnamed(path: Path) -> list[PolicyError]:
    out = []
    for p in misnamed_files(path):
        stem = p.name[: -len(p.suffix)]
        out.append(
            PolicyError(
                f"policy files end in .yaml; {p.name} is not read: rename it to {stem}.yaml",
                file=str(p),
                line=1,
            )
        )
    return out


def _global(
    path: Path, raw: Mapping[str, bytes], problems: list[PolicyError]
) -> GlobalPolicy | None:
    """Parse and validate ``gateway.yaml``; its rules' aliases resolved."""
    file = str(path / GLOBAL_FILE)
    try:
        doc = parse_yaml(raw[GLOBAL_FILE], file)
    except PolicyError as exc:
        problems.append(exc)
        return None
    if doc.data is None:  # empty, blank or comments only: a truncated file looks so
        problems.append(doc.error(EMPTY_GLOBAL))
        return None
    g: GlobalPolicy | None = _validate(GlobalPolicy, doc, problems)
    if g is None:
        return None
    problems.extend(check_aliases(g.principals, doc))
    seen: set[str] = set()
    rules = []
    for i, rule in enumerate(g.rules):
        if rule.id in seen:
            problems.append(doc.error(f"rule id {rule.id} is used twice", ("rules", i, "id")))
        seen.add(rule.id)
        who = resolve_who(rule.who, g.principals, doc, ("rules", i), problems)
        rules.append(rule.model_copy(update={"who": who}))
    return g.model_copy(update={"rules": rules})


def _resolved(
    policy: CapabilityPolicy,
    bound: Bound,
    g: GlobalPolicy | None,
    doc: YamlDoc,
    problems: list[PolicyError],
) -> CapabilityPolicy:
    """The policy with globs expanded and aliases resolved; clashes with gateway.yaml noted."""
    principals = g.principals if g is not None else {}
    global_ids = {r.id for r in g.rules} if g is not None else set()
    rules = []
    for i, rule in enumerate(policy.rules):
        if rule.id in global_ids:
            problems.append(
                doc.error(
                    f"rule id {rule.id} is also a rule of {GLOBAL_FILE}; "
                    "rule ids must be unique across the set",
                    ("rules", i, "id"),
                )
            )
        who = rule.who
        if g is not None:  # else gateway.yaml failed: its aliases are unknown, not missing
            who = resolve_who(rule.who, principals, doc, ("rules", i), problems)
        tools = bound.tools.get(i, rule.tools)
        rules.append(rule.model_copy(update={"who": who, "tools": tools}))
    return policy.model_copy(update={"rules": rules})


def _written_globs(policy: CapabilityPolicy) -> dict[str, tuple[str, ...]]:
    return {r.id: tuple(r.tools or ()) for r in policy.rules if any(map(is_glob, r.tools or ()))}


def _load(path: Path, capabilities: Mapping[str, Capability]) -> PolicySet:
    if not path.is_dir():
        raise PolicyError(f"policy directory {path} does not exist")
    paths = policy_files(path)
    if len(paths) > MAX_FILES:
        raise PolicyError(f"more than {MAX_FILES} policy files in {path}")
    problems: list[PolicyError] = _misnamed(path)
    raw: dict[str, bytes] = {p.name: p.read_bytes() for p in paths}
    if GLOBAL_FILE not in raw:
        raise PolicyError(f"{GLOBAL_FILE} is missing", file=str(path / GLOBAL_FILE), line=1)
    global_policy = _global(path, raw, problems)
    policies: dict[str, CapabilityPolicy] = {}
    scopes: dict[str, Mapping[str, BaseModel]] = {}
    globs: dict[str, Mapping[str, tuple[str, ...]]] = {}
    for name, content in raw.items():
        if name == GLOBAL_FILE:
            continue
        try:
            doc = parse_yaml(content, str(path / name))
        except PolicyError as exc:
            problems.append(exc)
            continue
        stem = name.removesuffix(".yaml")
        if stem not in capabilities:
            problems.append(doc.error(f"no capability named {stem} is registered"))
            continue
        policy = _validate(CapabilityPolicy, doc, problems)
        if policy is None:
            continue
        bound = bind_policy(policy, stem, capabilities, doc)
        problems.extend(bound.problems)
        policies[stem] = _resolved(policy, bound, global_policy, doc, problems)
        scopes[stem] = _frozen(bound.scopes)
        globs[stem] = _frozen(_written_globs(policy))
    if problems:  # reported in file order, then line order
        problems.sort(key=lambda p: (p.file or "", p.line or 0))
        raise PolicyLoadError(problems)
    assert global_policy is not None
    return PolicySet(
        global_policy=global_policy,
        capabilities=_frozen(policies),
        version=policy_version(path, raw.items()),
        files=tuple(raw),
        tools=_frozen({n: tuple(t.name for t in capabilities[n].tools) for n in policies}),
        scopes=_frozen(scopes),
        arg_defaults=_frozen({n: _frozen(_defaults(capabilities[n])) for n in policies}),
        index=_frozen(
            {
                n: build_index(p, (t.name for t in capabilities[n].tools))
                for n, p in policies.items()
            }
        ),
        globs=_frozen(globs),
    )


def load_policy_dir(path: Path, capabilities: Mapping[str, Capability]) -> PolicySet:
    """Parse and validate the whole directory; any failure is a :class:`PolicyError`."""
    try:
        return _load(Path(path), capabilities)
    except PolicyError:
        raise
    except OSError as exc:
        raise PolicyError(
            f"cannot read policy files: {exc.strerror or type(exc).__name__}",
            file=exc.filename if isinstance(exc.filename, str) else None,
        ) from None
    except Exception as exc:
        raise PolicyError(f"policy set cannot be loaded: {type(exc).__name__}") from None
