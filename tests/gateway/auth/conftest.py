"""Fixtures of the identity tests. ``oidc_provider`` is the shared real-provider fixture."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from gateway.auth.settings import OidcSettings
from tests.support.oidc import OidcProvider

__all__ = ["settings_for"]

SettingsFor = Callable[..., OidcSettings]


@pytest.fixture
def settings_for(oidc_provider: OidcProvider) -> SettingsFor:
    """``settings_for(**overrides)``: OidcSettings for the real provider (client hermes only)."""

    def build(**overrides: Any) -> OidcSettings:
        values: dict[str, Any] = {
            "issuer": oidc_provider.issuer,
            "audience": [oidc_provider.audience],
            "allowed_clients": ["hermes"],
        }
        values.update(overrides)
        return OidcSettings(**values)

    return build
