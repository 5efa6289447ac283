"""Token buckets: rate, burst, order of checks, bounded memory."""

from __future__ import annotations

from gateway.limits import Limiter
from gateway.policy.model import Limits


def test_burst_then_rate() -> None:
    limiter = Limiter()
    spec = Limits(rate="60/minute", burst=3)
    key = ("cap", "rule", "sub")
    assert [limiter.check([(key, spec)], 0.0) for _ in range(3)] == [None, None, None]
    wait = limiter.check([(key, spec)], 0.0)
    assert wait is not None and 0.9 < wait <= 1.0  # one token a second
    assert limiter.check([(key, spec)], 1.0) is None


def test_a_refused_call_spends_no_later_bucket() -> None:
    limiter = Limiter()
    tight, loose = Limits(rate="1/hour", burst=1), Limits(rate="100/hour", burst=2)
    glob, rule = ("*", "sub"), ("cap", "rule", "sub")
    assert limiter.check([(glob, tight), (rule, loose)], 0.0) is None
    for _ in range(5):
        assert limiter.check([(glob, tight), (rule, loose)], 0.0) is not None
    # The rule's bucket paid only for the one call that went through.
    assert limiter.check([(rule, loose)], 0.0) is None
    assert limiter.check([(rule, loose)], 0.0) is not None


def test_no_limits_means_no_refusal() -> None:
    assert Limiter().check([(("*", "s"), None)], 0.0) is None


def test_memory_stays_bounded() -> None:
    limiter = Limiter(max_keys=100)
    spec = Limits(rate="10/second", burst=1)
    for i in range(1000):
        limiter.check([((f"sub-{i}",), spec)], float(i))
    assert len(limiter._buckets) <= 100
