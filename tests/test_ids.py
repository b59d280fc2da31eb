"""Experiment ids in base58: the `base58` package's codec gives exactly the texts algo-tracer has
always printed (the vectors below were made by the hand-written codec it replaced)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from algo_tracer.errors import InputError
from algo_tracer.format.ids import format_id, parse_id

VECTORS = Path(__file__).parent / "vectors"

# (hex, base58) printed by the hand-written codec of algo_tracer/format/ids.py before issue 22.
KNOWN = [
    ("00" * 32, "1" * 32),
    ("00" + "ff" * 31, "14uQeVj5tqViQh7yWWGStvkEG1Zmhx6uasJtWCJziofL"),
    ("000000" + bytes(range(1, 30)).hex(), "1113ev7KArKmSeNWXoiX44de25oM4BcoUZHC9RfTFS"),
    ("ff" * 32, "JEKNVnkbo3jma5nREBBJCDoXFVeKkD56V3xKrvRmWxFG"),
    (bytes(range(32)).hex(), "1thX6LZfHDZZKUs92febYZhYRcXddmzfzF2NvTkPNE"),
    ("01" + "00" * 31, "4uQeVj5tqViQh7yWWGStvkEG1Zmhx6uasJtWCJziofM"),
]


@pytest.mark.parametrize(("raw_hex", "text"), KNOWN)
def test_ids_print_and_parse_as_before_leading_zero_bytes_included(raw_hex, text):
    raw = bytes.fromhex(raw_hex)
    assert format_id(raw) == text
    assert parse_id(text) == raw
    assert parse_id(raw_hex) == raw


@pytest.mark.parametrize("name", ["bundle-localnet.json", "bundle-localnet-v2.json"])
def test_the_ids_in_the_committed_bundles_still_round_trip(name):
    text = json.loads((VECTORS / name).read_text())["experiment_id"]
    assert format_id(parse_id(text)) == text


@given(st.binary(min_size=32, max_size=32))
def test_any_id_round_trips(raw):
    assert parse_id(format_id(raw)) == raw


@pytest.mark.parametrize(("text", "message"), [
    ("", "is not base58"),
    ("0OIl" + "2" * 40, "bad characters: 0IOl"),
    ("é" * 44, "bad characters: é"),
    ("2" * 20, "decodes to 14 bytes, not 32"),
    ("1" * 33, "decodes to 33 bytes, not 32"),
])
def test_a_bad_id_names_what_is_wrong(text, message):
    with pytest.raises(InputError, match=message):
        parse_id(text)
