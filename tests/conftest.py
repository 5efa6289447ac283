"""Shared fixtures are plugins in tests/support/."""

pytest_plugins = [
    "tests.support.gateway_app",
    "tests.support.influxdb",
    "tests.support.live",
    "tests.support.oidc",
    "tests.support.misbehaving",
    "tests.support.pg",
    "tests.support.synapse",
    "tests.support.redis",
]
