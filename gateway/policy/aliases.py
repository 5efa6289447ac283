"""Principal aliases: ``principals`` in ``gateway.yaml``, named by ``who: {principal: NAME}``.

An alias is a ``who`` block written once. A rule's ``who`` that names one is replaced, when the
set loads, by the alias's keys merged with the rule's other keys; a key given by both is an
error (it would be unclear which list applies), as is an alias that is not defined or an alias
that names another alias. Evaluation only ever sees resolved ``who`` blocks.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from gateway.errors import PolicyError
from gateway.policy.model import Who
from gateway.policy.yamlsrc import YamlDoc

__all__ = ["check_aliases", "resolve_who"]


def check_aliases(principals: Mapping[str, Who], doc: YamlDoc) -> list[PolicyError]:
    """Problems of the ``principals`` block itself: an alias may not name another."""
    return [
        doc.error(
            f"principals.{name}: an alias cannot name another alias (principal: {who.principal})",
            ("principals", name, "principal"),
        )
        for name, who in principals.items()
        if who.principal is not None
    ]


def resolve_who(
    who: Who | None,
    principals: Mapping[str, Who],
    doc: YamlDoc,
    loc: Sequence[int | str],
    problems: list[PolicyError],
) -> Who | None:
    """``who`` with its alias replaced by the alias's keys; a problem leaves it unresolved."""
    if who is None or who.principal is None:
        return who
    where = (*loc, "who", "principal")
    alias = principals.get(who.principal)
    if alias is None:
        known = ", ".join(sorted(principals)) or "none are defined"
        problems.append(
            doc.error(
                f"who.principal: unknown principal alias {who.principal} "
                f"(aliases of gateway.yaml principals: {known})",
                where,
            )
        )
        return who
    base = alias.model_dump(exclude_none=True, exclude={"principal"})
    own = who.model_dump(exclude_none=True, exclude={"principal"})
    both = sorted(set(base) & set(own))
    if both:
        problems.append(
            doc.error(
                f"who: {', '.join(both)} is already set by principal alias {who.principal}",
                (*loc, "who", both[0]),
            )
        )
        return who
    return Who.model_validate({**base, **own})
