"""``labgate doctor``: check a deployment against the live services and say what to fix.

    runner.run_doctor(config_file) -> report.Report
      1. configuration   settings validate (else exit 2), every secret file readable
      2. policies        the policy directory loads
      3. identity        discovery + JWKS, issuer byte-exact, clients and audience vs policies
      4. upstreams       each capability's probe (Capability.doctor): reachable, credentials,
                         version and shape; every scope name resolves, empty globs reported
      5. preview         for a principal: the tools its policy admits and what each one sees

Nothing here prints a secret: findings carry setting keys, paths and codes, never values.
"""

from __future__ import annotations
