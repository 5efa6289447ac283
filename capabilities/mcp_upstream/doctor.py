"""``labgate doctor`` for a fronted server: connect once, list its tools, compare with the pins."""

from __future__ import annotations

from gateway.capability import DoctorReport, Finding
from gateway.errors import ConfigError

from .client import LinkBroken, LinkDown, LinkSlow, LinkTooLarge, connect, devnull
from .naming import labgate_name
from .pins import definition_digest
from .server import FrontedServer, definition_of

__all__ = ["probe"]


async def _nothing() -> None:
    return None


async def probe(fronted: FrontedServer) -> DoctorReport:
    """Findings for one server: reachable, its protocol era, each pinned tool's state."""
    report = DoctorReport()
    subject = f"mcp server {fronted.name}"
    try:
        with devnull() as errlog:
            async with connect(fronted.name, fronted.config, _nothing, errlog) as conn:
                listed = await conn.list_tools()
                version = conn.protocol_version
    except ConfigError as exc:
        report.findings.append(Finding("fail", subject, "secret-unreadable", exc.detail))
        return report
    except (LinkDown, LinkSlow) as exc:
        report.findings.append(Finding("fail", subject, "unreachable", f"no answer ({exc})"))
        return report
    except (LinkBroken, LinkTooLarge) as exc:
        report.findings.append(Finding("fail", subject, "unexpected-shape", str(exc)))
        return report
    except Exception as exc:  # the SDK's task groups raise exception groups
        report.findings.append(Finding("fail", subject, "unreachable", type(exc).__name__))
        return report
    report.findings.append(Finding("ok", subject, "ok", f"connected, protocol {version}"))
    live = {t.name: definition_of(t) for t in listed}
    pinned = {p.upstream_name for p in fronted.pins.tools.values()}
    for tool, pin in sorted(fronted.pins.tools.items()):
        where = f"{subject}: {tool}"
        definition = live.get(pin.upstream_name)
        if definition is None:
            report.findings.append(
                Finding("fail", where, "pin-missing", "pinned, but the server does not list it")
            )
        elif definition_digest(definition) != pin.sha256:
            report.findings.append(
                Finding(
                    "fail",
                    where,
                    "pin-changed",
                    "the server's definition differs from the pin: withdrawn until "
                    f"`labgate mcp-upstream accept {fronted.name}`",
                )
            )
        else:
            report.findings.append(Finding("ok", where, "ok", "matches its pin"))
    new = sorted(labgate_name(fronted.name, n) for n in live if n not in pinned)
    if new:
        shown = ", ".join(new[:10]) + (" ..." if len(new) > 10 else "")
        report.findings.append(
            Finding("warn", subject, "pin-unaccepted", f"listed but not pinned (off): {shown}")
        )
    return report
