"""The result scrubber: every configured secret, in every form an echo carries it."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.scrub import REDACTED, Scrubber
from gateway.upstream import Upstreams, UpstreamSettings

SECRET = "k3y+with/odd=chars&more?yes"
PASSWORD = "correct horse battery staple"


def _forms(secret: str, user: str = "hermes") -> dict[str, str]:
    pair = f"{user}:{secret}"
    return {
        "raw": secret,
        "bearer header": f"Bearer {secret}",
        "url-encoded": quote(secret, safe=""),
        "form-encoded": quote_plus(secret),
        "base64": base64.b64encode(secret.encode()).decode(),
        "base64 url-safe": base64.urlsafe_b64encode(secret.encode()).decode(),
        "base64 unpadded": base64.b64encode(secret.encode()).decode().rstrip("="),
        "basic pair": pair,
        "basic header": "Basic " + base64.b64encode(pair.encode()).decode(),
        "inside base64 at offset 1": base64.b64encode(b"x" + secret.encode()).decode(),
        "inside base64 at offset 2": base64.b64encode(b"xy" + secret.encode() + b"z").decode(),
    }


@pytest.mark.parametrize("form", list(_forms(SECRET)))
def test_every_form_of_a_secret_is_redacted_in_a_result(form: str) -> None:
    scrubber = Scrubber([("upstream:lab", SECRET), ("upstream:lab", f"hermes:{SECRET}")])
    echoed = _forms(SECRET)[form]
    result = {"items": [{"id": "1", "note": f"debug: got {echoed}!"}], "partial": False}
    clean, found = scrubber.scan(result)
    assert found == ["upstream:lab"]
    assert SECRET not in repr(clean) and echoed not in repr(clean)
    assert REDACTED in clean["items"][0]["note"]
    assert clean["items"][0]["id"] == "1" and clean["partial"] is False


@pytest.mark.parametrize("mark", ["", "…", "..."])
def test_a_secret_cut_short_at_the_end_of_a_string_is_redacted(mark: str) -> None:
    scrubber = Scrubber([("upstream:lab", SECRET)])
    clean, found = scrubber.scan({"state": f"debug: Bearer {SECRET[:12]}{mark}"})
    assert found == ["upstream:lab"]
    assert clean == {"state": f"debug: Bearer {REDACTED}{mark}"}
    cut_b64 = base64.b64encode(SECRET.encode()).decode()[:10]
    assert scrubber.scan({"v": "x " + cut_b64 + mark})[1] == ["upstream:lab"]


def test_a_short_piece_of_a_secret_in_ordinary_text_is_left_alone() -> None:
    scrubber = Scrubber([("upstream:lab", SECRET)])
    text = {"v": f"the word {SECRET[:7]} and {SECRET[:12]} mid-sentence"}
    assert scrubber.scan(text) == (text, [])


def test_a_short_secret_is_still_redacted_and_the_operator_is_warned(
    caplog: pytest.LogCaptureFixture,
) -> None:
    scrubber = Scrubber([("upstream:weak", "pw1")])
    assert scrubber.scan({"v": "user pw1"}) == ({"v": f"user {REDACTED}"}, ["upstream:weak"])
    assert "upstream:weak: secret shorter than 8 characters" in caplog.text
    assert "pw1" not in caplog.text


def test_keys_and_nested_lists_are_scrubbed_and_labels_name_the_source() -> None:
    scrubber = Scrubber([("upstream:a", SECRET), ("postgres.password_file", PASSWORD)])
    result = {"headers": {SECRET: ["x", [f"pw={quote_plus(PASSWORD)}"]]}, "n": 3}
    clean, found = scrubber.scan(result)
    assert found == ["postgres.password_file", "upstream:a"]
    assert clean == {"headers": {REDACTED: ["x", [f"pw={REDACTED}"]]}, "n": 3}


def test_a_clean_result_is_returned_unchanged_and_no_secrets_costs_nothing() -> None:
    result: dict[str, Any] = {"items": [{"title": "nothing to see"}]}
    assert Scrubber([("upstream:a", SECRET)]).scan(result) == (result, [])
    empty = Scrubber(())
    assert not empty.active
    assert empty.scan(result)[0] is result
    assert empty.text("Bearer x") == "Bearer x"


def test_text_scrubbing_for_causes_and_messages() -> None:
    scrubber = Scrubber([("upstream:a", SECRET)])
    assert scrubber.text(f"HTTP 500: Authorization: Bearer {SECRET}") == (
        f"HTTP 500: Authorization: Bearer {REDACTED}"
    )


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    secret=st.text(st.characters(min_codepoint=0x21, max_codepoint=0x2FFF), min_size=8),
    before=st.text(max_size=12),
    after=st.text(max_size=12),
)
def test_no_generated_secret_survives_in_any_form(secret: str, before: str, after: str) -> None:
    scrubber = Scrubber([("upstream:a", secret), ("upstream:a", f"hermes:{secret}")])
    for form in _forms(secret).values():
        clean, found = scrubber.scan({"v": before + form + after})
        assert found == ["upstream:a"]
        assert secret not in clean["v"]
        assert base64.b64encode(secret.encode()).decode().rstrip("=") not in clean["v"]


def test_upstreams_offer_every_credential_form(tmp_path: Path) -> None:
    (tmp_path / "pw").write_text(PASSWORD + "\n")
    (tmp_path / "token").write_text(SECRET)
    settings = {
        "kuma": UpstreamSettings.model_validate(
            {
                "base_url": "http://127.0.0.1:1",
                "auth": {"scheme": "basic", "username": "", "secret_file": tmp_path / "pw"},
            }
        ),
        "influx": UpstreamSettings.model_validate(
            {
                "base_url": "http://127.0.0.1:2",
                "auth": {"scheme": "token", "secret_file": tmp_path / "token"},
            }
        ),
        "open": UpstreamSettings.model_validate({"base_url": "http://127.0.0.1:3"}),
    }
    upstreams = Upstreams(settings)
    upstreams.build_all()
    assert sorted(upstreams.secrets()) == [
        ("upstream:influx", SECRET),
        ("upstream:kuma", f":{PASSWORD}"),
        ("upstream:kuma", PASSWORD),
    ]
