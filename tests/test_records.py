"""Records: validation, canonical equality, and the plain and salted leaf encodings."""

from __future__ import annotations

import hashlib
import hmac
import math
import struct
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from algo_tracer.errors import InputError
from algo_tracer.format.records import (
    CANONICAL_NAN_BITS,
    MAX_NAME_BYTES,
    MAX_TEXT_BYTES,
    SALT_BYTES,
    NoteRecord,
    RecordKind,
    derive_salt,
    encode_leaf,
    new_salt,
)

METRIC = RecordKind.METRIC
TEXT = RecordKind.TEXT


def metric(seq: int = 0, name: str = "loss", step: int = 1, value: float = 0.25) -> NoteRecord:
    return NoteRecord(seq=seq, kind=METRIC, name=name, step=step, value=value)


names = st.text(min_size=1, max_size=40).filter(
    lambda s: (
        0 < len(s.encode("utf-8", "surrogatepass")) <= MAX_NAME_BYTES
        and not any(0xD800 <= ord(c) <= 0xDFFF for c in s)
    )
)
uint63 = st.integers(min_value=0, max_value=2**63 - 1)
records = st.one_of(
    st.builds(NoteRecord, seq=uint63, kind=st.just(METRIC), name=names, step=uint63,
              value=st.floats(allow_nan=True, allow_infinity=True)),
    st.builds(NoteRecord, seq=uint63, kind=st.just(TEXT), name=names, step=uint63,
              value=st.text(max_size=100).filter(
                  lambda s: not any(0xD800 <= ord(c) <= 0xDFFF for c in s))),
)  # fmt: skip


# --- leaf layout ----------------------------------------------------------------------------------


def test_metric_leaf_is_the_documented_byte_layout() -> None:
    leaf = encode_leaf(metric(seq=7, name="acc", step=300, value=0.5))
    expected = (
        b"\x01\x00"  # version 1, plain
        + (7).to_bytes(8, "big")
        + b"\x01"  # METRIC
        + (300).to_bytes(8, "big")
        + b"\x03acc"
        + bytes.fromhex("3fe0000000000000")  # 0.5 as float64 big-endian
    )
    assert leaf == expected


def test_text_leaf_carries_a_two_byte_length_and_utf8() -> None:
    record = NoteRecord(seq=1, kind=TEXT, name="optimizer", step=0, value="adamw-β2")
    text = "adamw-β2".encode()
    assert encode_leaf(record) == (
        b"\x01\x00" + (1).to_bytes(8, "big") + b"\x02" + bytes(8)
        + b"\x09optimizer" + len(text).to_bytes(2, "big") + text
    )  # fmt: skip


def test_salted_leaf_inserts_mode_one_and_the_salt_before_the_fields() -> None:
    record = metric()
    salt = bytes(range(16))
    plain = encode_leaf(record)
    salted = encode_leaf(record, salt=salt)
    assert salted == b"\x01\x01" + salt + plain[2:]


@given(records, st.binary(min_size=16, max_size=16), st.binary(min_size=16, max_size=16))
def test_salted_leaves_differ_per_salt_and_from_the_plain_leaf(
    record: NoteRecord, salt_a: bytes, salt_b: bytes
) -> None:
    plain = encode_leaf(record)
    a = encode_leaf(record, salt=salt_a)
    b = encode_leaf(record, salt=salt_b)
    assert a != plain and b != plain
    assert (a == b) == (salt_a == salt_b)


@given(records, records)
def test_leaves_are_equal_exactly_when_records_are_equal(r1: NoteRecord, r2: NoteRecord) -> None:
    assert (encode_leaf(r1) == encode_leaf(r2)) == (r1 == r2)
    if r1 == r2:
        assert hash(r1) == hash(r2)


@pytest.mark.parametrize("salt", [b"", bytes(15), bytes(17), "0" * 32])
def test_a_salt_that_is_not_16_bytes_is_rejected(salt: object) -> None:
    with pytest.raises(InputError, match="exactly 16 bytes"):
        encode_leaf(metric(), salt=salt)  # type: ignore[arg-type]


def test_encode_leaf_rejects_something_that_is_not_a_record() -> None:
    with pytest.raises(InputError, match="needs a NoteRecord"):
        encode_leaf(("loss", 1.0))  # type: ignore[arg-type]


# --- floats ---------------------------------------------------------------------------------------


def test_every_nan_is_stored_as_the_one_canonical_nan() -> None:
    odd_nan = struct.unpack(">d", bytes.fromhex("fff0000000000001"))[0]
    assert math.isnan(odd_nan)
    a, b = metric(value=math.nan), metric(value=odd_nan)
    assert a == b and hash(a) == hash(b)
    assert encode_leaf(a)[-8:] == CANONICAL_NAN_BITS.to_bytes(8, "big")
    assert encode_leaf(a) == encode_leaf(b)


def test_infinities_are_recorded_as_ieee_754() -> None:
    assert encode_leaf(metric(value=math.inf))[-8:] == bytes.fromhex("7ff0000000000000")
    assert encode_leaf(metric(value=-math.inf))[-8:] == bytes.fromhex("fff0000000000000")


