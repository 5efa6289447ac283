"""What ``labgate serve`` checks before it starts, so that a bad deployment is one line.

An unreadable secret file or a capability whose upstream is not configured would otherwise
surface inside the server's start-up as a stack trace. Both raise :class:`ConfigError` naming
the key (the CLI prints ``labgate: configuration error: ...`` and exits 2).
"""

from __future__ import annotations

from gateway.errors import ConfigError
from gateway.policy.loader import load_policy_dir
from gateway.registry import Registry
from gateway.secrets import read_secret_file
from gateway.settings import Settings

from .local import secret_files

__all__ = ["check_startup"]


def check_startup(settings: Settings, registry: Registry) -> None:
    for key, path in secret_files(settings):
        read_secret_file(path, key)
    if settings.sample_data:
        return
    enabled = load_policy_dir(settings.policy_dir, registry).capabilities
    for name in enabled:
        upstream = settings.capabilities.get(name, {}).get("upstream")
        default = registry[name].config_model.model_fields.get("upstream")
        upstream = upstream or (default.default if default is not None else None)
        if isinstance(upstream, str) and upstream not in settings.upstreams:
            raise ConfigError(
                f"capability {name} uses upstream {upstream!r}, which is not configured "
                f"(add upstreams.{upstream}, or remove policies/{name}.yaml to turn it off)",
                key=f"upstreams.{upstream}",
            )
