"""The labgate performance harness: ``python -m bench`` (``make bench``).

Every throughput figure is a ratio against a baseline measured in the same run on the same
machine, so a noisy or slower machine moves both sides. See docs/performance.md.
"""

from __future__ import annotations

__all__: list[str] = []
