"""The guards of the global policy, and the rule for lowering one.

A guard is a switch that denies every call: ``kill_switch`` and ``maintenance.enabled``.
Raising one applies at once. Lowering one (on to off) is where a half-written file does harm,
so a new set may lower a guard only when its ``gateway.yaml`` states the lowered value
(``kill_switch: false``), never by leaving the key out; the store adds that the files must
also read the same twice, a settle interval apart (see :mod:`gateway.policy.store`).
"""

from __future__ import annotations

from gateway.policy.model import GlobalPolicy

__all__ = ["lowered", "unstated"]


def _guards(g: GlobalPolicy) -> dict[str, tuple[bool, bool]]:
    """guard name -> (is on, is stated in the file)."""
    maintenance_stated = (
        "maintenance" in g.model_fields_set and "enabled" in g.maintenance.model_fields_set
    )
    return {
        "kill_switch": (g.kill_switch, "kill_switch" in g.model_fields_set),
        "maintenance.enabled": (g.maintenance.enabled, maintenance_stated),
    }


def lowered(old: GlobalPolicy, new: GlobalPolicy) -> list[str]:
    """The guards on in ``old`` and off in ``new``."""
    before, after = _guards(old), _guards(new)
    return [name for name, (on, _) in before.items() if on and not after[name][0]]


def unstated(old: GlobalPolicy, new: GlobalPolicy) -> list[str]:
    """The guards ``new`` lowers without stating it."""
    after = _guards(new)
    return [name for name in lowered(old, new) if not after[name][1]]
