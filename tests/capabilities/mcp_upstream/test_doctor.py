"""``labgate doctor`` for fronted servers: reachable, and each pin's state."""

from __future__ import annotations

from pathlib import Path

from gateway.capability import DoctorContext
from gateway.registry import registry_for

from .support import accept_async, python_server, settings_for, write_policies


async def test_doctor_reports_changed_and_unreachable(tmp_path: Path) -> None:
    policies = tmp_path / "policies"
    write_policies(policies, {})
    state = tmp_path / "flipped"
    config = {**python_server("hostile.py"), "env": {"HOSTILE_STATE": str(state)}}
    settings = settings_for(tmp_path, policies, {"hostile": config})
    assert (await accept_async(settings, "hostile"))[0] == 0

    state.write_text("flipped")  # the server now describes weather differently
    cap = registry_for(settings)["hostile"]
    assert cap.doctor is not None
    report = await cap.doctor(DoctorContext(cap.config_model(), lambda name: None, {}))  # type: ignore[arg-type, return-value]
    codes = {f.subject: f.code for f in report.findings}
    assert codes["mcp server hostile"] == "ok"
    assert codes["mcp server hostile: hostile_weather"] == "pin-changed"
    assert codes["mcp server hostile: hostile_whoami"] == "ok"

    down = {"transport": "stdio", "command": str(tmp_path / "missing"), "connect_timeout": 1}
    cap = registry_for(settings_for(tmp_path, policies, {"hostile": down}))["hostile"]
    assert cap.doctor is not None
    report = await cap.doctor(DoctorContext(cap.config_model(), lambda name: None, {}))  # type: ignore[arg-type, return-value]
    assert [(f.status, f.code) for f in report.findings] == [("fail", "unreachable")]