def test_negative_zero_is_a_different_record_from_zero() -> None:
    assert metric(value=-0.0) != metric(value=0.0)
    assert encode_leaf(metric(value=-0.0)) != encode_leaf(metric(value=0.0))


def test_exact_integers_and_other_reals_become_floats() -> None:
    assert metric(value=3).value == 3.0 and isinstance(metric(value=3).value, float)
    assert metric(value=2**53).value == float(2**53)
    assert metric(value=Fraction(1, 4)).value == 0.25  # type: ignore[arg-type]


def test_an_integer_that_a_float64_cannot_hold_exactly_is_rejected() -> None:
    with pytest.raises(InputError, match="cannot be stored exactly as a float64"):
        metric(value=2**53 + 1)
    with pytest.raises(InputError, match="cannot be stored exactly"):
        metric(value=10**400)


@pytest.mark.parametrize("value", [True, "0.5", None, 1j])
def test_a_metric_value_that_is_not_a_real_number_is_rejected(value: object) -> None:
    with pytest.raises(InputError, match="needs a real number"):
        metric(value=value)  # type: ignore[arg-type]


# --- validation -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("seq", -1, "seq -1 is out of range"),
        ("seq", 2**63, "out of range"),
        ("seq", 1.0, "seq must be an int"),
        ("seq", True, "seq must be an int"),
        ("step", -5, "step -5 is out of range"),
        ("step", 2**63, "out of range"),
        ("step", "3", "step must be an int"),
    ],
)
def test_seq_and_step_must_be_ints_in_0_to_2_pow_63(
    field: str, value: object, message: str
) -> None:
    args: dict[str, object] = {"seq": 0, "kind": METRIC, "name": "loss", "step": 0, "value": 1.0}
    args[field] = value
    with pytest.raises(InputError, match=message):
        NoteRecord(**args)  # type: ignore[arg-type]


def test_the_largest_seq_and_step_are_accepted() -> None:
    record = metric(seq=2**63 - 1, step=2**63 - 1)
    assert encode_leaf(record)[2:10] == bytes.fromhex("7fffffffffffffff")


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("", "name is empty"),
        ("x" * (MAX_NAME_BYTES + 1), "256 UTF-8 bytes, above 255"),
        ("é" * 128, "256 UTF-8 bytes"),
        ("bad\udc80", "not valid UTF-8"),
        (b"loss", "name must be a str"),
    ],
)
def test_bad_names_are_rejected_with_the_reason(name: object, message: str) -> None:
    with pytest.raises(InputError, match=message):
        metric(name=name)  # type: ignore[arg-type]


def test_a_name_of_exactly_255_utf8_bytes_is_accepted() -> None:
    assert metric(name="é" * 127 + "x").name.encode() == "é".encode() * 127 + b"x"


def test_text_values_are_limited_to_512_utf8_bytes() -> None:
    NoteRecord(seq=0, kind=TEXT, name="note", step=0, value="x" * MAX_TEXT_BYTES)
    with pytest.raises(InputError, match="513 UTF-8 bytes, above 512"):
        NoteRecord(seq=0, kind=TEXT, name="note", step=0, value="x" * (MAX_TEXT_BYTES + 1))


@pytest.mark.parametrize(("value", "message"), [(0.5, "needs a str value"), ("a\ud800", "UTF-8")])
def test_bad_text_values_are_rejected(value: object, message: str) -> None:
    with pytest.raises(InputError, match=message):
        NoteRecord(seq=0, kind=TEXT, name="tag", step=0, value=value)  # type: ignore[arg-type]


def test_kind_accepts_the_enum_number_and_rejects_unknown_kinds() -> None:
    assert NoteRecord(seq=0, kind=1, name="loss", step=0, value=1.0).kind is METRIC  # type: ignore[arg-type]
    with pytest.raises(InputError, match=r"unknown record kind 9(.|\n)*METRIC=1, TEXT=2"):
        NoteRecord(seq=0, kind=9, name="loss", step=0, value=1.0)  # type: ignore[arg-type]


def test_records_are_immutable() -> None:
    record = metric()
    with pytest.raises(AttributeError):
        record.value = 1.0  # type: ignore[misc]


# --- salts ----------------------------------------------------------------------------------------


def test_new_salt_is_16_random_bytes() -> None:
    salts = {new_salt() for _ in range(64)}
    assert len(salts) == 64 and all(len(s) == SALT_BYTES for s in salts)


def test_derive_salt_is_hmac_sha256_of_tag_and_seq_truncated_to_16_bytes() -> None:
    key = bytes(range(32))
    expected = hmac.new(key, b"algotrace/v1/salt" + (5).to_bytes(8, "big"), hashlib.sha256)
    assert derive_salt(key, 5) == expected.digest()[:16]
    assert derive_salt(key, 5) != derive_salt(key, 6)


def test_derive_salt_needs_a_32_byte_key_and_a_valid_seq() -> None:
    with pytest.raises(InputError, match="exactly 32 bytes"):
        derive_salt(bytes(16), 0)
    with pytest.raises(InputError, match="seq -1 is out of range"):
        derive_salt(bytes(32), -1)
