"""Addresses and credentials in free text and in monitor URLs, found with parsers.

Candidates are found by shape (a whitespace-separated word, a run of digits and dots, a run
of hex digits and colons); whether a candidate *is* an address is decided by ``ipaddress``
and ``urllib.parse``, not by the shape. Credentials (``user:pass@`` with or without a
scheme, a URL's user info, query and fragment) are removed whatever the policy says;
addresses (URLs, IPv4, IPv6 with or without brackets, zone or port, CIDR, ``host.name:port``)
only when the policy hides them.
"""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import urlsplit

__all__ = ["HIDDEN", "is_address", "public_host", "public_url", "scrub"]

HIDDEN = "[hidden]"

_WORD = re.compile(r"\S+")
_LEAD = "\"'`([{<"
_TRAIL = "\"'`.,;:!?)]}>"
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://")
_IPV4 = re.compile(r"(?<![\d.])\d{1,3}(?:\.\d{1,3}){3}(?!\.?\d)")
_IPV6 = re.compile(
    r"\[[0-9A-Fa-f:.]+(?:%[\w.-]+)?\](?::\d{1,5})?"  # [v6] or [v6]:port
    r"|(?<![\w:.%])[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*(?:%[\w.-]+)?"  # bare v6
)
_HOST_PORT = re.compile(r"(?:[A-Za-z0-9-]+\.)+[A-Za-z0-9-]+:\d{1,5}|localhost:\d{1,5}", re.I)


def _ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def _dotted_quad(text: str) -> bool:
    """``010.000.000.001`` is an address to inet_aton even though ``ipaddress`` refuses it."""
    parts = text.split(".")
    return len(parts) == 4 and all(p.isdigit() and len(p) <= 3 and int(p) <= 255 for p in parts)


def is_address(text: str) -> bool:
    """An IP address (v4/v6, bracketed, with zone, port or prefix) or ``host.name:port``."""
    if _ip(text) or _dotted_quad(text):
        return True
    if text.startswith("["):
        inside, _, rest = text[1:].partition("]")
        return _ip(inside) and (rest == "" or (rest[:1] == ":" and rest[1:].isdigit()))
    if "/" in text:
        try:
            ipaddress.ip_network(text, strict=False)
        except ValueError:
            return False
        return True
    host, sep, port = text.rpartition(":")
    if sep and port.isdigit() and (_ip(host) or _dotted_quad(host)):
        return True
    return _HOST_PORT.fullmatch(text) is not None


def _has_credentials(word: str) -> bool:
    """``user:pass@host`` (any scheme or none) or ``scheme://user@host``."""
    if "@" not in word:
        return False
    scheme = _SCHEME.match(word)
    before = word[scheme.end() if scheme else 0 :].rpartition("@")[0]
    return bool(scheme and "/" not in before) or ":" in before


def public_host(host: str | None) -> str | None:
    """A hostname without any ``user:pass@`` in front of it."""
    if host is None:
        return None
    return host.rpartition("@")[2] or None


def public_url(url: str | None) -> str | None:
    """``scheme://host[:port]/path`` of ``url``: no user info, query or fragment. ``None``
    when it does not parse."""
    if url is None:
        return None
    try:
        parts = urlsplit(url)
        host, port = parts.hostname, parts.port
    except ValueError:
        return None
    if not parts.scheme or not host:
        return None
    if ":" in host:
        host = f"[{host}]"
    return f"{parts.scheme}://{host}{'' if port is None else f':{port}'}{parts.path}"


def _word(word: str, hide_addresses: bool) -> str:
    start, end = 0, len(word)
    while start < end and word[start] in _LEAD:
        start += 1
    while end > start and word[end - 1] in _TRAIL:
        end -= 1
    core = word[start:end]
    if not core:
        return word
    if _SCHEME.match(core):
        shown = None if hide_addresses else public_url(core)
        if shown is None or "@" in shown:  # "http://u:123/x@host" parses as port 123
            shown = HIDDEN
    elif _has_credentials(core) or (hide_addresses and is_address(core)):
        shown = HIDDEN
    else:
        return word
    return word[:start] + shown + word[end:]


def _inner(match: re.Match[str]) -> str:
    text = match.group(0)
    if text.startswith("["):
        return HIDDEN if is_address(text) else text
    for cut in range(len(text), 1, -1):  # "fe80::1:" is "fe80::1" and a colon
        head = text[:cut]
        if _ip(head):
            return HIDDEN + text[cut:]
        if head[-1] not in ":.":
            break
    return text


def scrub(text: str, *, hide_addresses: bool) -> str:
    """``text`` without credentials, and without addresses when ``hide_addresses``."""
    text = _WORD.sub(lambda m: _word(m.group(0), hide_addresses), text)
    if hide_addresses:
        text = _IPV6.sub(_inner, text)
        text = _IPV4.sub(lambda m: HIDDEN if _dotted_quad(m.group(0)) else m.group(0), text)
    return text
