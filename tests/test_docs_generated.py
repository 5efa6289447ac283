"""The docs' reference tables are generated from the code (``make docs``) and stay so.

A new setting, reason code, error code or CLI option that is not documented, or a generated
table edited by hand or left stale after a code change, fails here.
"""

from __future__ import annotations

import pytest

from gateway import errors
from gateway.auth.reasons import AuthReason
from gateway.policy.reasons import Reason
from gateway.reference.catalog import AUTH_REASONS, POLICY_REASONS
from gateway.reference.notes import SETTING_NOTES
from gateway.reference.settings import settings
from gateway.reference.splice import documents, render, stale
from gateway.reference.tables import TABLES, emitted_reasons, error_codes


def test_generated_tables_match_the_code() -> None:
    assert stale() == [], "run `make docs` and commit the result"


def test_every_table_is_used_once() -> None:
    text = "".join(p.read_text("utf-8") for p in documents())
    for name in TABLES:
        assert text.count(f"<!-- BEGIN GENERATED: {name} -->") == 1, name


def test_an_unknown_block_is_an_error() -> None:
    with pytest.raises(KeyError):
        render("<!-- BEGIN GENERATED: nope -->\n<!-- END GENERATED: nope -->")


def test_every_emitted_policy_reason_is_described_and_nothing_else() -> None:
    assert set(POLICY_REASONS) == emitted_reasons()


def test_every_auth_reason_is_described() -> None:
    assert set(AUTH_REASONS) == {r.value for r in AuthReason}


def test_every_reason_is_emitted() -> None:
    assert {r.value for r in Reason} == emitted_reasons()


def test_the_catalog_holds_every_agent_facing_failure_once() -> None:
    rows = errors.catalog()
    assert all(f.hint.strip() and f.message.strip() for f in rows)
    assert {f.audit_reason for f in rows} - {None} <= {r.value for r in Reason}
    assert len({f.code for f in rows}) == len(rows) == len(error_codes())
    # every GatewayError subclass (but the abstract upstream base) is a catalog entry
    import inspect

    classes = {
        cls
        for _, cls in inspect.getmembers(errors, inspect.isclass)
        if issubclass(cls, errors.GatewayError) and cls is not errors.UpstreamFailure
    }
    assert classes == set(errors.CATALOG)


def test_start_up_errors_are_not_agent_facing() -> None:
    assert not issubclass(errors.ConfigError, errors.GatewayError)
    assert issubclass(errors.ConfigError, errors.StartupError)


def test_every_setting_has_a_meaning() -> None:
    rows = settings()
    assert [s.key for s in rows if not s.meaning.strip()] == []
    assert set(SETTING_NOTES) <= {s.key for s in rows}


def test_the_default_auth_mode_is_the_codes() -> None:
    (mode,) = [s for s in settings() if s.key == "auth.mode"]
    assert mode.default == "`oidc`"


def test_readme_names_every_command() -> None:
    import argparse
    import re

    from gateway.cli import build_parser
    from tests.support.live import ROOT

    readme = (ROOT / "README.md").read_text("utf-8")
    line = readme.split("Operator commands:", 1)[1].split("\n\n", 1)[0]
    named = {
        m.group(1): set((m.group(2) or "").strip().split("|")) - {""}
        for m in re.finditer(r"`labgate (\w[\w-]*)(?: ([\w|]+))?`", line)
    }
    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    for name, parser in sub.choices.items():
        assert name in named, name
        nested = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        if nested:
            assert set(nested[0].choices) == named[name], name
