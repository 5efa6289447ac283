"""Pins: digests over the pinned parts of a definition, files that refuse hand edits."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from capabilities.mcp_upstream.pins import (
    Pin,
    PinSet,
    definition_digest,
    load_pins,
    pins_path,
    write_pins,
)
from gateway.errors import PolicyError

DEFINITION = {
    "name": "echo",
    "title": None,
    "description": "Echoes.",
    "input_schema": {"type": "object", "properties": {"m": {"type": "string"}}},
    "output_schema": None,
}


@pytest.mark.parametrize("part", ["name", "title", "description", "input_schema", "output_schema"])
def test_every_pinned_part_changes_the_digest(part: str) -> None:
    changed = {**DEFINITION, part: {"type": "object"} if "schema" in part else "other"}
    assert definition_digest(changed) != definition_digest(DEFINITION)


def test_key_order_does_not_change_the_digest() -> None:
    reordered = dict(reversed(list(DEFINITION.items())))
    assert definition_digest(reordered) == definition_digest(DEFINITION)


def test_round_trip_and_refusals(tmp_path: Path) -> None:
    path = pins_path(tmp_path, "lab")
    assert load_pins(path, "lab").tools == {}  # nothing accepted yet
    pin = Pin.from_definition("lab_echo", DEFINITION, None)
    write_pins(path, PinSet("lab", {"lab_echo": pin}))
    assert load_pins(path, "lab").tools["lab_echo"] == pin
    with pytest.raises(PolicyError, match="not 'other'"):
        load_pins(path, "other")
    doc = json.loads(path.read_text())
    doc["tools"]["lab_echo"]["input_schema"] = {"type": "object"}
    path.write_text(json.dumps(doc))
    with pytest.raises(PolicyError, match="sha256 does not match"):
        load_pins(path, "lab")
    text = json.dumps(doc)
    twice = text.replace('"tools": {', '"tools": {"lab_echo": {}, ', 1)
    path.write_text(twice)
    with pytest.raises(PolicyError, match="'lab_echo' appears twice"):
        load_pins(path, "lab")
    path.write_text("{not json")
    with pytest.raises(PolicyError, match="not valid UTF-8 JSON"):
        load_pins(path, "lab")
