"""Key rotation at the real OIDC provider while tokens with made-up key ids arrive at 100/s.

The goal (issue 13): a token signed with the new key is accepted soon after the rotation (the
design: by the first paced fetch that starts after it arrives, at most one interval away), and
the issuer receives at most one key-set fetch per interval (5 s by default), whatever the flood.
The measured figures are printed (run with ``-s`` to see them); the test asserts the design's
own rules, not a wall-clock latency.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import secrets
import time
from collections.abc import Callable

import httpx

from gateway.auth.oidc import build_oidc
from gateway.auth.settings import OidcSettings
from gateway.errors import AuthError
from tests.support.forged_tokens import ForgeContext, control_token
from tests.support.oidc import OidcProvider

SettingsFor = Callable[..., OidcSettings]

FLOOD_PER_SECOND = 100
FLOOD_BEFORE_ROTATION = 3.0  # seconds: the flood has spent a fetch before the rotation
FLOOD_AFTER_ACCEPTANCE = 11.0  # seconds: two more intervals of flood after the acceptance
INTERVAL = 5.0  # the default jwks_min_refetch_seconds


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unknown_kid_header(provider: OidcProvider) -> dict[str, str]:
    """A well-formed RS256 token naming a key id nobody published (the signature is noise:
    the key lookup fails before any signature check)."""
    ctx = ForgeContext(
        issuer=provider.issuer,
        audience=provider.audience,
        client_id="hermes",
        signing_key=provider.signing_key,
    )
    _, payload, _ = control_token(ctx).split(".")
    header = _b64(f'{{"alg":"RS256","kid":"k-{secrets.token_hex(8)}"}}'.encode())
    return {"Authorization": f"Bearer {header}.{payload}.{_b64(secrets.token_bytes(256))}"}


def most_in_any_window(times: list[float], window: float) -> int:
    return max((sum(1 for u in times if t <= u < t + window) for t in times), default=0)


async def test_rotation_is_accepted_under_an_unknown_kid_flood(
    oidc_provider: OidcProvider, settings_for: SettingsFor
) -> None:
    fetch_times: list[float] = []  # when each JWKS request left labgate (monotonic)

    class Noting(httpx.AsyncHTTPTransport):
        """The network, noting when each JWKS request leaves (under the guarded client)."""

        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            if request.url.path.endswith("/jwks"):
                fetch_times.append(time.monotonic())
            return await super().handle_async_request(request)

    settings = settings_for()
    assert settings.jwks_min_refetch_seconds == INTERVAL
    auth = build_oidc(settings, transport=Noting())
    await auth.start()
    oidc_provider.reset_stats()
    fetch_times.clear()
    reasons: list[str] = []
    flood: set[asyncio.Task[None]] = set()
    stop = asyncio.Event()

    async def one_unknown_kid() -> None:
        try:
            await auth.authenticate(unknown_kid_header(oidc_provider), "203.0.113.9")
            reasons.append("accepted")
        except AuthError as exc:
            reasons.append(exc.reason)

    async def flooder() -> None:
        loop = asyncio.get_running_loop()
        started, sent = loop.time(), 0
        while not stop.is_set():
            due = started + sent / FLOOD_PER_SECOND
            await asyncio.sleep(max(0.0, due - loop.time()))
            task = loop.create_task(one_unknown_kid())
            flood.add(task)
            task.add_done_callback(flood.discard)
            sent += 1

    flooding = asyncio.get_running_loop().create_task(flooder())
    try:
        await asyncio.sleep(FLOOD_BEFORE_ROTATION)
        await asyncio.to_thread(oidc_provider.rotate)
        rotated = time.monotonic()
        new_token = await asyncio.to_thread(oidc_provider.token)
        presented = time.monotonic()
        # The first attempt must succeed: it waits for a fetch that starts after it arrived.
        principal = await auth.authenticate({"Authorization": f"Bearer {new_token}"}, None)
        accepted = time.monotonic()
        assert principal.client_id == "hermes"
        await asyncio.sleep(FLOOD_AFTER_ACCEPTANCE)
    finally:
        stop.set()
        await flooding
        await asyncio.gather(*list(flood))
        await auth.aclose()
    flood_seconds = accepted + FLOOD_AFTER_ACCEPTANCE - (rotated - FLOOD_BEFORE_ROTATION)

    assert set(reasons) == {"unknown-key"}, set(reasons)  # never accepted, never a crash
    assert len(reasons) >= FLOOD_PER_SECOND * flood_seconds * 0.5  # the flood did arrive
    assert oidc_provider.stats()["jwks"] == len(fetch_times)
    assert len(fetch_times) >= 3  # the flood kept asking, and was answered by paced fetches
    gaps = [b - a for a, b in itertools.pairwise(fetch_times)]
    assert min(gaps) >= INTERVAL - 0.05, gaps  # at most one fetch per interval
    print(
        f"\nrotation under a {FLOOD_PER_SECOND}/s unknown-kid flood: "
        f"new-key token accepted {accepted - presented:.2f} s after it was presented, "
        f"{accepted - rotated:.2f} s after the rotation; "
        f"{len(fetch_times)} JWKS fetches in {flood_seconds:.1f} s, "
        f"at most {most_in_any_window(fetch_times, INTERVAL)} in any {INTERVAL:.0f} s window, "
        f"smallest gap {min(gaps):.2f} s; {len(reasons)} unknown-kid tokens refused"
    )
