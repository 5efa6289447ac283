"""Shape rules of the policy models that the loader tests do not reach."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from gateway.policy.model import ArgBound, Limits, Rule, When


@pytest.mark.parametrize(
    ("rate", "count", "period"),
    [
        ("1/second", 1, 1.0),
        ("60/minute", 60, 60.0),
        ("60/hour", 60, 3600.0),
        ("1000/day", 1000, 86400.0),
    ],
)
def test_rate_syntax(rate: str, count: int, period: float) -> None:
    limits = Limits(rate=rate)
    assert (limits.count, limits.period_seconds) == (count, period)


@pytest.mark.parametrize("rate", ["0/hour", "60/hours", "60 / hour", "-1/day", "60/", "/hour"])
def test_bad_rates(rate: str) -> None:
    with pytest.raises(ValidationError):
        Limits(rate=rate)


@pytest.mark.parametrize(
    ("hours", "minutes"),
    [("09:00-17:00", (540, 1020)), ("22:00-06:00", (1320, 360)), ("00:00-24:00", (0, 1440))],
)
def test_hours(hours: str, minutes: tuple[int, int]) -> None:
    assert When(hours=hours).minutes() == minutes


@pytest.mark.parametrize("hours", ["9:00-17:00", "10:00-10:00", "24:00-01:00", "00:00-24:30"])
def test_bad_hours(hours: str) -> None:
    with pytest.raises(ValidationError):
        When(hours=hours)


def test_when_needs_something() -> None:
    with pytest.raises(ValidationError, match="when needs hours or days"):
        When()


def test_bound_needs_something_and_order() -> None:
    with pytest.raises(ValidationError, match="needs min, max"):
        ArgBound()
    with pytest.raises(ValidationError, match="min must not exceed max"):
        ArgBound(min=5, max=1)


def test_deny_rule_without_tools_covers_all() -> None:
    rule = Rule(id="no", effect="deny")
    assert rule.applies_to("demo_echo") and rule.applies_to("anything")
    assert not Rule(id="yes", tools=["demo_echo"]).applies_to("demo_list")


def test_star_must_be_alone_and_tools_unique() -> None:
    with pytest.raises(ValidationError, match="only entry"):
        Rule(id="no", effect="deny", tools=["*", "demo_echo"])
    with pytest.raises(ValidationError, match="listed twice"):
        Rule(id="no", tools=["demo_echo", "demo_echo"])


def test_empty_who_list_is_refused() -> None:
    with pytest.raises(ValidationError):
        Rule.model_validate({"id": "r", "tools": ["t"], "who": {"groups": []}})
