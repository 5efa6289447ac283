"""The text scrubber: addresses (when hidden) and credentials (always), decided by parsers."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from capabilities.health.addresses import public_url, scrub

H = "[hidden]"


@pytest.mark.parametrize(
    ("text", "hidden", "shown"),
    [
        ("Server at 10.0.0.1.", f"Server at {H}.", "Server at 10.0.0.1."),
        ("fe80::1 is down", f"{H} is down", "fe80::1 is down"),
        ("try 2001:db8::1, or fe80::1%eth0.", f"try {H}, or {H}.", None),
        ("[2001:db8::2]:8080 answers", f"{H} answers", None),
        ("::ffff:10.0.0.1 mapped", f"{H} mapped", None),
        ("net 10.0.0.0/24 and 010.000.000.001", f"net {H} and {H}", None),
        ("host=10.0.0.1,10.0.0.2", f"host={H},{H}", None),
        ("ip=10.0.0.1. ip6=fe80::1, done", f"ip={H}. ip6={H}, done", None),
        ("(see nas.lab.internal:8080)", f"(see {H})", None),
        ("creds admin:hunter2@nas.lan:5000/x here", f"creds {H} here", f"creds {H} here"),
        ("see http://u:p@h.lan:80/x?token=abc#f).", f"see {H}).", "see http://h.lan:80/x)."),
        ("http://u:123/w@host/", H, H),  # the password parses as a port: all of it goes
        ("mailto:bob@x.com", H, H),
        ("mail bob@example.com", "mail bob@example.com", "mail bob@example.com"),
        ("at 12:30:45, v1.2.3.4.5, Note:: x", "at 12:30:45, v1.2.3.4.5, Note:: x", None),
    ],
)
def test_examples(text: str, hidden: str, shown: str | None) -> None:
    assert scrub(text, hide_addresses=True) == hidden
    assert scrub(text, hide_addresses=False) == (text if shown is None else shown)


@pytest.mark.parametrize(
    ("url", "public"),
    [
        ("http://user:pw@[::1]:81/a?b=c#d", "http://[::1]:81/a"),
        ("http://kumauser:kumapass99@127.0.0.1:3911/?token=qs-secret", "http://127.0.0.1:3911/"),
        ("https://", None),
        ("http://x:bad/", None),
    ],
)
def test_public_url(url: str, public: str | None) -> None:
    assert public_url(url) == public


def _forms(ip: ipaddress.IPv4Address | ipaddress.IPv6Address, port: int) -> list[str]:
    if ip.version == 4:
        return [str(ip), f"{ip}:{port}", f"{ip}/24"]
    v6 = ipaddress.IPv6Address(ip)
    return [v6.compressed, v6.exploded, f"[{v6.compressed}]", f"[{v6.compressed}]:{port}"]


AROUND = st.sampled_from(["", ".", ",", ";", ")", ":", "!", "'", '"', "\n"])
BEFORE = st.sampled_from(["", "(", "at ", "ip=", "'", '"', "<", "x "])


@settings(max_examples=500)
@given(
    ip=st.ip_addresses(),
    port=st.integers(1, 65535),
    form=st.integers(0, 3),
    before=BEFORE,
    after=AROUND,
    user=st.from_regex(r"[a-z]{1,8}", fullmatch=True),
    password=st.from_regex(r"Pw[A-Za-z0-9_~-]{1,12}", fullmatch=True),  # no hex, not "hidden"
)
def test_no_address_or_credential_survives(
    ip: ipaddress.IPv4Address | ipaddress.IPv6Address,
    port: int,
    form: int,
    before: str,
    after: str,
    user: str,
    password: str,
) -> None:
    """Oracle: ``ipaddress`` formats the address; none of its forms may survive a hiding
    scrub, and a ``user:password@`` never survives any scrub."""
    forms = _forms(ip, port)
    address = forms[form % len(forms)]
    text = f"word {before}{address}{after} word"
    out = scrub(text, hide_addresses=True)
    assert str(ip) not in out and ip.exploded not in out
    secret = f"{before}{user}:{password}@{address}{after}"
    for hide in (True, False):
        assert f"{user}:{password}" not in scrub(secret, hide_addresses=hide)
        url = f"http://{user}:{password}@{address}/p?k={password}x{after}"
        assert password not in scrub(url, hide_addresses=hide)
