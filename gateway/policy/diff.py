"""What changes between two policy sets, in words an operator reviews.

Lines are grouped by capability (sorted) and rule (in the new file's order, removed rules
last): who gains or loses which tool, argument bounds widened or narrowed, scope, result
fields, limits, time windows, rule order (the first matching allow rule wins). Tool globs
are shown with the tools they expand to; the global rules and principal aliases of
``gateway.yaml`` come first.
"""

from __future__ import annotations

import json
from typing import Any

from gateway.policy.model import Approval, ArgBound, CapabilityPolicy, GlobalRule, Rule, Who
from gateway.policy.policyset import PolicySet

__all__ = ["diff_sets", "who_text"]

PAST = {"allow": "allowed", "deny": "denied"}


def who_text(who: Who | None) -> str:
    if who is None:
        return "anyone"
    parts = [f"{k}={','.join(v)}" for k, v in who.model_dump(exclude_none=True).items()]
    return " ".join(parts) or "anyone"


def _show(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def _tool_lines(old: Rule | None, new: Rule | None) -> list[str]:
    before = set((old.tools or ["*"]) if old else [])
    after = set((new.tools or ["*"]) if new else [])
    rule = new or old
    assert rule is not None
    who = who_text(rule.who)
    if rule.effect == "allow":
        gained, lost = "gains", "loses"
    else:
        gained, lost = "is now denied", "is no longer denied"
    out = [f"{who} {gained} {t}" for t in sorted(after - before)]
    out += [f"{who} {lost} {t}" for t in sorted(before - after)]
    return out


def _bound_lines(name: str, old: ArgBound | None, new: ArgBound | None) -> list[str]:
    if old is None and new is not None:
        return [
            f"args.{name}: bound added {_show(new.model_dump(mode='json', exclude_none=True))}"
            " (narrowed)"
        ]
    if new is None and old is not None:
        return [f"args.{name}: bound removed (widened)"]
    assert old is not None and new is not None
    out = []
    for key in ("min", "max", "max_length"):
        a, b = getattr(old, key), getattr(new, key)
        if a == b:
            continue
        if a is None or b is None:
            widened = b is None
        else:
            widened = b < a if key == "min" else b > a
        out.append(f"args.{name}.{key}: {a} -> {b} ({'widened' if widened else 'narrowed'})")
    if old.one_of != new.one_of:
        added = [v for v in new.one_of or [] if v not in (old.one_of or [])]
        how = "widened" if new.one_of is None or added else "narrowed"
        out.append(f"args.{name}.one_of: {_show(old.one_of)} -> {_show(new.one_of)} ({how})")
    a_pat = old.pattern.pattern if old.pattern else None
    b_pat = new.pattern.pattern if new.pattern else None
    if a_pat != b_pat:
        out.append(f"args.{name}.pattern: {a_pat} -> {b_pat}")
    return out


def _rule_lines(old: Rule | None, new: Rule | None) -> list[str]:
    if old is None or new is None:
        rule = new or old
        assert rule is not None
        head = f"rule added ({rule.effect})" if old is None else f"rule removed ({rule.effect})"
        return [head, *_tool_lines(old, new)]
    out = []
    if old.effect != new.effect:
        out.append(f"effect: {old.effect} -> {new.effect}")
        out += [f"{who_text(old.who)} no longer {PAST[old.effect]} {t}" for t in old.tools or ["*"]]
        out += [f"{who_text(new.who)} now {PAST[new.effect]} {t}" for t in new.tools or ["*"]]
        return out
    if old.who != new.who:
        out.append(f"who: {who_text(old.who)} -> {who_text(new.who)}")
    out += _tool_lines(old, new)
    if old.when != new.when:
        dump = [r.when.model_dump(mode="json") if r.when else None for r in (old, new)]
        out.append(f"when: {_show(dump[0])} -> {_show(dump[1])}")
    a_args, b_args = old.args or {}, new.args or {}
    for name in sorted(set(a_args) | set(b_args)):
        out += _bound_lines(name, a_args.get(name), b_args.get(name))
    a_scope, b_scope = old.scope or {}, new.scope or {}
    for key in sorted(set(a_scope) | set(b_scope)):
        if a_scope.get(key) != b_scope.get(key):
            out.append(f"scope.{key}: {_show(a_scope.get(key))} -> {_show(b_scope.get(key))}")
    out += _result_lines(old, new)
    out += _approval_lines(old.approval, new.approval)
    for key in ("limits", "cache", "redact"):
        a, b = getattr(old, key), getattr(new, key)
        if a != b:
            show = [v.model_dump(mode="json") if hasattr(v, "model_dump") else v for v in (a, b)]
            out.append(f"{key}: {_show(show[0])} -> {_show(show[1])}")
    return out


def _approval_lines(old: Approval | None, new: Approval | None) -> list[str]:
    """Who may approve the rule's proposals, for how long, how many a day."""
    if old == new:
        return []
    if old is None or new is None:
        rule = new or old
        assert rule is not None
        verb = "added" if old is None else "removed"
        return [f"approval {verb}: approvers {', '.join(rule.approvers)}"]
    out = [
        f"approval: {a} may now approve" for a in sorted(set(new.approvers) - set(old.approvers))
    ]
    out += [
        f"approval: {a} may no longer approve"
        for a in sorted(set(old.approvers) - set(new.approvers))
    ]
    for key in ("expires_after", "daily_quota"):
        a, b = getattr(old, key), getattr(new, key)
        if a != b:
            out.append(f"approval.{key}: {a} -> {b}")
    return out


def _result_lines(old: Rule, new: Rule) -> list[str]:
    a, b = old.result, new.result
    if a == b:
        return []
    out = []
    a_fields, b_fields = (a.fields if a else None), (b.fields if b else None)
    if a_fields != b_fields:
        if a_fields is None or b_fields is None:
            out.append(f"result.fields: {_show(a_fields)} -> {_show(b_fields)} (null = all)")
        else:
            out += [f"result field added: {f}" for f in b_fields if f not in a_fields]
            out += [f"result field removed: {f}" for f in a_fields if f not in b_fields]
    for key in ("truncate", "max_items"):
        va, vb = (getattr(a, key) if a else None), (getattr(b, key) if b else None)
        if va != vb:
            out.append(f"result.{key}: {_show(va)} -> {_show(vb)}")
    return out


def _glob_lines(name: str, a: PolicySet, b: PolicySet) -> list[str]:
    """``tools: [health_*] = ...`` for each new or changed rule written with a glob."""
    old_policy, new_policy = a.capabilities.get(name), b.capabilities.get(name)
    if new_policy is None:
        return []
    old = {r.id: r for r in old_policy.rules} if old_policy else {}
    written_old = a.globs.get(name, {})
    out = []
    for rule in new_policy.rules:
        written = b.globs.get(name, {}).get(rule.id)
        if written is None:
            continue
        before = old.get(rule.id)
        if before is None or before.tools != rule.tools or written_old.get(rule.id) != written:
            tools = ", ".join(rule.tools or [])
            out.append(f"{name}: rule {rule.id}: tools {_show(list(written))} expand to {tools}")
    return out


def _global_rule_lines(old: GlobalRule | None, new: GlobalRule | None) -> list[str]:
    def text(r: GlobalRule) -> str:
        when = _show(r.when.model_dump(mode="json")) if r.when else "always"
        return f"{r.effect} {who_text(r.who)} when {when}"

    if old is None and new is not None:
        return [f"rule added: {text(new)}"]
    if new is None and old is not None:
        return [f"rule removed: {text(old)}"]
    assert old is not None and new is not None
    return [f"{text(old)} -> {text(new)}"] if text(old) != text(new) else []


def _global_lines(a: PolicySet, b: PolicySet) -> list[str]:
    out = []
    ga = a.global_policy.model_dump(mode="json", exclude={"rules", "principals"})
    gb = b.global_policy.model_dump(mode="json", exclude={"rules", "principals"})
    for key in ga:
        if ga[key] != gb[key]:
            out.append(f"gateway: {key}: {_show(ga[key])} -> {_show(gb[key])}")
    pa, pb = a.global_policy.principals, b.global_policy.principals
    for alias in sorted(set(pa) | set(pb)):
        before = who_text(pa[alias]) if alias in pa else "(none)"
        after = who_text(pb[alias]) if alias in pb else "(none)"
        if before != after:
            out.append(f"gateway: principals.{alias}: {before} -> {after}")
    old = {r.id: r for r in a.global_policy.rules}
    new = {r.id: r for r in b.global_policy.rules}
    for rule_id in [*new, *(i for i in old if i not in new)]:
        for line in _global_rule_lines(old.get(rule_id), new.get(rule_id)):
            out.append(f"gateway: rule {rule_id}: {line}")
    return out


def _capability_lines(
    name: str, a: CapabilityPolicy | None, b: CapabilityPolicy | None
) -> list[str]:
    out = []
    if a is None:
        out.append(f"{name}: capability turned on (policy file added)")
    if b is None:
        out.append(f"{name}: capability turned off (policy file removed)")
    old = {r.id: r for r in a.rules} if a else {}
    new = {r.id: r for r in b.rules} if b else {}
    for rule_id in [*new, *(i for i in old if i not in new)]:
        for line in _rule_lines(old.get(rule_id), new.get(rule_id)):
            out.append(f"{name}: rule {rule_id}: {line}")
    kept_old = [i for i in old if i in new and old[i].effect == "allow"]
    kept_new = [i for i in new if i in old and new[i].effect == "allow"]
    if kept_old != kept_new:
        out.append(f"{name}: allow rule order: {', '.join(kept_old)} -> {', '.join(kept_new)}")
    return out


def diff_sets(a: PolicySet, b: PolicySet) -> list[str]:
    """Human-readable differences from ``a`` to ``b``; empty when they decide alike."""
    out = _global_lines(a, b)
    for name in sorted(set(a.capabilities) | set(b.capabilities)):
        out += _capability_lines(name, a.capabilities.get(name), b.capabilities.get(name))
        out += _glob_lines(name, a, b)
    return out
